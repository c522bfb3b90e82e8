"""Monthly range partitions on PostgreSQL (nothing to do on SQLite).

Partitioned tables on PostgreSQL are RANGE-partitioned by one timestamp column into monthly partitions named
``<table>_pYYYYMM``, plus a DEFAULT partition ``<table>_default`` that catches anything outside them, so a
write never fails for want of a partition. The work is done by the SQL function
``obsrvr_ensure_monthly_partitions(parent, from_ts, to_ts)`` installed by the first migration; this module
calls it (from code, from the daily maintenance job, and from migrations of new partitioned tables).

Processor tables: history/event tables are RANGE-partitioned by ``closed_at`` (the ledger close time). Define
them with ``**partition_table_kwargs()`` and make every unique key (primary key included) contain
``closed_at`` — PostgreSQL refuses a unique key on a partitioned table that lacks the partition column. Their
migration then calls ``prepare_partitioned_table(op.get_bind(), "<table>")`` after ``op.create_table``.
Wrap the `Table` in ``add_default_partition(...)`` too, so a schema built by ``metadata.create_all`` (tests)
also gets the DEFAULT partition and accepts writes.

Example::

    transfers = add_default_partition(
        Table(
            "transfers", metadata,
            Column("closed_at", UTCDateTime, nullable=False), ...,
            PrimaryKeyConstraint("ledger_sequence", ..., "closed_at"),
            **partition_table_kwargs(),
        )
    )
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DDL, DateTime, Table, bindparam, event, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

PARTITION_COLUMN = "closed_at"

_ENSURE = text(
    "SELECT obsrvr_ensure_monthly_partitions(CAST(CAST(:table AS text) AS regclass), :start, :end)"
).bindparams(
    bindparam("start", type_=DateTime(timezone=True)), bindparam("end", type_=DateTime(timezone=True))
)


def partition_table_kwargs(column: str = PARTITION_COLUMN) -> dict[str, Any]:
    """Keyword arguments for `Table(...)` / `op.create_table(...)` that make a table RANGE-partitioned by
    `column` on PostgreSQL (ignored on SQLite). Unique keys of such a table must include `column`."""
    return {"postgresql_partition_by": f"RANGE ({column})"}


def add_default_partition(table: Table) -> Table:
    """Have `metadata.create_all` give `table` its DEFAULT partition on PostgreSQL, so it accepts writes.

    Migrations do not need this (`prepare_partitioned_table` does it); it is for schemas built from metadata.
    """
    ddl = DDL(f"CREATE TABLE IF NOT EXISTS {table.name}_default PARTITION OF {table.name} DEFAULT")
    event.listen(table, "after_create", ddl.execute_if(dialect="postgresql"))
    return table


def prepare_partitioned_table(
    bind: Connection, table: str, months_back: int = 1, months_ahead: int = 3
) -> int:
    """From a migration (``op.get_bind()``): create the DEFAULT partition and the monthly partitions from
    `months_back` months ago to `months_ahead` months ahead. Returns how many monthly partitions it made."""
    if bind.dialect.name != "postgresql":
        return 0
    now = datetime.now(UTC)
    start, end = add_months(now, -months_back), add_months(now, months_ahead)
    return int(bind.execute(_ENSURE, {"table": table, "start": start, "end": end}).scalar_one())


async def ensure_partitions(conn: AsyncConnection, table: str, start: datetime, end: datetime) -> int:
    """Create the monthly partitions of `table` covering the months of `start`..`end` that are missing.

    Runs on the caller's connection and transaction. Returns the number created (always 0 on SQLite).
    """
    if conn.dialect.name != "postgresql":
        return 0
    params = {"table": table, "start": _aware(start), "end": _aware(end)}
    return int((await conn.execute(_ENSURE, params)).scalar_one())


async def partitioned_tables(conn: AsyncConnection) -> list[str]:
    """Names of the partitioned tables in the current schema (empty on SQLite)."""
    if conn.dialect.name != "postgresql":
        return []
    result = await conn.execute(
        text(
            "SELECT c.relname FROM pg_partitioned_table p"
            " JOIN pg_class c ON c.oid = p.partrelid"
            " JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = current_schema() ORDER BY c.relname"
        )
    )
    return [str(name) for name in result.scalars()]


async def ensure_partitions_ahead(
    engine: AsyncEngine, months_ahead: int, now: datetime | None = None
) -> dict[str, int]:
    """For every partitioned table, make sure the partitions from this month to `months_ahead` months ahead
    exist. Returns ``{table: partitions created}``; idempotent, so the daily job may run any number of times.

    Each table is done in its own transaction, so one table's trouble does not hold back the others' locks.
    """
    if engine.dialect.name != "postgresql":
        return {}
    now = _aware(now or datetime.now(UTC))
    async with engine.connect() as conn:
        tables = await partitioned_tables(conn)
    created: dict[str, int] = {}
    for table in tables:
        async with engine.begin() as conn:
            created[table] = await ensure_partitions(conn, table, now, add_months(now, months_ahead))
    return created


def add_months(moment: datetime, months: int) -> datetime:
    """`moment` moved by whole calendar months, clamped to the first of the month (enough for partitions)."""
    index = moment.year * 12 + (moment.month - 1) + months
    return moment.replace(year=index // 12, month=index % 12 + 1, day=1)


def _aware(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
