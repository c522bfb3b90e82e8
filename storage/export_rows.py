"""Reading a tenant's rows of one table in order key order, in pages (for `obsrvr-flow export`).

Keyset paging on the natural key, so a large table streams in constant memory and each page is one indexed
range scan.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from sqlalchemy import Table, select, tuple_
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.processor_tables import ORDER_COLUMNS


async def iter_tenant_rows(
    engine: AsyncEngine,
    table: Table,
    tenant_id: str,
    *,
    from_ledger: int | None = None,
    to_ledger: int | None = None,
    page_size: int = 5000,
) -> AsyncIterator[list[dict[str, Any]]]:
    """Pages of `tenant_id`'s rows of a history table, ordered by the order key, without `tenant_id`."""
    columns = [c for c in table.columns if c.name != "tenant_id"]
    order = [table.c[name] for name in ORDER_COLUMNS]
    base = select(*columns).where(table.c.tenant_id == tenant_id).order_by(*order).limit(page_size)
    if from_ledger is not None:
        base = base.where(table.c.ledger_sequence >= from_ledger)
    if to_ledger is not None:
        base = base.where(table.c.ledger_sequence <= to_ledger)
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
