"""The access log: one line per HTTP request, written by us (uvicorn's own access log is off).

Fields (JSON with `OBSRVR_LOG_FORMAT=json`): `request_id`, `tenant` (when a key was accepted), `route` (the
template, as in metrics), `path`, `method`, `status`, `duration_ms` and `rows` (data rows returned, as the REST
list pages and GraphQL count them in ``scope["state"]["rows"]``; null otherwise).
"""

from __future__ import annotations

import logging

from starlette.types import Scope

from api.middleware.asgi import AfterResponseMiddleware

log = logging.getLogger("obsrvr_flow.access")


class AccessLogMiddleware(AfterResponseMiddleware):
    def observe(self, scope: Scope, route: str, status: int, seconds: float) -> None:
        state = scope.get("state", {})
        principal = state.get("principal")
        duration_ms = round(seconds * 1000, 2)
        # The message holds only values we chose (the route template, not the raw path): text logs cannot be
        # forged through a path; the raw path goes in its own (JSON-escaped) field.
        log.info(
            "%s %s %d %.2fms",
            scope["method"],
            route,
            status,
            duration_ms,
            extra={
                "request_id": state.get("request_id"),
                "tenant": principal.tenant.id if principal is not None else None,
                "route": route,
                "path": scope.get("path"),
                "method": scope["method"],
                "status": status,
                "duration_ms": duration_ms,
                "rows": state.get("rows"),
            },
        )
