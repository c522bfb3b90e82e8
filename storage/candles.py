"""The SQL of a candle refresh (derived state kept per pair, interval and bucket from stored trades): serialize
a tenant's refreshes, read stored candles, read a tenant's stored trades of some pairs over a time window, and
replace candles.

The candle math is the processor's (pure Python): prices are exact rationals whose min/max SQL cannot take
portably, and SQLite stores amounts as sortable text (`storage.amounts`) that it cannot sum. So SQL does what it
is good at (indexed reads, an upsert) and both backends run the same statements. The tables are passed in by the
processor: storage knows SQL, not which processor owns a table. The candle table's key columns are ``pair``,
``interval`` and ``bucket_start``; the trade table has the `TRADE_COLUMNS`.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Table, and_, or_, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from storage.db import dialect_name

__all__ = ["TRADE_COLUMNS", "fetch_candles", "fetch_trades", "lock_tenant_candles", "replace_candles"]

# What a candle needs of a trade: its id (which sorts like the order key), ledger, time, pair and both sides.
TRADE_COLUMNS = ("id", "ledger_sequence", "closed_at", "pair", "sold_asset", "sold_amount", "bought_amount")

_LOCK = text("SELECT pg_advisory_xact_lock(:key)")


def _lock_key(tenant_id: str) -> int:
    digest = hashlib.blake2b(f"candles\x00{tenant_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)  # advisory lock keys are signed 64-bit


async def lock_tenant_candles(conn: AsyncConnection, tenant_id: str) -> None:
    """Hold the tenant's candle lock until the transaction ends (PostgreSQL; SQLite has one writer anyway).

    Two ingestion transactions (the live tail and a backfill job) may touch the same candles. Each reads what
    is committed and writes a whole candle, so without this the later commit would silently drop the other's
    trades from the candle. With it the second waits, and, READ COMMITTED taking a fresh snapshot per
    statement, then reads the first one's committed trades and candles.
    """
    if dialect_name(conn) == "postgresql":
        await conn.execute(_LOCK, {"key": _lock_key(tenant_id)})


async def fetch_candles(
    conn: AsyncConnection, candles: Table, tenant_id: str, keys: Collection[tuple[str, str, datetime]]
) -> dict[tuple[str, str, datetime], dict[str, Any]]:
    """The stored candles among `keys` (``(pair, interval, bucket_start)``), by key; missing ones are absent."""
    if not keys:
        return {}
    starts: dict[str, set[datetime]] = defaultdict(set)
    for _pair, interval, start in keys:
        starts[interval].add(start)
    query = select(candles).where(
        candles.c.tenant_id == tenant_id,
        candles.c.pair.in_(sorted({pair for pair, _, _ in keys})),
        or_(
            *(
                and_(candles.c.interval == interval, candles.c.bucket_start.in_(sorted(values)))
                for interval, values in sorted(starts.items())
            )
        ),
    )
    wanted = set(keys)
    found = {}
    for row in (await conn.execute(query)).mappings():
        key = (row["pair"], row["interval"], row["bucket_start"])
        if key in wanted:  # the query's pair x start product may hold a few more
            found[key] = dict(row)
    return found


async def fetch_trades(
    conn: AsyncConnection,
    trades: Table,
    tenant_id: str,
    pairs: Collection[str],
    start: datetime,
    end: datetime,
) -> list[dict[str, Any]]:
    """The tenant's stored trades of `pairs` with ``start <= closed_at < end`` (index ``tenant_id, pair,
    closed_at``; on PostgreSQL the range also prunes the monthly partitions)."""
    if not pairs:
        return []
    query = select(*(trades.c[name] for name in TRADE_COLUMNS)).where(
        trades.c.tenant_id == tenant_id,
        trades.c.pair.in_(sorted(pairs)),
        trades.c.closed_at >= start,
        trades.c.closed_at < end,
    )
    result = await conn.execute(query)
    return [dict(row) for row in result.mappings()]


async def replace_candles(conn: AsyncConnection, candles: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert each candle, or replace every column of the stored one with the same key.

    Unconditional, unlike the "latest" write of current tables: the refresh hands over each candle complete
    (built from all its stored trades), under the tenant's candle lock.
    """
    if not rows:
        return
    insert = (postgresql.insert if dialect_name(conn) == "postgresql" else sqlite.insert)(candles)
    key = [column.name for column in candles.primary_key.columns]
    statement = insert.on_conflict_do_update(
        index_elements=key,
        set_={c.name: insert.excluded[c.name] for c in candles.columns if c.name not in key},
    )
    await conn.execute(statement, list(rows))
