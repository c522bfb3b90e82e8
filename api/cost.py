"""The cost report over HTTP (`services.cost_report`): `GET /admin/tenants/{id}/usage` for operators and
`GET /api/v1/{customer_id}/usage` for the tenant itself (any valid key of the tenant: it is the tenant's own
bill, not data of a processor, so no `read:` scope is needed).

A report is kept in the cache store (Redis, or the process's memory) for `cost_report_cache_seconds` under the
tenant's response prefix (a purge drops it with the tenant's cached responses): a tenant calling it in a loop
costs one computation a period, and the report says when it was computed (`generated_at`)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from api.response_cache import tenant_entries_prefix
from api.rest_rows import json_response
from api.state import AppState, app_state
from services.cost_report import cost_report
from storage.db import write_conflict

USAGE_DESCRIPTION = "Cost report: rows and bytes hot and cold, requests this month, estimated monthly cost"


def report_key(tenant_id: str) -> str:
    return tenant_entries_prefix(tenant_id) + "cost-report"


async def usage_of(state: AppState, tenant_id: str) -> Response:
    store = state.response_cache.store
    key = report_key(tenant_id)
    cached = await store.get(key)
    if cached is not None:
        return Response(cached, media_type="application/json")
    # This replica's tallies not yet written count too (other replicas' within their flush interval). In the
    # embedded mode SQLite may refuse the write for now (the live tail committing meanwhile): the tallies stay
    # buffered for the next flush and the report goes without them, rather than the request failing.
    try:
        await state.usage.flush()
    except Exception as exc:
        if not write_conflict(exc):
            raise
    report: dict[str, Any] = await cost_report(state.engine, state.registry, state.settings, tenant_id)
    response = json_response(report)
    await store.set(key, bytes(response.body), state.settings.cost_report_cache_seconds)
    return response


async def tenant_usage(request: Request) -> Response:
    principal = request.scope["state"]["principal"]
    return await usage_of(app_state(request), principal.tenant.id)
