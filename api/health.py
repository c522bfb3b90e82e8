"""`/healthz` (the process is up) and `/readyz` (database reachable, migrations at head, Redis if
configured)."""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from api.state import app_state
from storage.db import ping
from storage.migrate import current_revision, head_revision

log = logging.getLogger("obsrvr_flow.health")


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    state = app_state(request)
    checks: dict[str, str] = {}
    try:
        await ping(state.engine)
        checks["database"] = "ok"
        current, head = await current_revision(state.engine), head_revision()
        checks["migrations"] = (
            "ok"
            if current == head
            else f"at {current or 'nothing'}, head is {head}: run `obsrvr-flow migrate`"
        )
    except Exception as exc:  # readiness reports any failure by name rather than raising
        # The body is public: it names the failing part; the details (hosts, users) go to the log.
        log.warning("readiness: database check failed: %s: %s", type(exc).__name__, exc)
        checks["database"] = f"unreachable ({type(exc).__name__})"
        checks["migrations"] = "unknown (database unreachable)"
    if state.backends.redis is not None:
        try:
            await state.backends.redis.ping()
            checks["redis"] = "ok"
        except Exception as exc:
            log.warning("readiness: redis check failed: %s: %s", type(exc).__name__, exc)
            checks["redis"] = f"unreachable ({type(exc).__name__})"
    ready = all(v == "ok" for v in checks.values())
    return JSONResponse(
        {"status": "ready" if ready else "not_ready", "checks": checks}, status_code=200 if ready else 503
    )


routes = [Route("/healthz", healthz, methods=["GET"]), Route("/readyz", readyz, methods=["GET"])]
