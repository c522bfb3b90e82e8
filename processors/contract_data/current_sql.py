"""Writing a batch's plan for current storage (`current.plan_current`) on the derived-state toolkit
(`storage.derived`), in the ingestion transaction.

Why not the engine's "latest" write of current tables: it replaces every column of a current row, while here a
change that does not know the key, the value or the TTL (an eviction, an update that did not extend the TTL)
must keep the stored ones, and a TTL move updates one column of a row it cannot name in full.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import case, func
from sqlalchemy.ext.asyncio import AsyncConnection

from processors.contract_data.table import (
    KEY_COLUMNS,
    VALUE_COLUMNS,
    contract_data_current,
    contract_data_ttl_updates,
)
from storage.derived import delete_matching, update_each, upsert
from storage.query import Filter

__all__ = ["write_current"]

_TTL_MOVE = {
    "live_until_ledger": "live_until_ledger",
    "ledger_sequence": "ledger_sequence",
    "closed_at": "closed_at",
}


async def write_current(
    conn: AsyncConnection,
    tenant_id: str,
    upserts: Sequence[Mapping[str, Any]],
    moves: Sequence[Mapping[str, Any]],
    staged: tuple[int, int] | None,
) -> None:
    """Apply `moves` to stored rows, then `upserts`, then clear the tenant's staged TTL moves in `staged`."""
    if moves:
        # A move lands on the stored row with its key hash, unless that row is already of a later ledger.
        await update_each(
            conn,
            contract_data_current,
            tenant_id,
            {"key_hash": "key_hash"},
            _TTL_MOVE,
            moves,
            not_after=("ledger_sequence", "ledger_sequence"),
        )
    if upserts:
        await upsert(conn, contract_data_current, upserts, _updates, _not_older)
    if staged is not None:
        window = (
            Filter(("ledger_sequence",), "gte", staged[0]),
            Filter(("ledger_sequence",), "lte", staged[1]),
        )
        await delete_matching(conn, contract_data_ttl_updates, tenant_id, window)


def _updates(new: Any) -> dict[str, Any]:
    """A stored row takes the new one's columns, but keeps its key when the new row does not know it (an
    eviction), its value likewise, and its TTL when the new row's ledger did not show it."""
    keep_key = new.key_xdr.is_(None)
    keep_value = new.value_xdr.is_(None)
    updates: dict[str, Any] = {}
    for column in contract_data_current.columns:
        name = column.name
        if name in KEY_COLUMNS:
            updates[name] = case((keep_key, column), else_=new[name])
        elif name in VALUE_COLUMNS:
            updates[name] = case((keep_value, column), else_=new[name])
        elif name == "live_until_ledger":
            updates[name] = func.coalesce(new[name], column)
        else:
            updates[name] = new[name]
    return updates


def _not_older(new: Any) -> Any:
    # Re-ingesting any range, or an older one, never moves current state backwards.
    return contract_data_current.c.ledger_sequence <= new.ledger_sequence
