"""503 `database_unavailable` for a request that meets a database outage (the server down or restarting, or not
answering within the connect timeout), wherever it meets it: a route, the key lookup, an admin action.

The error carries `Retry-After`; the engine's pool drops dead connections (a ping on checkout, invalidation on
disconnect), so requests succeed again as soon as the database is back, without a restart. An outage is logged
when it starts and then at most once per `LOG_EVERY_SECONDS` with the number of requests refused since (not one
line per request); each refused request is in the access log and the request metrics with its 503.

A write SQLite refused for now (`storage.db.write_conflict`: the embedded mode's one writer at a time) is a 503
`database_busy` with `Retry-After: 1` rather than a 500; the short read-then-write transactions that meet it in
practice retry it themselves (`storage.db.retrying_write_conflicts`).
"""

from __future__ import annotations

import logging
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.middleware.asgi import send_error
from core.errors import DatabaseBusy, DatabaseUnavailable
from storage.db import database_unavailable, write_conflict

log = logging.getLogger("obsrvr_flow.api")

LOG_EVERY_SECONDS = 10.0


class DatabaseOutageMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._logged_at = float("-inf")
        self._refused_since_log = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watch(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, watch)
        except Exception as exc:
            if started:
                raise
            if write_conflict(exc):
                # SQLite (embedded mode) refusing a write while another connection commits: the request wrote
                # nothing and may simply be sent again; not a fault of ours to log as one, nor an outage.
                await send_error(scope, receive, send, DatabaseBusy())
                return
            if not database_unavailable(exc):
                raise
            self._note(exc)
            await send_error(scope, receive, send, DatabaseUnavailable())

    def _note(self, exc: BaseException) -> None:
        self._refused_since_log += 1
        now = time.monotonic()
        if now - self._logged_at < LOG_EVERY_SECONDS:
            return
        log.warning(
            "database unavailable (%s: %s): %d request(s) answered 503 database_unavailable since the last "
            "such line (logged at most every %.0f s)",
            type(exc).__name__,
            str(exc)[:200],
            self._refused_since_log,
            LOG_EVERY_SECONDS,
        )
        self._logged_at = now
        self._refused_since_log = 0
