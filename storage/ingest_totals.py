"""Service-wide ingestion totals per network: ledgers committed, and rows written per table (every tenant's).

The ingestion engine adds a batch's counts in the batch's own transaction (`add`), so the totals count exactly
what was committed, whichever worker committed it, and survive restarts; `GET /metrics` reads them at scrape time
(`read`) as counters, from which Prometheus derives ledgers and rows per second. Batches of a network already
serialise on its `latest:<network>` checkpoint row, so these rows add no new contention (and are locked after it,
in one order, so no deadlock either). Re-ingested ledgers count again: they were processed again.
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from storage.db import dialect_name
from storage.tables import ingest_totals

LEDGERS = "ledgers"
ROWS_PREFIX = "rows:"


async def add(conn: AsyncConnection, network: str, ledgers: int, rows_by_table: Mapping[str, int]) -> None:
    """Add a batch's counts to the network's totals, on the caller's connection (inside its transaction)."""
    counts = {LEDGERS: ledgers, **{f"{ROWS_PREFIX}{table}": rows for table, rows in rows_by_table.items()}}
    insert = (postgresql.insert if dialect_name(conn) == "postgresql" else sqlite.insert)(ingest_totals)
    statement = insert.on_conflict_do_update(
        index_elements=["network", "subject"], set_={"total": ingest_totals.c.total + insert.excluded.total}
    )
    # Sorted: concurrent batches lock the rows in the same order.
    await conn.execute(
        statement, [{"network": network, "subject": s, "total": counts[s]} for s in sorted(counts)]
    )


async def read(engine: AsyncEngine) -> dict[str, dict[str, int]]:
    """`{network: {subject: total}}`."""
    async with engine.connect() as conn:
        rows = (await conn.execute(select(ingest_totals))).all()
    out: dict[str, dict[str, int]] = {}
    for network, subject, total in rows:
        out.setdefault(str(network), {})[str(subject)] = int(total)
    return out


async def ledgers_committed(engine: AsyncEngine, network: str) -> int:
    """Ledgers ever committed for `network` (re-ingested ones again): it moves with every committed batch, live
    or backfill, in that batch's transaction, so it tells readers (the response cache) that stored rows changed."""
    async with engine.connect() as conn:
        total = await conn.scalar(
            select(ingest_totals.c.total).where(
                ingest_totals.c.network == network, ingest_totals.c.subject == LEDGERS
            )
        )
    return int(total) if total is not None else 0
