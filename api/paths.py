"""Which tenant a request path belongs to: `/api/v1/{customer_id}` and everything below it."""

from __future__ import annotations

from starlette.types import Scope

TENANT_PREFIX = "/api/v1/"


def route_path(scope: Scope) -> str:
    """The path as the router sees it: without the `root_path` a proxy or a parent Mount put in front.

    Access checks must match on this, or a service mounted under a prefix would skip them.
    """
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root) else path


def tenant_from_path(path: str) -> str | None:
    """The `{customer_id}` segment of a tenant API path (the path as routed, without any root path)."""
    if not path.startswith(TENANT_PREFIX):
        return None
    tenant_id = path[len(TENANT_PREFIX) :].split("/", 1)[0]
    return tenant_id or None


def is_graphql_path(path: str) -> bool:
    """Whether a routed path is a tenant's GraphQL endpoint (`/api/v1/{customer_id}/graphql`)."""
    tenant_id = tenant_from_path(path)
    return tenant_id is not None and path[len(TENANT_PREFIX) + len(tenant_id) :].rstrip("/") == "/graphql"
