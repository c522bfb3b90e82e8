"""Admin routes over stored history for one webhook endpoint (`services.webhooks.history`):

- ``POST .../preview`` ``{"from_ledger", "to_ledger"?, "sample"?}``: how many messages the endpoint would have
  been sent for the stored rows of those ledgers, by event type, and the first few payloads (the exact bodies);
- ``POST .../backfill`` ``{"from_ledger", "to_ledger"?}``: record those rows into its outbox with the ids they
  would have had live, as a ``backfill_webhook`` job on the main queue (202 with the job id).

``to_ledger`` defaults to the newest stored ledger."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from api.admin import _audit, _checked, _json_fields
from api.admin_webhooks import ONE, _endpoint
from api.rest_rows import json_response
from core.errors import invalid_parameter
from services.webhooks.endpoints import queue_backfill
from services.webhooks.events import EventCatalogue
from services.webhooks.history import PREVIEW_SAMPLE, check_range, preview


async def backfill_route(request: Request) -> Response:
    state, endpoint = await _endpoint(request)
    body = await _json_fields(request, state, {"from_ledger", "to_ledger"})
    first, last = check_range(body.get("from_ledger"), body.get("to_ledger"))
    backfill = await queue_backfill(state.backends.jobs, endpoint.id, first, last)
    await _audit(
        request, state, "webhook.backfill_queued", endpoint.tenant_id, endpoint_id=endpoint.id,
        from_ledger=first, to_ledger=last, job_id=backfill["job_id"],
    )  # fmt: skip
    return json_response({"backfill": backfill}, status=202)


async def preview_route(request: Request) -> Response:
    state, endpoint = await _endpoint(request)
    body = await _json_fields(request, state, {"from_ledger", "to_ledger", "sample"})
    first, last = check_range(body.get("from_ledger"), body.get("to_ledger"))
    sample = body.get("sample", PREVIEW_SAMPLE)
    if isinstance(sample, bool) or not isinstance(sample, int):
        raise invalid_parameter("sample", "must be an integer")
    found = await preview(
        state.router, EventCatalogue.from_registry(state.registry), endpoint, first, last, sample=sample
    )
    return json_response({"preview": found.as_dict()})


routes = [
    Route(ONE + "/preview", _checked(preview_route), methods=["POST"]),
    Route(ONE + "/backfill", _checked(backfill_route), methods=["POST"]),
]
