"""`GET /api/v1/{customer_id}/`: what this tenant's API offers, generated from its enabled processors: every
endpoint with method, description and parameters, the limits, and where the GraphQL API, the OpenAPI
document and the docs page live."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from api.onboarding import tenant_endpoints, tenant_links
from api.rest_rows import json_response
from api.state import app_state


async def discovery(request: Request) -> Response:
    principal = request.scope["state"]["principal"]
    config = principal.tenant.config
    customer = config.customer
    state = app_state(request)
    links = tenant_links(state.settings, customer.id)
    latest = await state.router.latest_ledger(customer.network.value)
    return json_response(
        {
            "customer_id": customer.id,
            "name": customer.name,
            "network": customer.network.value,
            "enabled_processors": [p.type for p in config.enabled_processors()],
            "available_endpoints": tenant_endpoints(config),
            "graphql_url": links["graphql_url"],
            "rate_limit": {"requests_per_minute": customer.api.rate_limit_per_minute},
            "concurrent_requests": customer.api.concurrent_requests,
            "documentation_url": links["docs_url"],
            "openapi_url": links["openapi_url"],
        },
        headers={"Latest-Ledger": str(latest)} if latest is not None else None,
    )


routes = [Route("/api/v1/{customer_id}/", discovery, methods=["GET"])]
