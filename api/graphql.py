"""The per-tenant GraphQL endpoint `/api/v1/{customer_id}/graphql` (issue 6)."""

from __future__ import annotations

from starlette.routing import BaseRoute

routes: list[BaseRoute] = []
