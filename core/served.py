"""What the service serves, in one list: `GET /` (its HTML page and its JSON), each tenant's discovery document,
the help of `serve`, `dev` and `worker`, and the README all say it from here (a test holds the README to it), so
they cannot disagree.

Paths are relative to the service's address; `{customer_id}` is a tenant's id.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Served:
    name: str
    path: str
    description: str
    public: bool = False
    """Opened without a credential (a page that asks for the key itself, or a health check)."""


SERVED = (
    Served(
        "REST",
        "/api/v1/{customer_id}/...",
        "the tenant's listings as JSON (token transfers, balances, trades...), key in `Authorization: Bearer`",
    ),
    Served(
        "Discovery",
        "/api/v1/{customer_id}/",
        "the tenant's endpoints, limits, subscriptions and webhook events",
    ),
    Served(
        "GraphQL",
        "/api/v1/{customer_id}/graphql",
        "queries over POST or GET; subscriptions over WebSocket (graphql-transport-ws)",
    ),
    Served(
        "GraphiQL",
        "/api/v1/{customer_id}/graphql",
        "the GraphQL IDE, when a browser opens that address",
        True,
    ),
    Served(
        "Docs",
        "/api/v1/{customer_id}/docs",
        "the REST documentation page, with a form to try each route",
        True,
    ),
    Served(
        "OpenAPI",
        "/api/v1/{customer_id}/openapi.json",
        "the OpenAPI 3.1 document of the tenant's REST routes",
    ),
    Served("Console", "/console", "onboarding and the tenant dashboard in the browser", True),
    Served("Admin", "/admin/...", "tenants, keys, backfills and webhook endpoints (admin credential)"),
    Served(
        "Webhooks",
        "(outgoing)",
        "signed POSTs of the tenant's events to its endpoints, sent by `worker` (in-process without Redis)",
    ),
    Served("Metrics", "/metrics", "Prometheus metrics (metrics token or admin credential)"),
    Served("Health", "/healthz", "the process is up", True),
    Served("Readiness", "/readyz", "database, migrations and Redis checked", True),
)

WORKER_DUTIES = (
    "ingestion (live tail and backfills), archival to the cold tier, webhook delivery and maintenance; it serves "
    "none of the API, only its own /metrics when OBSRVR_WORKER_METRICS_PORT is set"
)


def served_lines() -> list[str]:
    """One line per served thing: `name  path  description` (CLI help and the README)."""
    return [f"{s.name}: {s.path} - {s.description}" for s in SERVED]
