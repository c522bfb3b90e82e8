"""Request ids: every HTTP response carries `X-Request-Id`, and every log line written while serving it.

The outermost middleware. A caller's (or a proxy's) `X-Request-Id` is kept when it is a sane value, 1-128
characters of ``[A-Za-z0-9._:-]``, so one id can follow a request across services; anything else is replaced
by a fresh id and never echoed (it would go into our headers and logs as the caller wrote it). The id is put in
``scope["state"]["request_id"]`` (the GraphQL masker's ``requestId`` and REST's 500 body read it there) and in
a context variable (log records read it there), and added to every response, errors and 404s included.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.request_ids import HEADER, accepted_request_id, current_request_id


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
