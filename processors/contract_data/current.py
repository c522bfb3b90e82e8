"""Current storage (`contract_data_current`) from one batch's rows: the processor's ``after_write``.

The engine writes the tenant's history rows and TTL moves, then calls `after_write` in the same transaction
with them. Here they are folded, in order-key order, into the last state of each key the batch touches:

- a history row replaces the key's state; what the row does not know keeps its last known value: the key and
  value of an evicted row (the ledger does not show them), ``live_until_ledger`` of a change whose ledger
  did not touch the TTL (an update that did not extend it);
- a TTL move changes ``live_until_ledger`` (and the row's ``ledger_sequence``) of a key already in the
  batch's state, else of the stored current row with that key hash, if the tenant has one. A move never
  creates a row: it names only a key hash, and the tenant's filter may not want that key.

Then `current_sql.write_current` applies it: stored rows move first (so a data change later in
the batch builds on the moved TTL), then the upserts, each replacing a stored row only with data of the same or
a later ledger, so re-ingesting any range, or an older one, never moves current state backwards; finally the
batch's TTL moves are deleted from the staging table.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from processors.contract_data.config import ContractDataConfig
from processors.contract_data.current_sql import write_current
from processors.contract_data.table import HISTORY, KEY_COLUMNS, TTL_UPDATES, VALUE_COLUMNS

__all__ = ["CurrentPlan", "after_write", "plan_current"]

Row = dict[str, Any]

PROCESSOR = "contract_data"  # the processor's name, under which the engine passes its rows
_COPIED = ("tenant_id", "contract_id", "key_hash", "change", "durability", "deleted", "closed_at")


@dataclass(frozen=True)
class CurrentPlan:
    """What one batch does to a tenant's current storage."""

    upserts: list[Row]  # one full current row per key changed in the batch
    moves: list[Row]  # last TTL move per key hash not changed in the batch: applied to stored rows
    staged: tuple[int, int] | None  # ledger range of the batch's TTL moves, to clear from staging


def plan_current(history: Sequence[Mapping[str, Any]], moves: Sequence[Mapping[str, Any]]) -> CurrentPlan:
    """Fold a batch's history rows and TTL moves (one tenant) into upserts and stored-row moves."""
    items = sorted(
        [(_order(row), True, row) for row in history] + [(_order(move), False, move) for move in moves],
        key=lambda item: item[0],
    )
    state: dict[str, Row] = {}  # key hash -> current row (a key hash names one contract's key)
    stored_moves: dict[str, Row] = {}
    for _, is_history, row in items:
        key_hash = row["key_hash"]
        if is_history:
            state[key_hash] = _fold(state.get(key_hash), row)
            continue
        current = state.get(key_hash)
        if current is None:
            stored_moves[key_hash] = dict(row)
        else:
            current["live_until_ledger"] = row["live_until_ledger"]
            current["ledger_sequence"] = row["ledger_sequence"]
            current["closed_at"] = row["closed_at"]
    ledgers = [move["ledger_sequence"] for move in moves]
    staged = (min(ledgers), max(ledgers)) if ledgers else None
    # Rows are written in key order: batches of one tenant committed concurrently (parallel backfill
    # ranges) then lock shared keys in the same order and cannot deadlock on them.
    upserts = sorted(state.values(), key=lambda row: (row["contract_id"], row["key_hash"]))
    return CurrentPlan(upserts, sorted(stored_moves.values(), key=lambda row: row["key_hash"]), staged)


def _order(row: Mapping[str, Any]) -> tuple[int, int, int, int]:
    return (row["ledger_sequence"], row["transaction_index"], row["operation_index"], row["event_index"])


def _fold(previous: Row | None, row: Mapping[str, Any]) -> Row:
    """The current row after history `row`, given the key's state earlier in the batch (if any)."""
    current = {name: row[name] for name in _COPIED}
    source: Mapping[str, Any] = row
    if previous is not None and row["key_xdr"] is None:
        source = previous
    current.update((name, source[name]) for name in KEY_COLUMNS)
    source = previous if previous is not None and row["value_xdr"] is None else row
    current.update((name, source[name]) for name in VALUE_COLUMNS)
    live_until = row["live_until_ledger"]
    if live_until is None and previous is not None:
        live_until = previous["live_until_ledger"]
    current["live_until_ledger"] = live_until
    current["last_change_id"] = row["id"]
    current["last_change_ledger"] = row["ledger_sequence"]
    current["ledger_sequence"] = row["ledger_sequence"]
    return current


async def after_write(
    conn: AsyncConnection,
    tenant_id: str,
    rows: Mapping[str, Mapping[str, list[Row]]],
    config: ContractDataConfig,
) -> None:
    """Bring the tenant's current storage up to date with the batch (see the module docstring)."""
    mine = rows.get(PROCESSOR, {})
    plan = plan_current(mine.get(HISTORY, []), mine.get(TTL_UPDATES, []))
    await write_current(conn, tenant_id, plan.upserts, plan.moves, plan.staged)
