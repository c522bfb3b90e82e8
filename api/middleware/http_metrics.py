"""HTTP request metrics: a count and a duration per request, by route template, method and status, into the
app's registry (`api.app_metrics`)."""

from __future__ import annotations

from starlette.types import Scope

from api.middleware.asgi import AfterResponseMiddleware
from api.state import app_state


class HttpMetricsMiddleware(AfterResponseMiddleware):
    def observe(self, scope: Scope, route: str, status: int, seconds: float) -> None:
        app_state(scope["app"]).metrics.observe_request(route, scope["method"], status, seconds)
