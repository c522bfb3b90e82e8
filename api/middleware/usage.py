"""Usage tracking: one count per accepted tenant request, by kind (rest, graphql, websocket)."""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from api.state import app_state


def request_kind(scope: Scope) -> str:
    if scope["type"] == "websocket":
        return "websocket"
    return "graphql" if scope["path"].rstrip("/").endswith("/graphql") else "rest"


class UsageMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        principal = scope.get("state", {}).get("principal") if scope["type"] != "lifespan" else None
        if principal is not None:
            app_state(scope["app"]).usage.record(principal.tenant.id, principal.key_id, request_kind(scope))
        await self.app(scope, receive, send)
