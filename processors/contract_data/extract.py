"""Contract data changes of one ledger → ``contract_data`` rows and TTL moves (see `processors.contract_data`).

Walk, in application order (REFERENCE §2), of every transaction with a Soroban operation: its changes before,
each operation's changes, its changes after; then, at ledger level, the upgrades' changes and the evicted keys.
Only Soroban transactions are read because only the Soroban host writes contract data and TTL entries (a
classic operation cannot); converting every classic operation's entry changes would cost ~3x more (measured
on the 20 mainnet ledgers). The corpus test walks every change list of the raw XDR to prove nothing is missed.

Within one change list (an operation's changes, say):

- a ``state`` change is the entry before the next change of the same key: it gives a removed row its key and
  last value (as stellar-etl does) and is not a row itself;
- every ``created``/``updated``/``removed``/``restored`` contract data change is a row;
- ``live_until_ledger`` of a row is the key's TTL at the end of the list, i.e. the TTL entry changed in the
  same list (created with the entry, extended with it, restored with it) or, failing that, the last TTL
  change of the key seen earlier in the ledger; null when the ledger shows none (an update that did not
  extend the TTL) and for removed rows;
- a TTL change of a key without a data change in the same list is a *TTL move*: a row of the staging table
  `contract_data_ttl_updates`, which ``after_write`` applies to the tenant's current rows. A TTL entry names
  only the key hash, so what the move's key is (contract, durability, key symbol) is known only when the same
  ledger changes that key's data elsewhere; `select` uses it then.

Order key: ``operation_index`` is the operation's (0 for the transaction's changes before and after);
``event_index`` counts, from 0 per transaction, the rows and TTL moves in application order (so history ids
skip the positions of moves). Ledger-level rows (upgrades, then evictions) get ``transaction_index`` 2^20-1,
the largest a TOID holds, so they sort after every transaction of their ledger, which is when stellar-core
applies them; their ``tx_hash`` is null and ``in_successful_tx`` true.

Evictions: ``LedgerView.evicted_keys`` gives the contract, durability and key hash, not the key itself, so an
evicted row has null key, value and instance columns (the current row keeps its last known ones).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from core.ids import row_id
from ledgers.model import ContractDataEntry, EntryChange, EntryKey, TtlEntry, gc_paused
from ledgers.scval import ScValue
from ledgers.view import LedgerView
from processors.contract_data.instances import INSTANCE_KEY_TYPE, instance_info
from processors.contract_data.table import HISTORY, TTL_UPDATES
from processors.scvalues import friendly, shared, xdr_b64

__all__ = ["LEDGER_LEVEL", "SOROBAN_OPERATIONS", "extract", "key_symbol"]

Row = dict[str, Any]

SOROBAN_OPERATIONS = frozenset({"INVOKE_HOST_FUNCTION", "EXTEND_FOOTPRINT_TTL", "RESTORE_FOOTPRINT"})
LEDGER_LEVEL = (1 << 20) - 1  # transaction index of ledger-level rows: the largest a TOID can hold
_DATA = "contract_data"
_TTL = "ttl"
_STATE = "state"
_REMOVED = "removed"
_EVICTED = "evicted"
_SYMBOL_MAX = 32  # Soroban symbols have at most 32 characters (the key_symbol column's width)


def extract(view: LedgerView) -> dict[str, list[Row]]:
    """``{"contract_data": rows, "contract_data_ttl_updates": moves}`` for one ledger."""
    # Rows and their strings form no reference cycles: pausing the collector keeps it from rescanning the
    # decoded ledger while rows are allocated (see `gc_paused`).
    with gc_paused():
        walk = _LedgerWalk(view.sequence, view.closed_at, view.network_passphrase)
        for tx in view.transactions:
            if tx.operation_count != 1:  # a Soroban transaction has exactly one operation
                continue
            operations = tx.operations
            if operations[0].type not in SOROBAN_OPERATIONS:
                continue
            position = walk.transaction(tx.index, tx.hash, tx.successful)
            walk.change_list(position, 0, tx.changes_before)
            for op in operations:
                walk.change_list(position, op.index, op.changes)
            walk.change_list(position, 0, tx.changes_after)
        ledger = walk.transaction(LEDGER_LEVEL, None, True)
        for upgrade in view.upgrade_changes:
            walk.change_list(ledger, 0, upgrade.changes)
        walk.evictions(ledger, view.evicted_keys)
        return walk.finish()


def key_symbol(key: ScValue) -> str | None:
    """The symbol a key is filtered by: the key itself if a symbol, else a vector key's first element if a
    symbol (``["Balance", addr]`` → ``Balance``). None otherwise, or for text a text column cannot hold."""
    symbol = key.symbol
    if symbol is None and key.type == "vec":
        items = key.vec
        if items:
            symbol = items[0].symbol
    if symbol is None or "\x00" in symbol or len(symbol) > _SYMBOL_MAX:
        return None
    return symbol


@dataclass
class _Position:
    """The order-key prefix of one transaction (or of the ledger level) and its running event index."""

    common: Row
    next_event: int = 0

    def take(self) -> int:
        index = self.next_event
        self.next_event += 1
        return index


class _LedgerWalk:
    """The state of one ledger's walk: TTLs seen so far, what each key hash is, and the rows built."""

    def __init__(self, sequence: int, closed_at: datetime, passphrase: str) -> None:
        self.sequence = sequence
        self.closed_at = closed_at
        self.passphrase = passphrase
        self.rows: list[Row] = []
        self.moves: list[Row] = []
        self.ttl: dict[str, int] = {}  # key hash -> live_until_ledger, as of the walk's position
        # key hash -> (contract_id, durability, key_type, key_symbol) from this ledger's data changes
        self.known: dict[str, tuple[str, str, str | None, str | None]] = {}

    def transaction(self, index: int, tx_hash: str | None, successful: bool) -> _Position:
        return _Position(
            {
                "ledger_sequence": self.sequence,
                "closed_at": self.closed_at,
                "tx_hash": tx_hash,
                "transaction_index": index,
                "in_successful_tx": successful,
            }
        )

    def change_list(self, position: _Position, op_index: int, changes: Iterable[EntryChange]) -> None:
        """Rows and TTL moves of one change list (see the module docstring)."""
        states: dict[str, ContractDataEntry] = {}
        items: list[tuple[EntryChange, ContractDataEntry | None]] = []  # in list order; entry None for TTL
        data_keys: set[str] = set()
        for change in changes:
            kind = change.entry_type
            if kind == _DATA:
                key_hash = change.key.key_hash or ""
                entry = change.entry
                if change.kind == _STATE:
                    if isinstance(entry, ContractDataEntry):
                        states[key_hash] = entry
                    continue
                if not isinstance(entry, ContractDataEntry):  # removed: the entry as it was
                    entry = states.get(key_hash)
                items.append((change, entry))
                data_keys.add(key_hash)
            elif kind == _TTL and change.kind != _STATE:
                key_hash = change.key.key_hash or ""
                if isinstance(change.entry, TtlEntry):
                    self.ttl[key_hash] = change.entry.live_until_ledger_seq
                    items.append((change, None))
                else:  # removed with its entry: no TTL any more
                    self.ttl.pop(key_hash, None)
        for change, entry in items:
            key_hash = change.key.key_hash or ""
            if change.entry_type == _DATA:
                self.rows.append(self._data_row(position, op_index, change, entry))
            elif key_hash not in data_keys:
                assert isinstance(change.entry, TtlEntry)
                self.moves.append(
                    self._move(position, op_index, key_hash, change.entry.live_until_ledger_seq)
                )

    def evictions(self, position: _Position, keys: Iterable[EntryKey]) -> None:
        """Evicted contract data keys (evicted TTL and code keys are not this processor's)."""
        for key in keys:
            if key.entry_type != _DATA:
                continue
            contract_id, key_hash = key.contract_id or "", key.key_hash or ""
            durability = key.durability or ""
            self.known.setdefault(key_hash, (contract_id, durability, None, None))
            self.ttl.pop(key_hash, None)
            self.rows.append(
                self._row(position, 0, contract_id, key_hash, _EVICTED, durability, _UNKNOWN_ENTRY, None)
            )

    def finish(self) -> dict[str, list[Row]]:
        for move in self.moves:
            known = self.known.get(move["key_hash"])
            if known is not None:
                move["contract_id"], move["durability"], move["key_type"], move["key_symbol"] = known
        return {HISTORY: self.rows, TTL_UPDATES: self.moves}

    # -- rows ---------------------------------------------------------------------------------------------------
    def _data_row(
        self, position: _Position, op_index: int, change: EntryChange, entry: ContractDataEntry | None
    ) -> Row:
        key = change.key
        contract_id, key_hash = key.contract_id or "", key.key_hash or ""
        durability = key.durability or ""
        if entry is None:  # a removal without the entry before it (meta always lists one)
            columns = _UNKNOWN_ENTRY
            self.known.setdefault(key_hash, (contract_id, durability, None, None))
        else:
            columns = self._entry_columns(contract_id, entry)
            self.known[key_hash] = (contract_id, durability, columns["key_type"], columns["key_symbol"])
        removed = change.kind == _REMOVED
        live_until = None if removed else self.ttl.get(key_hash)
        return self._row(
            position, op_index, contract_id, key_hash, change.kind, durability, columns, live_until
        )

    def _row(
        self,
        position: _Position,
        op_index: int,
        contract_id: str,
        key_hash: str,
        change: str,
        durability: str,
        columns: Row,
        live_until: int | None,
    ) -> Row:
        common = position.common
        event_index = position.take()
        return {
            **common,
            "id": row_id(self.sequence, common["transaction_index"], op_index, event_index),
            "operation_index": op_index,
            "event_index": event_index,
            "contract_id": contract_id,
            "key_hash": key_hash,
            "change": change,
            "durability": durability,
            **columns,
            "live_until_ledger": live_until,
            "deleted": change in (_REMOVED, _EVICTED),
        }

    def _entry_columns(self, contract_id: str, entry: ContractDataEntry) -> Row:
        key, value = shared(entry.key), shared(entry.value)
        key_type = key.type
        value_json = friendly(value)
        wasm_hash = asset = None
        if key_type == INSTANCE_KEY_TYPE:
            wasm_hash, asset = instance_info(contract_id, value_json, self.passphrase)
        return {
            "key": friendly(key),
            "key_xdr": xdr_b64(key),
            "key_type": key_type,
            "key_symbol": key_symbol(key),
            "value": value_json,
            "value_xdr": xdr_b64(value),
            "instance_wasm_hash": wasm_hash,
            "instance_asset": asset,
        }

    def _move(self, position: _Position, op_index: int, key_hash: str, live_until: int) -> Row:
        common = position.common
        return {
            "ledger_sequence": self.sequence,
            "closed_at": self.closed_at,
            "transaction_index": common["transaction_index"],
            "operation_index": op_index,
            "event_index": position.take(),
            "key_hash": key_hash,
            "live_until_ledger": live_until,
            "contract_id": None,
            "durability": None,
            "key_type": None,
            "key_symbol": None,
        }


# The entry columns of a row whose entry the ledger does not show (evictions).
_UNKNOWN_ENTRY: Row = {
    "key": None,
    "key_xdr": None,
    "key_type": None,
    "key_symbol": None,
    "value": None,
    "value_xdr": None,
    "instance_wasm_hash": None,
    "instance_asset": None,
}
