"""Admin credential check for `/admin/...` (`api.admin_credentials`: a bearer JWT or the static admin token)."""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from api.middleware.asgi import bearer_token, client_ip, send_error
from api.paths import route_path
from api.state import app_state
from core.errors import Unauthorized
from storage.audit import AuditEntry

ADMIN_PREFIX = "/admin"


class AdminAuthMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = route_path(scope) if scope["type"] in ("http", "websocket") else ""
        if not (path == ADMIN_PREFIX or path.startswith(ADMIN_PREFIX + "/")):
            await self.app(scope, receive, send)
            return
        state = app_state(scope["app"])
        credential = bearer_token(scope)
        try:
            principal = state.admin.verify(credential)
        except Unauthorized as exc:
            await send_error(scope, receive, send, exc)
            await state.audit.record(
                AuditEntry(
                    action="admin.refused",
                    actor="anonymous",
                    method=scope.get("method", "WS"),
                    path=scope["path"],
                    status=exc.status,
                    client_ip=client_ip(scope),
                    detail={"reason": exc.code},
                )
            )
            return
        scope.setdefault("state", {})["admin"] = principal
        await self.app(scope, receive, send)
