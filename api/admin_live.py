"""Admin routes of the live tail (behind AdminAuthMiddleware, like every `/admin` path):
`GET /admin/live/{network}` and `PUT /admin/live/{network}/start` with `{"ledger": N, "backfill": true}`."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from api.admin import _audit, _json_object
from api.state import app_state
from core.errors import BadRequest
from services.live import live_status, network_of, set_live_start, start_ledger


async def live_status_route(request: Request) -> Response:
    state = app_state(request)
    network = network_of(request.path_params["network"])
    return JSONResponse(await live_status(state.engine, network))


async def set_live_start_route(request: Request) -> Response:
    """Make the network's live tail go on from `ledger` (see `services.live.set_live_start`)."""
    state = app_state(request)
    network = network_of(request.path_params["network"])
    body = await _json_object(request, state)
    unknown = set(body) - {"ledger", "backfill"}
    if unknown:
        raise BadRequest(f"unknown field(s): {', '.join(sorted(unknown))}", code="invalid_body")
    if "ledger" not in body:
        raise BadRequest("ledger: required", code="invalid_body")
    ledger = start_ledger(body["ledger"])
    backfill = body.get("backfill", True)
    if not isinstance(backfill, bool):
        raise BadRequest("backfill: must be true or false", code="invalid_body")
    view = await set_live_start(
        state.engine,
        state.registry,
        state.backends.jobs,
        network,
        ledger,
        chunk_size=state.settings.backfill_chunk_ledgers,
        backfill_gap=backfill,
    )
    await _audit(
        request, state, "live.start_set", None, network=network.value, ledger=ledger, backfill=backfill
    )
    return JSONResponse(view)


routes = [
    Route("/admin/live/{network}", live_status_route, methods=["GET"]),
    Route("/admin/live/{network}/start", set_live_start_route, methods=["PUT"]),
]
