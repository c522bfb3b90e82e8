"""Bulk, idempotent writes of processor rows into the hot store.

Rows of a history table are inserted with `ON CONFLICT DO NOTHING` on the natural key, so writing a ledger twice
changes nothing. Rows of a current table are upserted, replacing a row only with one from the same or a later
ledger. Rows go out as multi-row `INSERT ... VALUES (...), (...), ...` statements, as many rows per statement as the
bind-parameter limit allows, never one statement (or one prepared-statement execution) per row. Dialect
differences stay in this module.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from storage.db import dialect_name

MAX_PARAMETERS = 32_000


def _insert(conn: AsyncConnection, table: Table) -> Any:
    return (postgresql.insert if dialect_name(conn) == "postgresql" else sqlite.insert)(table)


async def write_rows(conn: AsyncConnection, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """Write `rows` into `table` as its `info["write"]` mode says ("insert" or "latest")."""
    if not rows:
        return
    statement = _insert(conn, table)
    key = [c.name for c in table.primary_key.columns]
    if table.info.get("write", "insert") == "insert":
        statement = statement.on_conflict_do_nothing(index_elements=key)
    else:
        updates = {c.name: statement.excluded[c.name] for c in table.columns if c.name not in key}
        statement = statement.on_conflict_do_update(
            index_elements=key,
            set_=updates,
            where=table.c.ledger_sequence <= statement.excluded.ledger_sequence,
        )
    if table.info.get("write") == "latest":
        rows = _last_per_key(rows, key)
    # One multi-row statement takes its columns from the first row: give every row every column (None where
    # a row has no value), so a key only later rows carry is never dropped, and a stray key is an error.
    names = [c.name for c in table.columns]
    unknown = {k for row in rows for k in row} - set(names)
    if unknown:
        raise ValueError(f"rows for {table.name} have unknown columns: {', '.join(sorted(unknown))}")
    rows = [{name: row.get(name) for name in names} for row in rows]
    # Both PostgreSQL and SQLite (>= 3.32) accept 32766 bind parameters per statement.
    per_statement = max(1, MAX_PARAMETERS // len(table.columns))
    for start in range(0, len(rows), per_statement):
        await conn.execute(statement.values(list(rows[start : start + per_statement])))


def _last_per_key(rows: Sequence[Mapping[str, Any]], key: list[str]) -> list[Mapping[str, Any]]:
    # One statement may not touch the same row twice (PostgreSQL refuses ON CONFLICT DO UPDATE on a row it
    # already inserted in the same command): keep the last state of each key, rows being in apply order.
    latest: dict[tuple[Any, ...], Mapping[str, Any]] = {}
    for row in rows:
        latest[tuple(row[k] for k in key)] = row
    return list(latest.values())
