"""How much room a tenant's rows take in the hot store, for the cost report.

Tables are shared by every tenant, so a tenant is attributed a table's bytes by its share of the table's rows
(`tenant rows * table bytes // table rows`, exact integers). A table's bytes:
- PostgreSQL: `pg_total_relation_size` (heap, TOAST and every index) summed over every partition of the table
  (`pg_partition_tree`; a plain table is its own tree);
- SQLite: the pages of the table and its indexes in the `dbstat` virtual table when the library has it;
  otherwise the database file's size shared among the tables given by their row counts (no per-table figure
  exists without dbstat).

Nothing here names a processor table: callers pass the tables (`processors.registry`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Table, func, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection


@dataclass(frozen=True)
class HotShare:
    """One table's rows and bytes, in all and of one tenant."""

    table: str
    rows: int  # every tenant's
    bytes: int
    tenant_rows: int

    @property
    def tenant_bytes(self) -> int:
        return self.bytes * self.tenant_rows // self.rows if self.rows else 0


async def hot_shares(conn: AsyncConnection, tables: Sequence[Table], tenant_id: str) -> list[HotShare]:
    """Each table's rows and bytes, and the tenant's rows of it (tables with a `tenant_id` column)."""
    counts = []
    for table in tables:
        total = int(await conn.scalar(select(func.count()).select_from(table)) or 0)
        mine = int(
            await conn.scalar(select(func.count()).select_from(table).where(table.c.tenant_id == tenant_id))
            or 0
        )
        counts.append((table, total, mine))
    if conn.dialect.name == "postgresql":
        sizes = [await _postgres_bytes(conn, table.name) for table, _, _ in counts]
    else:
        sizes = await _sqlite_bytes(conn, [(table.name, total) for table, total, _ in counts])
    return [
        HotShare(table.name, total, size, mine)
        for (table, total, mine), size in zip(counts, sizes, strict=True)
    ]


async def _postgres_bytes(conn: AsyncConnection, table_name: str) -> int:
    size = await conn.scalar(
        text(
            "SELECT COALESCE(sum(pg_total_relation_size(relid)), 0) FROM pg_partition_tree(CAST(:t AS regclass))"
        ),
        {"t": table_name},
    )
    return int(size or 0)


async def _sqlite_bytes(conn: AsyncConnection, tables: Sequence[tuple[str, int]]) -> list[int]:
    try:
        sizes = []
        for name, _ in tables:
            size = await conn.scalar(
                text(
                    "SELECT COALESCE(sum(pgsize), 0) FROM dbstat WHERE name = :t OR name IN"
                    " (SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = :t)"
                ),
                {"t": name},
            )
            sizes.append(int(size or 0))
        return sizes
    except DBAPIError:  # "no such table: dbstat": the library was built without it
        await conn.rollback()
    file_bytes = int(
        await conn.scalar(text("SELECT page_count * page_size FROM pragma_page_count, pragma_page_size")) or 0
    )
    all_rows = sum(rows for _, rows in tables)
    return [file_bytes * rows // all_rows if all_rows else 0 for _, rows in tables]
