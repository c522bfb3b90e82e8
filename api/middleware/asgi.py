"""Small helpers shared by the pure ASGI middleware: JSON error replies and client addresses."""

from __future__ import annotations

import orjson
from starlette.types import Scope, Send


async def send_error(
    scope: Scope, send: Send, status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> None:
    """Reply with the error envelope (HTTP) or close the socket with a policy code (WebSocket)."""
    if scope["type"] == "websocket":
        # 1008 = policy violation; the reason carries the error code for clients that read it.
        await send({"type": "websocket.close", "code": 1008, "reason": code})
        return
    body = orjson.dumps({"error": {"code": code, "message": message}})
    raw_headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw_headers += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw_headers})
    await send({"type": "http.response.body", "body": body})


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


def route_path(scope: Scope) -> str:
    """The path as the router sees it: without the `root_path` a proxy or a parent Mount put in front.

    Access checks must match on this, or a service mounted under a prefix would skip them.
    """
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root) else path
