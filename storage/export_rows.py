"""Reading a tenant's rows of one table in order, in pages (for `obsrvr-flow export`): history tables in order key
order (`iter_tenant_rows`), any other listed table in its listing's order (`iter_listing_rows`).

Keyset paging on the natural key, so a large table streams in constant memory and each page is one indexed
range scan. With a cold reader, the archived part (ids up to the tenant's watermark) streams from the Parquet
files first, then the hot rows after the watermark, so an export is the same before and after archival. An
archival that moves the watermark during the export is noticed after each hot page (hot rows leave only after
their watermark commits): that page is dropped, and the rows up to the new watermark are read cold instead.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from sqlalchemy import Table, select, tuple_
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.cold.watermarks import read_watermark
from storage.processor_tables import ORDER_COLUMNS
from storage.query import MAX_LIMIT, Query, position_of

if TYPE_CHECKING:
    from storage.cold.reader import ColdReader
    from storage.router import QueryRouter


async def iter_tenant_rows(
    engine: AsyncEngine,
    table: Table,
    tenant_id: str,
    *,
    from_ledger: int | None = None,
    to_ledger: int | None = None,
    page_size: int = 5000,
    cold: ColdReader | None = None,
) -> AsyncIterator[list[dict[str, Any]]]:
    """Pages of `tenant_id`'s rows of a history table, ordered by the order key, without `tenant_id`; with
    `cold`, across both tiers."""
    columns = [c for c in table.columns if c.name != "tenant_id"]
    base = select(*columns).where(table.c.tenant_id == tenant_id).limit(page_size)
    if from_ledger is not None:
        base = base.where(table.c.ledger_sequence >= from_ledger)
    if to_ledger is not None:
        base = base.where(table.c.ledger_sequence <= to_ledger)
    if cold is not None:
        async for rows in _across_tiers(
            engine, cold, table, tenant_id, base, from_ledger, to_ledger, page_size
        ):
            yield rows
        return
    order = [table.c[name] for name in ORDER_COLUMNS]
    base = base.order_by(*order)
    after: tuple[Any, ...] | None = None
    while True:
        statement = base if after is None else base.where(tuple_(*order) > tuple_(*after))
        async with engine.connect() as conn:
            rows = [{str(k): v for k, v in row.items()} for row in (await conn.execute(statement)).mappings()]
        if not rows:
            return
        yield rows
        if len(rows) < page_size:
            return
        after = tuple(rows[-1][name] for name in ORDER_COLUMNS)


async def _across_tiers(
    engine: AsyncEngine,
    cold: ColdReader,
    table: Table,
    tenant_id: str,
    base: Any,
    from_ledger: int | None,
    to_ledger: int | None,
    page_size: int,
) -> AsyncIterator[list[dict[str, Any]]]:
    """Cold rows up to the watermark, then hot rows after it, in id order (ids sort as the order key)."""
    query = Query(tenant_id, table, from_ledger=from_ledger, to_ledger=to_ledger, limit=MAX_LIMIT)
    async with engine.connect() as conn:
        watermark = await read_watermark(conn, tenant_id, table.name)
    position: str | None = None
    while True:
        if watermark is not None and (position is None or position < watermark.last_id):
            async for rows in cold.scan(query.replace(after=position), watermark, page_size):
                yield rows
            position = watermark.last_id
        statement = base.order_by(table.c.id)
        if position is not None:
            statement = statement.where(table.c.id > position)
        async with engine.connect() as conn:
            rows = [{str(k): v for k, v in row.items()} for row in (await conn.execute(statement)).mappings()]
            moved = await read_watermark(conn, tenant_id, table.name)
        if moved != watermark:  # archived meanwhile: the page may miss deleted rows; read them cold
            watermark = moved
            continue
        if rows:
            yield rows
        if len(rows) < page_size:
            return
        position = str(rows[-1]["id"])


async def iter_listing_rows(
    router: QueryRouter,
    table: Table,
    tenant_id: str,
    *,
    time_column: str = "closed_at",
    from_ledger: int | None = None,
    to_ledger: int | None = None,
) -> AsyncIterator[list[dict[str, Any]]]:
    """Pages of `tenant_id`'s rows of any listed table (current state, candles...) in the order its listing
    serves them (`storage.query.keyset_columns`, ascending), through the query router as the APIs read them."""
    query = Query(
        tenant_id,
        table,
        time_column=time_column,
        from_ledger=from_ledger,
        to_ledger=to_ledger,
        limit=MAX_LIMIT,
    )
    while True:
        page = await router.fetch(query)
        if page.rows:
            yield [dict(row) for row in page.rows]
        if not page.has_more or not page.rows:
            return
        query = replace(query, after=position_of(table, page.rows[-1]))
