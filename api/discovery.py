"""`GET /api/v1/{customer_id}/`: what this tenant's API offers, generated from its enabled processors: every
endpoint with method, description and parameters, the limits, where the GraphQL API, the OpenAPI
document and the docs page live, its GraphQL subscription fields and WebSocket address, the webhook events it
can subscribe to and the Ed25519 public keys its webhook endpoints sign with."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from api import rest_catalogue
from api.cost import USAGE_DESCRIPTION
from api.openapi import route_parameters
from api.rest_rows import json_response
from api.state import AppState, app_state
from core.served import SERVED
from core.tenant_config import TenantConfig
from processors.registry import Registry
from services.ingestion_progress import INGESTION_DESCRIPTION
from services.onboarding import tenant_links
from storage.tables import utcnow
from storage.webhooks.endpoints import tenant_endpoints as stored_endpoints


def tenant_endpoints(registry: Registry, config: TenantConfig) -> list[dict[str, Any]]:
    """The tenant's endpoints: discovery, OpenAPI, docs and GraphQL, then the REST routes of its enabled
    processors (as each processor's `rest.py` declares them) with method, description and parameters."""
    base = f"/api/v1/{config.customer.id}"
    fixed = (
        ("GET", "/", "Discovery: this tenant's endpoints and limits"),
        ("GET", "/openapi.json", "OpenAPI 3.1 document of this tenant's REST routes"),
        ("GET", "/docs", "API documentation page (asks for the API key in the browser)"),
        ("GET", "/usage", USAGE_DESCRIPTION),
        ("GET", "/ingestion", INGESTION_DESCRIPTION),
        ("GET, POST", "/graphql", "GraphQL queries (GraphiQL in a browser)"),
        (
            "WebSocket",
            "/graphql",
            "GraphQL subscriptions (and queries) over WebSocket: graphql-transport-ws, or the legacy graphql-ws; "
            'the key in connection_init {"Authorization": "Bearer <key>"} or the Authorization header',
        ),
    )
    endpoints: list[dict[str, Any]] = [
        {"method": method, "path": f"{base}{path}", "description": text, "processor": None, "parameters": []}
        for method, path, text in fixed
    ]
    for route in rest_catalogue.enabled_routes(registry, registry.enabled_names(config)):
        endpoints.append(
            {
                "method": route.method,
                "path": f"{base}{route.path}",
                "description": route.description,
                "processor": rest_catalogue.processor_type(registry, route),
                "parameters": [
                    {key: p[key] for key in ("name", "in", "description", "required", "schema") if key in p}
                    for p in route_parameters(route)
                ],
            }
        )
    return endpoints


def served_here(public_url: str, customer_id: str) -> list[dict[str, str]]:
    """What the service serves (`core.served`, the list `GET /`, the CLI help and the README give), with this
    tenant's addresses."""
    base = public_url.rstrip("/")
    return [
        {
            "name": s.name,
            "url": f"{base}{s.path.replace('{customer_id}', customer_id)}"
            if s.path.startswith("/")
            else s.path,
            "description": s.description,
        }
        for s in SERVED
    ]


def websocket_url(graphql_url: str) -> str:
    """The GraphQL endpoint's WebSocket address (``ws://`` or ``wss://``)."""
    scheme, sep, rest = graphql_url.partition("://")
    return ("wss" if scheme == "https" else "ws") + sep + rest


def tenant_subscriptions(registry: Registry, config: TenantConfig) -> list[dict[str, str]]:
    """The GraphQL subscription fields of the tenant's enabled processors (``onTokenTransfer``, ...)."""
    return [
        {
            "field": declared.field,
            "type": declared.node,
            "processor": processor.type_name,
            "description": declared.description,
        }
        for processor, _ in registry.enabled(config)
        for declared in processor.subscriptions
    ]


def tenant_webhook_events(registry: Registry, config: TenantConfig) -> list[dict[str, str]]:
    """The webhook event types the tenant's enabled processors emit."""
    return [
        {"name": event.name, "processor": processor.type_name, "description": event.description}
        for processor, _ in registry.enabled(config)
        for event in processor.webhook_events
    ]


async def webhook_signing_keys(state: AppState, tenant_id: str, now: datetime) -> list[dict[str, Any]]:
    """The Ed25519 public keys the tenant's endpoints sign with (``whpk_``): a receiver verifies a delivery,
    and anyone can check a payload against Stellar, without holding a secret. During a rotation the previous
    key is listed until it stops signing."""
    async with state.engine.connect() as conn:
        endpoints = await stored_endpoints(conn, tenant_id)
    keys = []
    for endpoint in endpoints:
        previous = endpoint.previous_public_key
        expires = endpoint.previous_expires_at
        current_previous = previous if previous and expires is not None and now < expires else None
        if endpoint.public_key is None and current_previous is None:
            continue
        keys.append(
            {
                "endpoint_id": endpoint.id,
                "url": endpoint.url,
                "public_key": endpoint.public_key,
                "previous_public_key": current_previous,
                "previous_expires_at": expires if current_previous else None,
            }
        )
    return keys


async def discovery(request: Request) -> Response:
    principal = request.scope["state"]["principal"]
    config = principal.tenant.config
    customer = config.customer
    state = app_state(request)
    registry = state.registry
    links = tenant_links(state.settings, customer.id)
    return json_response(
        {
            "customer_id": customer.id,
            "name": customer.name,
            "network": customer.network.value,
            "enabled_processors": [p.type for p in config.enabled_processors()],
            "processors": [
                {"type": p.type_name, "name": p.name, "version": p.version}
                for p, _ in registry.enabled(config)
            ],
            "available_endpoints": tenant_endpoints(registry, config),
            "webhook_events": tenant_webhook_events(registry, config),
            "webhook_signing_keys": await webhook_signing_keys(state, customer.id, utcnow()),
            "graphql_url": links["graphql_url"],
            "graphql_ws_url": websocket_url(links["graphql_url"]),
            "subscriptions": tenant_subscriptions(registry, config),
            "rate_limit": {"requests_per_minute": customer.api.rate_limit_per_minute},
            "concurrent_requests": customer.api.concurrent_requests,
            "websocket_limits": {
                "max_websocket_connections": customer.api.max_websocket_connections,
                "max_subscriptions_per_connection": customer.api.max_subscriptions_per_connection,
            },
            "documentation_url": links["docs_url"],
            "openapi_url": links["openapi_url"],
            "served": served_here(state.settings.public_url, customer.id),
        }
    )


routes = [Route("/api/v1/{customer_id}/", discovery, methods=["GET"])]
