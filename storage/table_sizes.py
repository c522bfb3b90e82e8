"""How much room a tenant's rows take in the hot store, for the cost report.

Tables are shared by every tenant, so a tenant is attributed a table's bytes by its share of the table's rows
(`tenant rows * table bytes // table rows`, exact integers). Precision (the report is requested by tenants, so it
must not cost a scan of everyone's rows):
- the tenant's rows are counted exactly: every processor table has an index led by `tenant_id` (checked here;
  a table without one is refused), so the count reads the tenant's index entries and no one else's;
- a table's rows of every tenant are, in PostgreSQL, the planner's estimate (`pg_class.reltuples` summed over
  the leaf partitions, as of the last ANALYZE or autovacuum: typically within a few percent; a partition never
  analyzed counts 0) and never fewer than the tenant's exact rows; in SQLite (the embedded mode, one user)
  they are counted exactly.
A table's bytes:
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


def tenant_bounded(table: Table) -> bool:
    """Whether an index (or the primary key) of `table` starts with `tenant_id`, so one tenant's count reads only
    its own entries."""
    leads = [list(index.columns)[:1] for index in table.indexes]
    leads.append(list(table.primary_key.columns)[:1])
    return any(lead and lead[0].name == "tenant_id" for lead in leads)


async def hot_shares(conn: AsyncConnection, tables: Sequence[Table], tenant_id: str) -> list[HotShare]:
    """Each table's rows (estimated in PostgreSQL, see the module docstring) and bytes, and the tenant's exact
    rows of it (tables with a `tenant_id` column led index)."""
    counts = []
    for table in tables:
        if not tenant_bounded(table):
            raise ValueError(
                f"table {table.name} has no index led by tenant_id: counting a tenant would scan it"
            )
        mine = int(
            await conn.scalar(select(func.count()).select_from(table).where(table.c.tenant_id == tenant_id))
            or 0
        )
        if conn.dialect.name == "postgresql":
            total = max(mine, await _postgres_estimated_rows(conn, table.name))
        else:
            total = int(await conn.scalar(select(func.count()).select_from(table)) or 0)
        counts.append((table, total, mine))
    if conn.dialect.name == "postgresql":
        sizes = [await _postgres_bytes(conn, table.name) for table, _, _ in counts]
    else:
        sizes = await _sqlite_bytes(conn, [(table.name, total) for table, total, _ in counts])
    return [
        HotShare(table.name, total, size, mine)
        for (table, total, mine), size in zip(counts, sizes, strict=True)
    ]


async def _postgres_estimated_rows(conn: AsyncConnection, table_name: str) -> int:
    # reltuples is -1 for a relation never analyzed (PostgreSQL 14+) and 0 for a partitioned parent.
    rows = await conn.scalar(
        text(
            "SELECT COALESCE(sum(GREATEST(c.reltuples, 0)), 0) FROM pg_partition_tree(CAST(:t AS regclass)) p"
            " JOIN pg_class c ON c.oid = p.relid WHERE p.isleaf"
        ),
        {"t": table_name},
    )
    return int(rows or 0)


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
