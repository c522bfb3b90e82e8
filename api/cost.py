"""The cost report over HTTP (`services.cost_report`): `GET /admin/tenants/{id}/usage` for operators and
`GET /api/v1/{customer_id}/usage` for the tenant itself (any valid key of the tenant: it is the tenant's own
bill, not data of a processor, so no `read:` scope is needed)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from api.rest_rows import json_response
from api.state import AppState, app_state
from services.cost_report import cost_report

USAGE_DESCRIPTION = "Cost report: rows and bytes hot and cold, requests this month, estimated monthly cost"


async def usage_of(state: AppState, tenant_id: str) -> Response:
    # This replica's tallies not yet written count too (other replicas' within their flush interval).
    await state.usage.flush()
    report: dict[str, Any] = await cost_report(state.engine, state.registry, state.settings, tenant_id)
    return json_response(report)


async def tenant_usage(request: Request) -> Response:
    principal = request.scope["state"]["principal"]
    return await usage_of(app_state(request), principal.tenant.id)
