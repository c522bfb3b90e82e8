"""What the cold file manifest (`storage.cold.tables.cold_files`) says a tenant holds in the cold tier, per
table: the figures the cost report prices."""

from __future__ import annotations

from typing import NamedTuple

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from storage.cold.tables import cold_files


class ColdTotals(NamedTuple):
    """A table's cold files of one tenant: rows, object bytes, uncompressed bytes, and how many files."""

    rows: int
    bytes: int
    raw_bytes: int
    files: int


async def cold_totals(conn: AsyncConnection, tenant_id: str) -> dict[str, ColdTotals]:
    """The tenant's cold totals by table name (tables with no cold file are absent)."""
    c = cold_files.c
    result = await conn.execute(
        select(c.table_name, func.sum(c.rows), func.sum(c.bytes), func.sum(c.raw_bytes), func.count())
        .where(c.tenant_id == tenant_id)
        .group_by(c.table_name)
    )
    return {
        str(name): ColdTotals(int(rows), int(size), int(raw), int(files))
        for name, rows, size, raw, files in result
    }
