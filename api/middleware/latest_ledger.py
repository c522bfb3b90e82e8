"""`Latest-Ledger` on every response to a caller authenticated for a tenant (DESIGN "API surface"): the last
ledger ingested for the tenant's network, whatever answered (REST, GraphQL, discovery, an error).

Read when the response starts, after the handler, so the header is never behind the data served; the query
router caches the value for a second (`QueryRouter.latest_ledger`), so this is rarely a database read.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.state import app_state


class LatestLedgerMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        principal = scope.get("state", {}).get("principal") if scope["type"] == "http" else None
        if principal is None:
            await self.app(scope, receive, send)
            return
        network = principal.tenant.config.customer.network.value

        async def send_with_header(message: Message) -> None:
            if message["type"] == "http.response.start":
                latest = await app_state(scope["app"]).router.latest_ledger(network)
                if latest is not None:
                    headers = [(k, v) for k, v in message.get("headers", []) if k != b"latest-ledger"]
                    message = {**message, "headers": [*headers, (b"latest-ledger", str(latest).encode())]}
            await send(message)

        await self.app(scope, receive, send_with_header)
