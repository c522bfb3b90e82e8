"""Helpers for the REST tests: paging a route through `next_cursor`, and reading what is stored."""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.testclient import TestClient

from storage.db import create_engine
from storage.export_rows import iter_tenant_rows
from storage.tables import metadata
from tests.api.helpers import bearer


def get(client: TestClient, tenant: str, path: str, key: str, **params: Any) -> Any:
    return client.get(f"/api/v1/{tenant}{path}", params=params, headers=bearer(key))


def read_all(client: TestClient, tenant: str, path: str, key: str, **params: Any) -> list[dict[str, Any]]:
    """Every row of a route, page after page through `next_cursor` (failing on a repeated id or key)."""
    rows: list[dict[str, Any]] = []
    cursor = None
    while True:
        response = get(client, tenant, path, key, **params, **({"cursor": cursor} if cursor else {}))
        assert response.status_code == 200, response.text
        body = response.json()
        meta = body["metadata"]
        assert meta["returned_results"] == len(body["data"])
        rows.extend(body["data"])
        cursor = meta["next_cursor"]
        if cursor is None:
            return rows
        assert body["data"], "a page with a next cursor has rows"


def stored(url: str, table: str, tenant: str) -> list[dict[str, Any]]:
    """A tenant's stored rows of a history table in order-key order (what `obsrvr-flow export` reads)."""

    async def run() -> list[dict[str, Any]]:
        engine = create_engine(url)
        try:
            out: list[dict[str, Any]] = []
            async for chunk in iter_tenant_rows(engine, metadata.tables[table], tenant):
                out.extend(chunk)
            return out
        finally:
            await engine.dispose()

    return asyncio.run(run())
