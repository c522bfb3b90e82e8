"""Admin routes over stored history for one webhook endpoint: ``POST .../backfill`` records the stored rows of
its events from ``from_ledger`` (to ``to_ledger``, default the newest stored) into its outbox with the ids they
would have had live, as a ``backfill_webhook`` job on the main queue (202 with the job id)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from api.admin import _audit, _checked, _json_fields
from api.admin_webhooks import ONE, _endpoint
from api.rest_rows import json_response
from services.webhooks.endpoints import queue_backfill
from services.webhooks.operations import ledger_range


async def backfill_route(request: Request) -> Response:
    state, endpoint = await _endpoint(request)
    first, last = ledger_range(await _json_fields(request, state, {"from_ledger", "to_ledger"}))
    backfill = await queue_backfill(state.backends.jobs, endpoint.id, first, last)
    await _audit(
        request, state, "webhook.backfill_queued", endpoint.tenant_id, endpoint_id=endpoint.id,
        from_ledger=first, to_ledger=last, job_id=backfill["job_id"],
    )  # fmt: skip
    return json_response({"backfill": backfill}, status=202)


routes = [Route(ONE + "/backfill", _checked(backfill_route), methods=["POST"])]
