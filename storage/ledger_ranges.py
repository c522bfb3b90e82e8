"""Which ledgers a tenant has rows of, per table: the first and last `ledger_sequence` of its hot rows.

For the console's ingestion view. Only history tables are read: each has an index led by `tenant_id` and
`ledger_sequence` (or an order key led by it), so `min`/`max` for one tenant read two index entries. Current-state
tables (balances, storage, candles) are indexed for their lookups instead, and a `min`/`max` there would visit every
row the tenant has, on a route any key of the tenant may call; the ledgers ingested for them are in
`storage.ingested_ranges`.
Nothing here names a processor table: callers pass the tables (`processors.registry`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from sqlalchemy import Table, func, select
from sqlalchemy.ext.asyncio import AsyncEngine


class LedgerRange(NamedTuple):
    first: int
    last: int


def ranged(table: Table) -> bool:
    """Whether `table` is a history table with the two columns a per-tenant ledger range is read from."""
    return table.info.get("kind") == "history" and "tenant_id" in table.c and "ledger_sequence" in table.c


async def stored_ranges(
    engine: AsyncEngine, tables: Sequence[Table], tenant_id: str
) -> dict[str, LedgerRange]:
    """Table name -> the ledger range of the tenant's hot rows there; tables without a row are left out."""
    found: dict[str, LedgerRange] = {}
    async with engine.connect() as conn:
        for table in tables:
            if not ranged(table):
                continue
            column = table.c.ledger_sequence
            low, high = (
                await conn.execute(
                    select(func.min(column), func.max(column)).where(table.c.tenant_id == tenant_id)
                )
            ).one()
            if low is not None and high is not None:
                found[table.name] = LedgerRange(int(low), int(high))
    return found
