"""Usage counters: requests per tenant, key, hour and kind (``rest``, ``graphql``, ``websocket``...).

`record` is synchronous and only adds to an in-memory tally, so it costs nothing on the request path. Each
flush adds the tallies to the stored counters with an upsert (``count = count + excluded.count``), so any
number of API replicas can count into the same rows, and updates the keys' `last_used_at` in the same
transaction. A failed flush puts its tallies back for the next one.

A flush drops the tallies of tenants that no longer exist: a tenant deleted while replicas still held its
tallies would otherwise get `usage_counters` rows back after its purge swept them (and a tenant re-created under
the id would inherit them). The flush reads the tenants' rows with FOR KEY SHARE in its own transaction, so a
deletion either commits first (the tallies are dropped) or waits for the flush to commit (its rows are then
there for the purge's final sweep, `services.tenant_purge`).
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from storage.api_keys import touch_keys
from storage.buffered import BufferedWriter
from storage.db import retrying_write_conflicts
from storage.tables import tenants, usage_counters, utcnow

log = logging.getLogger(__name__)

COLD_QUERY_KIND = (
    "cold_query"  # a read that reached the cold tier (the router's `on_cold_read`), not a request
)

BucketKey = tuple[str, str, datetime, str]  # tenant_id, key_id ('' for none), hour start, kind


def hour_bucket(moment: datetime) -> datetime:
    """The start of the UTC hour containing `moment`."""
    return moment.replace(minute=0, second=0, microsecond=0)


class UsageCounters(BufferedWriter):
    """Buffered per-hour usage counters. Call `start()` in a running loop and `close()` at shutdown."""

    def __init__(self, engine: AsyncEngine, flush_seconds: float) -> None:
        super().__init__(flush_seconds, "usage-counters", log)
        self.engine = engine
        self._counts: Counter[BucketKey] = Counter()
        self._last_used: dict[str, datetime] = {}
        self._lock = asyncio.Lock()

    def record(self, tenant_id: str, key_id: str | None, kind: str, n: int = 1) -> None:
        """Count `n` uses of `kind` by the tenant (and key, if any) in the current hour."""
        now = utcnow()
        self._counts[(tenant_id, key_id or "", hour_bucket(now), kind)] += n
        if key_id:
            self._last_used[key_id] = now

    def record_cold_read(self, tenant_id: str) -> None:
        """The router's `on_cold_read` hook: count one cold query of the tenant (the cost report prices them)."""
        self.record(tenant_id, None, COLD_QUERY_KIND)

    async def flush(self) -> int:
        """Add the buffered tallies to the stored counters; returns how many counter rows were touched (tallies of
        deleted tenants dropped)."""
        async with self._lock:
            counts, self._counts = self._counts, Counter()
            last_used, self._last_used = self._last_used, {}
            if not counts and not last_used:
                return 0

            async def write() -> int:
                async with self.engine.begin() as conn:
                    written = await self._upsert(conn, counts)
                    await touch_keys(conn, last_used)
                return written

            try:
                # It reads (which tenants still exist) before it writes: on SQLite a commit by another writer in
                # between (the audit log's flush, on the same period) refuses it at once, every few flushes.
                written = await retrying_write_conflicts(write)
            except BaseException:
                self._counts.update(counts)
                for key_id, at in last_used.items():
                    self._last_used[key_id] = max(at, self._last_used.get(key_id, at))
                raise
            return written

    @staticmethod
    async def _upsert(conn: AsyncConnection, counts: Counter[BucketKey]) -> int:
        if not counts:
            return 0
        alive = await _alive_tenants(conn, sorted({tenant_id for tenant_id, _, _, _ in counts}))
        counts = Counter({key: n for key, n in counts.items() if key[0] in alive})
        if not counts:
            return 0
        dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
        statement = dialect.insert(usage_counters)
        statement = statement.on_conflict_do_update(
            index_elements=[c.name for c in usage_counters.primary_key],
            set_={"count": usage_counters.c.count + statement.excluded["count"]},
        )
        # Sorted, so concurrent flushes from several replicas take row locks in the same order.
        rows = [
            {"tenant_id": t, "key_id": k, "bucket": b, "kind": kind, "count": n}
            for (t, k, b, kind), n in sorted(counts.items())
        ]
        await conn.execute(statement, rows)
        return len(rows)

    async def totals(self, tenant_id: str, since: datetime | None = None) -> dict[str, int]:
        """Stored counts of the tenant by kind, from the hour containing `since` (all time when None).

        Buffered tallies not yet flushed are not included.
        """
        return await usage_totals(self.engine, tenant_id, since)


async def usage_totals(engine: AsyncEngine, tenant_id: str, since: datetime | None = None) -> dict[str, int]:
    """The tenant's stored usage counts by kind, from the hour containing `since` (all time when None)."""
    statement = (
        select(usage_counters.c.kind, func.sum(usage_counters.c.count))
        .where(usage_counters.c.tenant_id == tenant_id)
        .group_by(usage_counters.c.kind)
    )
    if since is not None:
        statement = statement.where(usage_counters.c.bucket >= hour_bucket(since))
    async with engine.connect() as conn:
        rows = (await conn.execute(statement)).all()
    return {str(kind): int(total) for kind, total in rows}


async def _alive_tenants(conn: AsyncConnection, counted: list[str]) -> set[str]:
    """Which of the `counted` tenants still exist (tallies of a deleted tenant are dropped); on PostgreSQL their
    rows stay locked against deletion until the counters are written."""
    existing = select(tenants.c.id).where(tenants.c.id.in_(counted)).order_by(tenants.c.id)
    if conn.dialect.name == "postgresql":
        existing = existing.with_for_update(key_share=True, read=True)
    return set((await conn.scalars(existing)).all())
