"""The REST compatibility routes under `/api/v1/{customer_id}/` (issue 7)."""

from __future__ import annotations

from starlette.routing import BaseRoute

routes: list[BaseRoute] = []
