"""Per-tenant limits: requests per minute (shared through the rate-limit store, so every replica counts
together) and concurrent requests (per replica).

A WebSocket upgrade spends one request of the minute's budget like any request, but holds no concurrent-request
slot while it stays open: open connections are capped by `max_websocket_connections` instead, and each
operation started over the socket spends one request too (`api.graphql_ws`, through `spend_request`)."""

from __future__ import annotations

from collections import Counter

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.middleware.asgi import send_error
from api.middleware.auth import Principal
from api.state import AppState, app_state
from core.errors import RateLimited


async def spend_request(state: AppState, principal: Principal) -> tuple[dict[str, str], RateLimited | None]:
    """Count one request of the principal's tenant: the rate-limit headers, and the refusal when the minute's
    budget is spent."""
    api = principal.tenant.config.customer.api
    decision = await state.backends.rate_limiter.hit(
        f"tenant:{principal.tenant.id}", api.rate_limit_per_minute
    )
    limit_headers = {
        "X-RateLimit-Limit": str(decision.limit),
        "X-RateLimit-Remaining": str(decision.remaining),
        "X-RateLimit-Reset": str(max(1, round(decision.reset_after_seconds))),
    }
    if decision.allowed:
        return limit_headers, None
    limit_headers["Retry-After"] = limit_headers["X-RateLimit-Reset"]
    refusal = RateLimited(
        f"rate limit of {api.rate_limit_per_minute} requests per minute exceeded", headers=limit_headers
    )
    return limit_headers, refusal


class RateLimitMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.in_flight: Counter[str] = Counter()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        principal = scope.get("state", {}).get("principal") if scope["type"] != "lifespan" else None
        if principal is None:
            await self.app(scope, receive, send)
            return
        api = principal.tenant.config.customer.api
        tenant_id = principal.tenant.id
        limit_headers, refusal = await spend_request(app_state(scope["app"]), principal)
        if refusal is not None:
            await send_error(scope, receive, send, refusal)
            return
        if scope["type"] == "websocket":
            await self.app(scope, receive, send)
            return
        if self.in_flight[tenant_id] >= api.concurrent_requests:
            refusal = RateLimited(
                f"at most {api.concurrent_requests} concurrent requests",
                code="too_many_concurrent_requests",
                headers={"Retry-After": "1"},
            )
            await send_error(scope, receive, send, refusal)
            return

        extra = [(k.lower().encode(), v.encode()) for k, v in limit_headers.items()]

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        self.in_flight[tenant_id] += 1
        try:
            await self.app(scope, receive, send_with_headers)
        finally:
            self.in_flight[tenant_id] -= 1
            if self.in_flight[tenant_id] <= 0:
                del self.in_flight[tenant_id]
