"""Request ids: every HTTP response carries `X-Request-Id`, and every log line written while serving it.

The outermost middleware. A caller's (or a proxy's) `X-Request-Id` is kept when it is a sane value, 1-128
characters of ``[A-Za-z0-9._:-]``, so one id can follow a request across services; anything else is replaced
by a fresh id and never echoed (it would go into our headers and logs as the caller wrote it). The id is put in
``scope["state"]["request_id"]`` (the GraphQL masker's ``requestId`` and REST's 500 body read it there) and in
a context variable (log records read it there), and added to every response, errors and 404s included.
"""

from __future__ import annotations

import re
import uuid
from contextvars import ContextVar

from starlette.types import ASGIApp, Message, Receive, Scope, Send

HEADER = b"x-request-id"
_SANE = re.compile(r"[A-Za-z0-9._:-]{1,128}")

current_request_id: ContextVar[str | None] = ContextVar("obsrvr_request_id", default=None)
"""The id of the request being served in this context (None outside a request); log records carry it."""


def new_request_id() -> str:
    return uuid.uuid4().hex


def accepted_request_id(value: str | None) -> str:
    """The caller's id when it is sane, else a new one."""
    return value if value is not None and _SANE.fullmatch(value) else new_request_id()


def request_id_of(scope: Scope) -> str:
    """The request's id, as the middleware set it (a new one for a scope that never passed it)."""
    state = scope.setdefault("state", {})
    request_id = state.get("request_id")
    if not isinstance(request_id, str):
        request_id = state["request_id"] = new_request_id()
    return request_id


def _incoming(scope: Scope) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == HEADER:
            return str(value.decode("latin-1"))
    return None


class RequestIdMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        request_id = accepted_request_id(_incoming(scope))
        scope.setdefault("state", {})["request_id"] = request_id
        encoded = request_id.encode()

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                # Ours replaces any the app set, so a response carries exactly one.
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != HEADER]
                message = {**message, "headers": [*headers, (HEADER, encoded)]}
            await send(message)

        token = current_request_id.set(request_id)
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            current_request_id.reset(token)
