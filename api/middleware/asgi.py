"""Small helpers shared by the pure ASGI middleware: error replies, client addresses, credentials, the
route a request took and the status it got."""

from __future__ import annotations

import time

from starlette.routing import Match, Mount, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import error_response, rendered_error
from core.errors import FlowError


async def send_error(scope: Scope, receive: Receive, send: Send, error: FlowError) -> None:
    """Refuse a request with `error`: its REST envelope and headers (HTTP, rendered like every other error; a
    WebSocket handshake too where the server supports ASGI's denial response, else a close with a policy
    code)."""
    if scope["type"] == "websocket" and "websocket.http.response" not in scope.get("extensions", {}):
        # A server without the denial-response extension can only refuse the upgrade with a close before
        # accepting (its handshake answer is a bare 403): 1008 = policy violation, the reason names the code.
        await send({"type": "websocket.close", "code": 1008, "reason": rendered_error(error, scope).code})
        return
    # HTTP, and a WebSocket handshake refused with a real HTTP answer (status, headers and body).
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


UNMATCHED_ROUTE = "unmatched"
"""The route label of a path no route knows (404s, probes): one value, whatever the path."""


def route_template(scope: Scope, root_path: str) -> str:
    """The template of the route that served the request (`/api/v1/{customer_id}/<route>`), for
    metrics and logs; `root_path` is the scope's as the request came in (a Mount changes it on the way).

    Routed requests name their route (below a Mount, the Mount's path plus its route's); a request refused
    before routing (auth, limits) names the top-level route its path matches, or the Mount's path with ``/*``.
    Computed once per request, after the response.
    """
    state = scope.setdefault("state", {})
    known = state.get("route_template")
    if isinstance(known, str):
        return known
    served = scope.get("route")
    probe = {**scope, "root_path": root_path}
    template = UNMATCHED_ROUTE
    for route in getattr(scope.get("app"), "routes", ()):
        match, _ = route.matches(probe)
        if match is Match.NONE:
            continue
        if isinstance(route, Mount):
            if served is None:
                template = f"{route.path}/*"
            elif served is not route and isinstance(served, Route):
                template = route.path + served.path
            # else: the Mount's router found nothing (a 404 inside it): unmatched
        elif isinstance(route, Route):
            template = route.path
        break
    state["route_template"] = template
    return template


class ResponseWatch:
    """What a middleware learns of the response it passes on: its status (500 until one is sent: an exception
    escaped and the outermost handler answers) and how long the request took."""

    def __init__(self, send: Send) -> None:
        self._send = send
        self.status = 500
        self.started = time.perf_counter()

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
        await self._send(message)

    def seconds(self) -> float:
        return time.perf_counter() - self.started


class AfterResponseMiddleware:
    """Base of the middleware that act once per HTTP request, after it is answered (or failed): `observe` gets
    the route template, the status and the duration."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        root_path = scope.get("root_path", "")
        watch = ResponseWatch(send)
        try:
            await self.app(scope, receive, watch.send)
        finally:
            self.observe(scope, route_template(scope, root_path), watch.status, watch.seconds())

    def observe(self, scope: Scope, route: str, status: int, seconds: float) -> None:
        raise NotImplementedError
