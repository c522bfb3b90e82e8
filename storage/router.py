"""The query router: the one seam between the APIs and the stores (DESIGN "One storage seam").

Resolvers and REST routes build `Query` objects and call `fetch`, `count` and `lookup` here; nothing above
`storage/` writes SQL. Today every query is answered by the hot store; the cold tier (Parquet + DuckDB, by the
tenant's archive watermark) plugs in behind the same methods, and `Page.sources` says which tiers answered.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.checkpoints import Checkpoints
from storage.flows import Flow, net_flows
from storage.hot_query import count_rows, fetch_page, lookup_rows
from storage.query import Filter, Page, Query


class QueryRouter:
    """Answers `Query` objects for the API layers."""

    def __init__(self, engine: AsyncEngine, *, latest_ledger_ttl: float = 1.0) -> None:
        self.engine = engine
        self._checkpoints = Checkpoints(engine)
        self._latest_ttl = latest_ledger_ttl
        self._latest: dict[str, tuple[float, int | None]] = {}

    async def fetch(self, query: Query) -> Page:
        async with self.engine.connect() as conn:
            rows, has_more = await fetch_page(conn, query)
        return Page(query=query, rows=rows, has_more=has_more, sources=("hot",))

    async def count(self, query: Query, cap: int) -> tuple[int, bool]:
        """Rows matching the query's filters and ranges, up to `cap`, and whether that is exact."""
        async with self.engine.connect() as conn:
            return await count_rows(conn, query, cap)

    async def lookup(
        self,
        tenant_id: str,
        table: Table,
        column: str,
        values: Sequence[Any],
        filters: Sequence[Filter] = (),
        *,
        per_key: int,
    ) -> dict[Any, list[dict[str, Any]]]:
        """For dataloaders: the tenant's first `per_key` rows of `table` for each value of `column` in `values`,
        grouped by value, in one statement. Current-state tables only (history goes through `fetch`, which
        pages)."""
        async with self.engine.connect() as conn:
            return await lookup_rows(conn, tenant_id, table, column, values, filters, per_key=per_key)

    async def net_flows(
        self, movements: Table, tenant_id: str, holders: Sequence[str], filters: Sequence[Filter] = ()
    ) -> dict[str, dict[str, Flow]]:
        """Per holder and asset, what the tenant's stored movements in `movements` matching `filters` brought in
        minus what they took out (`storage.flows`; the table has the columns that module names)."""
        async with self.engine.connect() as conn:
            return await net_flows(conn, movements, tenant_id, holders, filters)

    async def latest_ledger(self, network: str) -> int | None:
        """The last ledger ingested for `network` (the `Latest-Ledger` header of both APIs), read at most once per
        `latest_ledger_ttl` seconds (ledgers close every ~5 s; a lookup per request would be a second database
        round trip on every page), so it may lag the newest ledger by that much."""
        now = time.monotonic()
        hit = self._latest.get(network)
        if hit is not None and hit[0] > now:
            return hit[1]
        latest = await self._checkpoints.get(f"latest:{network}")
        self._latest[network] = (now + self._latest_ttl, latest)
        return latest
