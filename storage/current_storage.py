"""The SQL of contract data's current-storage maintenance (called by the processor's `after_write`, inside the
ingestion transaction). SQLAlchemy Core, the same statements on PostgreSQL and SQLite. The processor passes its
tables in (`CurrentStorage`): storage never imports a processor.

Why not `storage.hot_writes.write_rows` ("latest" mode): it replaces every column of a current row, while
here a change that does not know the key, the value or the TTL (an eviction, an update that did not extend
the TTL) must keep the stored ones, and a TTL move updates one column of a row it cannot name in full.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table, bindparam, case, delete, func, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from storage.db import dialect_name

__all__ = ["CurrentStorage", "write_current"]


@dataclass(frozen=True)
class CurrentStorage:
    """The processor's tables: current rows, staged TTL moves, and which columns describe the key and the
    value (kept from the stored row when a change does not know them)."""

    current: Table
    staging: Table
    key_columns: tuple[str, ...]
    value_columns: tuple[str, ...]


async def write_current(
    conn: AsyncConnection,
    tables: CurrentStorage,
    tenant_id: str,
    upserts: Sequence[Mapping[str, Any]],
    moves: Sequence[Mapping[str, Any]],
    staged: tuple[int, int] | None,
) -> None:
    """Apply `moves` to stored rows, then `upserts`, then clear the tenant's staged TTL moves in `staged`."""
    if moves:
        await _move_ttls(conn, tables.current, tenant_id, moves)
    if upserts:
        await _upsert(conn, tables, upserts)
    if staged is not None:
        staging = tables.staging
        await conn.execute(
            delete(staging).where(
                staging.c.tenant_id == tenant_id, staging.c.ledger_sequence.between(*staged)
            )
        )


async def _move_ttls(
    conn: AsyncConnection, table: Table, tenant_id: str, moves: Sequence[Mapping[str, Any]]
) -> None:
    # Bind names differ from column names: SQLAlchemy reserves a column's own name in UPDATE ... VALUES.
    statement = (
        update(table)
        .where(
            table.c.tenant_id == bindparam("b_tenant"),
            table.c.key_hash == bindparam("b_key_hash"),
            table.c.ledger_sequence <= bindparam("b_ledger"),
        )
        .values(
            live_until_ledger=bindparam("b_live_until"),
            ledger_sequence=bindparam("b_ledger"),
            closed_at=bindparam("b_closed_at", type_=table.c.closed_at.type),
        )
    )
    await conn.execute(
        statement,
        [
            {
                "b_tenant": tenant_id,
                "b_key_hash": move["key_hash"],
                "b_ledger": move["ledger_sequence"],
                "b_live_until": move["live_until_ledger"],
                "b_closed_at": move["closed_at"],
            }
            for move in moves
        ],
    )


async def _upsert(conn: AsyncConnection, tables: CurrentStorage, rows: Sequence[Mapping[str, Any]]) -> None:
    table = tables.current
    insert = postgresql.insert if dialect_name(conn) == "postgresql" else sqlite.insert
    statement = insert(table)
    new = statement.excluded
    key = [column.name for column in table.primary_key.columns]
    keep_key = new.key_xdr.is_(None)  # an eviction: the stored key stays
    keep_value = new.value_xdr.is_(None)
    updates: dict[str, Any] = {}
    for column in table.columns:
        name = column.name
        if name in key:
            continue
        if name in tables.key_columns:
            updates[name] = case((keep_key, column), else_=new[name])
        elif name in tables.value_columns:
            updates[name] = case((keep_value, column), else_=new[name])
        elif name == "live_until_ledger":
            updates[name] = func.coalesce(new[name], column)
        else:
            updates[name] = new[name]
    statement = statement.on_conflict_do_update(
        index_elements=key, set_=updates, where=table.c.ledger_sequence <= new.ledger_sequence
    )
    await conn.execute(statement, list(rows))
