"""Request bodies (and query strings) are bounded on every route: 413 `payload_too_large` beyond the limit.

The limit is `Settings.graphql_max_body_bytes` on a tenant's GraphQL endpoint and `Settings.max_body_bytes`
everywhere else (admin bodies; the REST routes take none). A declared `Content-Length` over the limit is refused
before a byte of the body is read; a body without one (chunked) is counted while the app reads it, and reading
stops at the limit: the receive call that crosses it raises `PayloadTooLarge`, which the app's error handlers
render like every error (in GraphQL's shape on the GraphQL path). A query string longer than the limit is refused
the same way (a GraphQL GET carries its document there). What the client still sends after a 413 is discarded
by the server (uvicorn reads it off a kept-alive connection, at most until its keep-alive timeout).

The innermost middleware: a refused request is authenticated, audited, rate limited and counted like any other,
so a client sending oversized bodies spends its own rate limit.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.middleware.asgi import header, send_error
from api.paths import is_graphql_path, route_path
from api.state import app_state
from core.errors import PayloadTooLarge


def body_limit(scope: Scope) -> int:
    """The largest body (and query string) accepted for this request's path."""
    settings = app_state(scope["app"]).settings
    if is_graphql_path(route_path(scope)):
        return settings.graphql_max_body_bytes
    return settings.max_body_bytes


def too_large(what: str, limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(f"{what} over {limit} bytes", details={"limit": limit})


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = body_limit(scope)
        if len(scope.get("query_string", b"")) > limit:
            await send_error(scope, receive, send, too_large("the query string is", limit))
            return
        declared = header(scope, b"content-length")
        length = declared.strip() if declared is not None else ""
        # More digits than any limit has is over it, without int() (which refuses over 4,300 digits).
        if length.isdigit() and (len(length) > 18 or int(length) > limit):
            await send_error(scope, receive, send, too_large("the request body is", limit))
            return

        received = 0

        async def bounded_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    # Nothing past the limit reaches the app; it answers 413 from this error.
                    raise too_large("the request body is", limit)
            return message

        await self.app(scope, bounded_receive, send)
