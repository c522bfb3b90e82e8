"""Which ledgers have been ingested for each tenant's processor, whatever ingested them.

The ingestion engine records a batch's range for every (tenant, processor) it ingested (`record`), in the batch's
own transaction: the record is exactly what was committed. Backfill progress only knows backfill chunks; this
also covers the live tail, `obsrvr-flow ingest` and `dev`, so `tenants status` (and the admin status) can say
"ledgers 2-7" after any of them.

One statement extends every range the batch continues (a range that reaches the batch's first ledger); a second
inserts a range for the pairs with none (a first batch, a batch after a gap, a backfill chunk's first batch).
Concurrent batches may leave ranges that overlap or touch (two chunks of a backfill each starting a range): `read`
merges them, so the stored rows are a cover, not a partition. The engine calls `record` after taking the
network's `latest:` checkpoint row, so batches of a network do not interleave here.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from sqlalchemy import case, select, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from storage.db import dialect_name
from storage.tables import ingested_ranges, utcnow

Range = tuple[int, int]


async def record(conn: AsyncConnection, first: int, last: int, pairs: Collection[tuple[str, str]]) -> None:
    """Add ledgers `first`-`last` to the range of every `(tenant_id, processor type name)` of `pairs`, on the
    caller's connection (inside the batch's transaction)."""
    if not pairs:
        return
    t = ingested_ranges
    now = utcnow()
    # Only `last_ledger` ever changes (never the key): a range reaching up to the batch takes it in; a batch
    # that no range reaches starts a range of its own.
    extended = await conn.execute(
        update(t)
        .where(
            tuple_(t.c.tenant_id, t.c.processor).in_(sorted(pairs)),
            t.c.first_ledger <= first,
            t.c.last_ledger >= first - 1,
        )
        .values(last_ledger=case((t.c.last_ledger < last, last), else_=t.c.last_ledger), updated_at=now)
        .returning(t.c.tenant_id, t.c.processor)
    )
    new = set(pairs) - {(str(tenant), str(processor)) for tenant, processor in extended.all()}
    if not new:
        return
    insert = (postgresql.insert if dialect_name(conn) == "postgresql" else sqlite.insert)(t)
    statement = insert.on_conflict_do_update(
        index_elements=["tenant_id", "processor", "first_ledger"],
        set_={
            "last_ledger": case(
                (t.c.last_ledger < insert.excluded.last_ledger, insert.excluded.last_ledger),
                else_=t.c.last_ledger,
            ),
            "updated_at": now,
        },
    )
    await conn.execute(
        statement,
        [
            {
                "tenant_id": tenant,
                "processor": processor,
                "first_ledger": first,
                "last_ledger": last,
                "updated_at": now,
            }
            for tenant, processor in sorted(new)
        ],
    )


def merge(ranges: Sequence[Range]) -> list[Range]:
    """Ranges that overlap or touch joined, in ledger order."""
    merged: list[Range] = []
    for first, last in sorted(ranges):
        if merged and first <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], last))
        else:
            merged.append((first, last))
    return merged


async def read(engine: AsyncEngine, tenant_id: str) -> dict[str, list[Range]]:
    """`{processor type name: [(first, last), ...]}` of the tenant, merged, in ledger order."""
    t = ingested_ranges
    async with engine.connect() as conn:
        rows = (
            await conn.execute(
                select(t.c.processor, t.c.first_ledger, t.c.last_ledger).where(t.c.tenant_id == tenant_id)
            )
        ).all()
    found: dict[str, list[Range]] = {}
    for processor, first, last in rows:
        found.setdefault(str(processor), []).append((int(first), int(last)))
    return {processor: merge(found[processor]) for processor in sorted(found)}


def describe(ranges: Sequence[Range], most: int = 2) -> str:
    """`2-7`, `2-7, 10-12`, `2-7, 10-12 +3 more` (`-` when nothing was ingested)."""
    if not ranges:
        return "-"
    shown = ", ".join(f"{a}-{b}" if a != b else str(a) for a, b in ranges[:most])
    return shown if len(ranges) <= most else f"{shown} +{len(ranges) - most} more"
