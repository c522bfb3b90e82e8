"""`/healthz` (the process is up) and `/readyz` (database reachable, migrations at head, Redis if
configured).

`/readyz` answers 200 `"status": "ready"` when every check passes; 200 `"status": "degraded"` when only Redis
fails (the replica still serves reads: rate limits count per replica, the cache and pub/sub are skipped, jobs
cannot be queued), so it stays in a load balancer's rotation; 503 `"status": "not_ready"` when the database
or the migrations fail. The failing check is named in `checks` either way."""

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
    backends = state.backends
    if backends.redis is not None:
        try:
            await backends.redis.ping()
            checks["redis"] = "ok"
            if backends.breaker is not None:
                backends.breaker.succeeded()  # the probe shows Redis is back: stop falling back at once
        except Exception as exc:
            log.warning("readiness: redis check failed: %s: %s", type(exc).__name__, exc)
            checks["redis"] = f"unreachable ({type(exc).__name__}): serving without it"
    if any(v != "ok" for k, v in checks.items() if k != "redis"):
        status, code = "not_ready", 503
    elif checks.get("redis", "ok") != "ok":
        status, code = "degraded", 200
    else:
        status, code = "ready", 200
    return JSONResponse({"status": status, "checks": checks}, status_code=code)


routes = [Route("/healthz", healthz, methods=["GET"]), Route("/readyz", readyz, methods=["GET"])]
