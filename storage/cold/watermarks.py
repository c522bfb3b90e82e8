"""Reading archive watermarks (`storage.cold.tables.archive_watermarks`): how far each of a tenant's history
tables has moved to the cold tier."""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncConnection

from storage.cold.tables import archive_watermarks


class Watermark(NamedTuple):
    """The last row of a tenant's table that is in the cold tier: its id, ledger and close time."""

    last_id: str
    last_ledger: int
    last_closed_at: datetime


_w = archive_watermarks.c
# Built once (read before every tiered read of the request path): a reused statement keeps its cache key.
_WATERMARK = select(_w.last_id, _w.last_ledger, _w.last_closed_at).where(
    _w.tenant_id == bindparam("tenant_id"), _w.table_name == bindparam("table_name")
)


async def read_watermark(conn: AsyncConnection, tenant_id: str, table_name: str) -> Watermark | None:
    """The watermark of `tenant_id`'s `table_name`, or None while none of its rows is archived."""
    row = (await conn.execute(_WATERMARK, {"tenant_id": tenant_id, "table_name": table_name})).first()
    return Watermark(row.last_id, int(row.last_ledger), row.last_closed_at) if row is not None else None


async def read_watermarks(conn: AsyncConnection, tenant_id: str) -> dict[str, Watermark]:
    """Every watermark of `tenant_id`, by table name."""
    w = archive_watermarks.c
    result = await conn.execute(
        select(w.table_name, w.last_id, w.last_ledger, w.last_closed_at).where(w.tenant_id == tenant_id)
    )
    return {r.table_name: Watermark(r.last_id, int(r.last_ledger), r.last_closed_at) for r in result}
