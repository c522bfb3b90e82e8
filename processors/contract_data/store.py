"""The SQL of `contract_data_current` maintenance (called by `current.after_write`, inside the ingestion
transaction). SQLAlchemy Core, the same statements on PostgreSQL and SQLite.

Why not `storage.hot_writes.write_rows` ("latest" mode): it replaces every column of a current row, while
here a change that does not know the key, the value or the TTL (an eviction, an update that did not extend
the TTL) must keep the stored ones, and a TTL move updates one column of a row it cannot name in full.
DESIGN wants SQL under ``storage/``; these helpers are written so they can move there unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import bindparam, case, delete, func, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from processors.contract_data.table import (
    KEY_COLUMNS,
    VALUE_COLUMNS,
    contract_data_current,
    contract_data_ttl_updates,
)
from storage.db import dialect_name

__all__ = ["write_current"]


async def write_current(
    conn: AsyncConnection,
    tenant_id: str,
    upserts: Sequence[Mapping[str, Any]],
    moves: Sequence[Mapping[str, Any]],
    staged: tuple[int, int] | None,
) -> None:
    """Apply `moves` to stored rows, then `upserts`, then clear the tenant's staged TTL moves in `staged`."""
    if moves:
        await _move_ttls(conn, tenant_id, moves)
    if upserts:
        await _upsert(conn, upserts)
    if staged is not None:
        staging = contract_data_ttl_updates
        await conn.execute(
            delete(staging).where(
                staging.c.tenant_id == tenant_id, staging.c.ledger_sequence.between(*staged)
            )
        )


async def _move_ttls(conn: AsyncConnection, tenant_id: str, moves: Sequence[Mapping[str, Any]]) -> None:
    table = contract_data_current
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


async def _upsert(conn: AsyncConnection, rows: Sequence[Mapping[str, Any]]) -> None:
    table = contract_data_current
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
        if name in KEY_COLUMNS:
            updates[name] = case((keep_key, column), else_=new[name])
        elif name in VALUE_COLUMNS:
            updates[name] = case((keep_value, column), else_=new[name])
        elif name == "live_until_ledger":
            updates[name] = func.coalesce(new[name], column)
        else:
            updates[name] = new[name]
    statement = statement.on_conflict_do_update(
        index_elements=key, set_=updates, where=table.c.ledger_sequence <= new.ledger_sequence
    )
    await conn.execute(statement, list(rows))
