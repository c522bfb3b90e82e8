"""The REST compatibility routes under `/api/v1/{customer_id}/` (issue 7).

Processors declare their routes as data (`processors/<name>/rest.py`, `processors.rest_spec.RestRoute`); this
module turns every declared route into a Starlette route, once, the first time a request reaches it (the
registry is validated on first use, never at import). A route exists for every tenant, and answers only when
the tenant enables its processor: otherwise 404 `processor_not_enabled` naming the processor type to enable.
A key without the processor's scope gets 403 `insufficient_scope`.

Beside them: the tenant's OpenAPI document (`/openapi.json`) and the docs page (`/docs`, public: a static page
that asks for the API key in the browser). Every response of a caller with a key carries `Latest-Ledger`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route, Router
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api import docs_page, openapi
from api.errors import error_response
from api.middleware.auth import Principal
from api.rest_catalogue import declared_routes, listing_named
from api.rest_list import list_page, pair_stats_page, token_balances
from api.rest_rows import json_response
from api.state import app_state
from core.errors import Forbidden, NotFound
from processors.listing import Listing
from processors.registry import by_name
from processors.rest_spec import RestRoute

Reader = Callable[[Request, RestRoute, Listing, Principal], Awaitable[dict[str, Any]]]
READERS: dict[str, Reader] = {
    "list": list_page,
    "token_balances": token_balances,
    "pair_stats": pair_stats_page,
}


def check_access(route: RestRoute, principal: Principal) -> None:
    """404 when the tenant does not enable the route's processor, 403 when the key lacks its scope."""
    processor = by_name(route.processor)
    if processor.type_name not in principal.tenant.config.enabled_types():
        raise NotFound(
            f"{route.path} needs {processor.type_name}, which this tenant does not enable; "
            f"enable {processor.type_name} in the tenant configuration",
            code="processor_not_enabled",
            details={"processor": processor.type_name},
        )
    if not principal.can_read(route.processor):
        raise Forbidden(
            f"this API key lacks the scope read:{route.processor} (or read:*) that {route.path} needs",
            code="insufficient_scope",
            details={"required_scope": f"read:{route.processor}"},
        )


def endpoint(route: RestRoute) -> Callable[[Request], Awaitable[Response]]:
    listing = listing_named(route.listing)
    read = READERS[route.kind]

    async def handle(request: Request) -> Response:
        principal: Principal = request.scope["state"]["principal"]
        check_access(route, principal)
        body = await read(request, route, listing, principal)
        request.scope["state"]["rows"] = len(body["data"])  # for the access log
        return json_response(body)

    handle.__name__ = route.operation_id
    return handle


def starlette_path(route: RestRoute) -> str:
    # A pair (`BASE/COUNTER`) holds a slash, percent-encoded or not; Starlette decodes the path before routing.
    return route.path.replace("{pair}", "{pair:path}") if route.kind == "pair_stats" else route.path


async def not_found(scope: Scope, receive: Receive, send: Send) -> None:
    refusal = NotFound("no such endpoint; GET /api/v1/{customer_id}/ lists them")
    await error_response(refusal, scope)(scope, receive, send)


class LatestLedgerHeader:
    """Adds `Latest-Ledger` (the last ledger ingested for the tenant's network) to every response of a caller
    authenticated for a tenant; read after the handler, so the header is never behind the data served."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        principal = scope.get("state", {}).get("principal")
        if principal is None:
            await self.app(scope, receive, send)
            return

        async def send_with_header(message: Message) -> None:
            if message["type"] == "http.response.start":
                latest = await app_state(scope["app"]).router.latest_ledger(
                    principal.tenant.config.customer.network.value
                )
                if latest is not None:
                    message.setdefault("headers", []).append((b"latest-ledger", str(latest).encode()))
            await send(message)

        await self.app(scope, receive, send_with_header)


class TenantRestApp:
    """The routes below `/api/v1/{customer_id}`, built from the registry on first use."""

    def __init__(self) -> None:
        self._app: ASGIApp | None = None

    def build(self) -> ASGIApp:
        routes: list[BaseRoute] = [
            Route("/openapi.json", openapi.endpoint, methods=["GET"]),
            *docs_page.routes,
            *(Route(starlette_path(r), endpoint(r), methods=[r.method]) for r in declared_routes()),
        ]
        return LatestLedgerHeader(Router(routes=routes, default=not_found))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._app is None:
            self._app = self.build()
        await self._app(scope, receive, send)


routes: list[BaseRoute] = [Mount("/api/v1/{customer_id}", app=TenantRestApp())]
