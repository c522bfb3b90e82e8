"""`GET /metrics`: the app's Prometheus series (`api.app_metrics`), refreshed from the database and Redis at
each scrape. It takes the admin credential or `OBSRVR_METRICS_TOKEN` as a bearer token; without one it is a 401.
"""

from __future__ import annotations

import hmac
from typing import TYPE_CHECKING

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from api.middleware.asgi import bearer_token
from api.state import app_state
from core.errors import Unauthorized

if TYPE_CHECKING:
    from api.state import AppState

_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="obsrvr-flow-metrics"'}


def check_access(state: AppState, credential: str) -> None:
    """`OBSRVR_METRICS_TOKEN` or the admin credential (static token or JWT); else a 401."""
    token = state.settings.metrics_token
    if token is None and not state.admin.configured:
        raise Unauthorized(
            "metrics are not configured: set OBSRVR_METRICS_TOKEN or an admin credential",
            code="metrics_not_configured",
            headers=_CHALLENGE,
        )
    if not credential:
        raise Unauthorized(
            "send a metrics or admin token as 'Authorization: Bearer <token>'", headers=_CHALLENGE
        )
    if token is not None and hmac.compare_digest(credential.encode(), token.get_secret_value().encode()):
        return
    if state.admin.configured:
        try:
            state.admin.verify(credential)
            return
        except Unauthorized:
            pass
    raise Unauthorized("invalid metrics credential", code="invalid_metrics_credential", headers=_CHALLENGE)


async def metrics_endpoint(request: Request) -> Response:
    state = app_state(request)
    check_access(state, bearer_token(request.scope))
    await state.metrics.refresh(state)
    return Response(generate_latest(state.metrics.registry), media_type=CONTENT_TYPE_LATEST)


routes = [Route("/metrics", metrics_endpoint, methods=["GET"])]
