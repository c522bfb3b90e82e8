"""Bulk, idempotent writes of processor rows into the hot store.

Rows of a history table are inserted with `ON CONFLICT DO NOTHING` on the natural key, so writing a ledger twice
changes nothing. Rows of a current table are upserted, replacing a row only with one from the same or a later
ledger. On PostgreSQL rows go through ``COPY`` into a staging table and one ``INSERT ... SELECT`` with those
conflict clauses (`storage.copy_writes`); on SQLite as one prepared `INSERT` stepped over every row (the
driver's `executemany`: in-process, no round trip per row). Never one statement per row over a network: the
multi-row `INSERT ... VALUES (...), (...), ...` of `insert_values` is what PostgreSQL would take without COPY.
Dialect differences stay in storage.
"""

from __future__ import annotations

import operator
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from storage.copy_writes import CopyJob, copy_tables
from storage.db import dialect_name

MAX_PARAMETERS = 32_000


def _insert(conn: AsyncConnection, table: Table) -> Any:
    return (postgresql.insert if dialect_name(conn) == "postgresql" else sqlite.insert)(table)


async def write_rows(conn: AsyncConnection, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """Write `rows` into `table` as its `info["write"]` mode says ("insert" or "latest")."""
    await write_tables(conn, [(table, rows)])


async def write_tables(
    conn: AsyncConnection, tables: Sequence[tuple[Table, Sequence[Mapping[str, Any]]]]
) -> None:
    """`write_rows` of each (table, rows) in order, in the caller's transaction. On PostgreSQL one table's rows
    are checked and converted while the previous table's move runs (`copy_writes.copy_tables`)."""
    if dialect_name(conn) == "postgresql":
        await copy_tables(conn, (_copy_job(table, rows) for table, rows in tables))
        return
    for table, rows in tables:
        job = _copy_job(table, rows)
        if job is not None:
            await insert_values(conn, table, job[1], latest=job[2] == "latest")


def write_mode(table: Table) -> str:
    """How rows of `table` are written: "insert" (rows already there are left as they are) or "latest"."""
    return str(table.info.get("write", "insert"))


def _copy_job(table: Table, rows: Sequence[Mapping[str, Any]]) -> CopyJob | None:
    """The rows checked (known columns only) and, for a "latest" table, one per key: what to write and how."""
    if not rows:
        return None
    mode = write_mode(table)
    if mode not in ("insert", "latest"):
        raise ValueError(f"table {table.name} has an unknown write mode {mode!r}")
    latest = mode == "latest"
    known = frozenset(c.name for c in table.columns)
    # A stray key is an error. Every row's keys gathered in one C call (`set.union` over the dicts), then one
    # comparison: a generator testing row by row showed in the ingestion profile (issue 16).
    if not known.issuperset(set().union(*rows)):
        unknown = {k for row in rows for k in row} - known
        raise ValueError(f"rows for {table.name} have unknown columns: {', '.join(sorted(unknown))}")
    if latest:
        rows = last_per_key(rows, [c.name for c in table.primary_key.columns])
    return table, rows, "latest" if latest else "ignore"


async def insert_values(
    conn: AsyncConnection, table: Table, rows: Sequence[Mapping[str, Any]], *, latest: bool
) -> None:
    """The ``INSERT ... VALUES`` path: SQLite's, one prepared statement for every row; on PostgreSQL (which
    writes by COPY, and compares this path with it) multi-row statements. `latest` rows must hold one row per
    key."""
    key = [c.name for c in table.primary_key.columns]
    statement = _insert(conn, table)
    if not latest:
        statement = statement.on_conflict_do_nothing(index_elements=key)
    else:
        updates = {c.name: statement.excluded[c.name] for c in table.columns if c.name not in key}
        statement = statement.on_conflict_do_update(
            index_elements=key,
            set_=updates,
            where=table.c.ledger_sequence <= statement.excluded.ledger_sequence,
        )
    # One multi-row statement takes its columns from the first row: give every row every column (None where
    # a row has no value), so a key only later rows carry is never dropped.
    names = [c.name for c in table.columns]
    rows = [{name: row.get(name) for name in names} for row in rows]
    if dialect_name(conn) == "sqlite":
        # sqlite3 steps one compiled statement over the rows in C: ~15x faster than compiling a multi-row
        # statement of the same rows (SQLAlchemy compiles each anew, its shape differing batch to batch), and
        # in-process there is no round trip to save. Same values: each column's converter binds them.
        await conn.execute(statement, rows)
        return
    # Both PostgreSQL and SQLite (>= 3.32) accept 32766 bind parameters per statement.
    per_statement = max(1, MAX_PARAMETERS // len(table.columns))
    for start in range(0, len(rows), per_statement):
        await conn.execute(statement.values(list(rows[start : start + per_statement])))


def last_per_key(rows: Sequence[Mapping[str, Any]], key: list[str]) -> list[Mapping[str, Any]]:
    # One statement may not touch the same row twice (PostgreSQL refuses ON CONFLICT DO UPDATE on a row it
    # already inserted in the same command): keep the last state of each key, rows being in apply order.
    # The key of every row by `itemgetter` (in C), not a generator per row: it showed in the ingestion profile.
    key_of = operator.itemgetter(*key)
    return list(dict(zip(map(key_of, rows), rows, strict=True)).values())
