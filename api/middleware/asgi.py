"""Small helpers shared by the pure ASGI middleware: error replies, client addresses, credentials."""

from __future__ import annotations

from starlette.types import Receive, Scope, Send

from api.errors import error_response, rendered_error
from core.errors import FlowError


async def send_error(scope: Scope, receive: Receive, send: Send, error: FlowError) -> None:
    """Refuse a request with `error`: its REST envelope and headers (HTTP, rendered like every other error),
    or a close with a policy code (WebSocket)."""
    if scope["type"] == "websocket":
        # 1008 = policy violation; the reason carries the error code for clients that read it.
        await send({"type": "websocket.close", "code": 1008, "reason": rendered_error(error, scope).code})
        return
    await error_response(error, scope)(scope, receive, send)


def client_ip(scope: Scope) -> str | None:
    # uvicorn's --proxy-headers (with --forwarded-allow-ips) rewrites scope["client"] behind a trusted proxy.
    client = scope.get("client")
    return client[0] if client else None


def header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return str(value.decode("latin-1"))
    return None


def bearer_token(scope: Scope) -> str:
    """The credential of an `Authorization: Bearer <token>` header, or "" when there is none."""
    authorization = header(scope, b"authorization") or ""
    scheme, _, token = authorization.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""
