"""The REST compatibility routes under `/api/v1/{customer_id}/` (issue 7).

Processors declare their routes as data (`processors/<name>/rest.py`, `processors.rest_spec.RestRoute`); this
module turns every declared path of the registry into one Starlette route when the app is built. A path answers
for a tenant that enables one of its processors (`api.rest_catalogue.PathRoutes`): otherwise 404
`processor_not_enabled` naming the processor type to enable. A key without the route's scope gets 403
`insufficient_scope`.

Beside them: the tenant's OpenAPI document (`/openapi.json`) and the docs page (`/docs`, public: a static page
that asks for the API key in the browser).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route, Router
from starlette.types import Receive, Scope, Send

from api import console, cost, docs_page, openapi
from api.errors import error_response
from api.middleware.auth import Principal
from api.response_cache import Computed, rest_fingerprint
from api.rest_catalogue import PathRoutes, path_routes, processor_type
from api.rest_list import answer
from api.rest_rows import json_response
from api.state import app_state
from core.errors import Forbidden, NotFound
from processors.registry import Registry
from processors.rest_spec import RestRoute


def route_for(group: PathRoutes, principal: Principal, registry: Registry) -> RestRoute[Any]:
    """The route answering this tenant on the path: 404 when it enables none of the path's processors, 403 when
    the key lacks the route's scope."""
    route = group.for_tenant(registry.enabled_names(principal.tenant.config))
    if route is None:
        needed = processor_type(registry, group.minimal)
        raise NotFound(
            f"{group.path} needs {needed}, which this tenant does not enable; enable {needed} in the tenant "
            "configuration",
            code="processor_not_enabled",
            details={"processor": needed},
        )
    scope = route.required_scope
    if not principal.can_read(scope):
        raise Forbidden(
            f"this API key lacks the scope read:{scope} (or read:*) that {route.path} needs",
            code="insufficient_scope",
            details={"required_scope": f"read:{scope}"},
        )
    return route


def endpoint(group: PathRoutes) -> Callable[[Request], Awaitable[Response]]:
    async def handle(request: Request) -> Response:
        principal: Principal = request.scope["state"]["principal"]
        state = app_state(request)
        route = route_for(group, principal, state.registry)

        async def compute() -> Computed:
            body = await answer(request, route, principal)
            request.scope["state"]["rows"] = len(body["data"])  # for the access log
            return json_response(body), request.method == "GET"

        # After the scope check: a key without the route's scope is refused, never served from the cache.
        response, _ = await state.response_cache.respond(
            request, principal.tenant, principal.scopes, rest_fingerprint(request), compute
        )
        return response

    handle.__name__ = group.routes[0].operation_id
    return handle


def starlette_path(group: PathRoutes) -> str:
    # A value that may hold a slash (a `BASE/COUNTER` pair, percent-encoded or not: Starlette decodes the path
    # before routing) takes the rest of the path up to the next fixed segment.
    path = group.path
    for route in group.routes:
        for param in route.path_params:
            if param.slashes:
                path = path.replace(f"{{{param.name}}}", f"{{{param.name}:path}}")
    return path


async def not_found(scope: Scope, receive: Receive, send: Send) -> None:
    refusal = NotFound("no such endpoint; GET /api/v1/{customer_id}/ lists them")
    await error_response(refusal, scope)(scope, receive, send)


def tenant_routes(registry: Registry) -> list[BaseRoute]:
    """The routes below `/api/v1/{customer_id}` for the registry's processors."""
    routes: list[BaseRoute] = [
        Route("/openapi.json", openapi.endpoint, methods=["GET"]),
        Route("/usage", cost.tenant_usage, methods=["GET"]),
        Route("/ingestion", console.tenant_ingestion, methods=["GET"]),
        *docs_page.routes,
        *(
            Route(starlette_path(group), endpoint(group), methods=[group.method])
            for group in path_routes(registry)
        ),
    ]
    return [Mount("/api/v1/{customer_id}", app=Router(routes=routes, default=not_found))]
