"""The ledgers ingested per tenant and processor (`storage.ingested_ranges`), on both backends."""

from __future__ import annotations

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncEngine

from storage import ingested_ranges
from storage.ingested_ranges import describe, merge
from storage.tables import tenants
from storage.tenants import TenantStore

A = ("ranges-a", "TokenTransferProcessor")
B = ("ranges-a", "ContractEventProcessor")
C = ("ranges-b", "TokenTransferProcessor")


async def _record(engine: AsyncEngine, first: int, last: int, *pairs: tuple[str, str]) -> None:
    async with engine.begin() as conn:
        await ingested_ranges.record(conn, first, last, set(pairs))


async def test_ranges_grow_merge_and_keep_gaps(engine: AsyncEngine) -> None:
    store = TenantStore(engine)
    for tenant in ("ranges-a", "ranges-b"):
        await store.create(tenant, tenant, "pubnet", {"customer": {"id": tenant}})
    await _record(engine, 2, 4, A, B)
    await _record(engine, 5, 7, A, B)  # continues the range
    await _record(engine, 10, 12, A)  # a gap stays a gap
    await _record(engine, 3, 5, A)  # re-ingested ledgers change nothing
    await _record(engine, 100, 109, C)
    assert await ingested_ranges.read(engine, "ranges-a") == {
        "ContractEventProcessor": [(2, 7)],
        "TokenTransferProcessor": [(2, 7), (10, 12)],
    }
    # Two backfill chunks each start a range, a later one fills the hole between: read gives one range.
    await _record(engine, 30, 39, B)
    await _record(engine, 20, 24, B)
    await _record(engine, 8, 19, B)
    await _record(engine, 25, 29, B)
    assert (await ingested_ranges.read(engine, "ranges-a"))["ContractEventProcessor"] == [(2, 39)]
    assert await ingested_ranges.read(engine, "ranges-b") == {"TokenTransferProcessor": [(100, 109)]}
    # No foreign key: a batch planned before its tenant was deleted still commits (the purge removes the rows).
    async with engine.begin() as conn:
        await conn.execute(delete(tenants).where(tenants.c.id == "ranges-b"))
    await _record(engine, 110, 119, C)
    assert await ingested_ranges.read(engine, "ranges-b") == {"TokenTransferProcessor": [(100, 119)]}


def test_merge_and_describe() -> None:
    assert merge([(10, 12), (2, 4), (5, 7), (6, 6)]) == [(2, 7), (10, 12)]
    assert describe([]) == "-"
    assert describe([(2, 7)]) == "2-7"
    assert describe([(2, 7), (9, 9)]) == "2-7, 9"
    assert describe([(1, 2), (4, 5), (7, 8), (10, 11)]) == "1-2, 4-5 +2 more"
