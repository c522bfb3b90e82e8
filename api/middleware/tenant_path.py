"""Which tenant a request path belongs to: `/api/v1/{customer_id}` and everything below it."""

from __future__ import annotations

TENANT_PREFIX = "/api/v1/"


def tenant_from_path(path: str) -> str | None:
    """The `{customer_id}` segment of a tenant API path (the path as routed, without any root path)."""
    if not path.startswith(TENANT_PREFIX):
        return None
    tenant_id = path[len(TENANT_PREFIX) :].split("/", 1)[0]
    return tenant_id or None
