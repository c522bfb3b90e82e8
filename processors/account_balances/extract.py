"""Account balance rows of one ledger: ``{"account_balances": history, "account_balances_current": current}``.

Every balance change of the ledger (`states.ledger_balances`: accounts, trustlines, claimable balances and
Stellar Asset Contract balances) becomes one history row and one current row. The two lists are PARALLEL (row
``i`` of each describes the same balance), which `select` relies on to filter both with one decision.

All sources are always extracted; `select` drops what a tenant does not keep (trustlines, claimable balances),
so the order key of a row (see `table`) never depends on a tenant's configuration.

A removed entry is written with ``deleted: true``, a zero balance and zero liabilities (the value left the
entry: an account merge, a claimed claimable balance, a closed trustline), its other fields as they were, and
``last_modified_ledger`` the ledger of the removal.
"""

from __future__ import annotations

from typing import Any
from weakref import WeakKeyDictionary

from core.ids import row_id
from ledgers.assets import CLASSIC_DECIMALS, format_amount
from ledgers.model import gc_paused
from ledgers.view import LedgerView
from processors.account_balances.states import BalanceChange, Holding, ledger_balances
from processors.account_balances.table import CURRENT, HISTORY

__all__ = ["balance_fields", "extract", "ledger_balance_fields"]

Row = dict[str, Any]

_fields_memo: WeakKeyDictionary[LedgerView, list[tuple[BalanceChange, Row]]] = WeakKeyDictionary()


def extract(view: LedgerView) -> dict[str, list[Row]]:
    """The history and current rows of every balance that changed in `view` (parallel lists)."""
    with gc_paused():
        sequence = view.sequence
        closed_at = view.closed_at
        history: list[Row] = []
        current: list[Row] = []
        for index, (change, fields) in enumerate(ledger_balance_fields(view)):
            current.append({**fields, "ledger_sequence": sequence, "closed_at": closed_at})
            history.append(
                {
                    "id": row_id(sequence, 0, 0, index),
                    "ledger_sequence": sequence,
                    "transaction_index": 0,
                    "operation_index": 0,
                    "event_index": index,
                    "closed_at": closed_at,
                    "tx_hash": change.tx_hash,
                    "in_successful_tx": True,  # ledger state, committed whatever the transactions' results
                    **fields,
                    "previous_balance_raw": None if change.before is None else change.before.balance,
                }
            )
    return {HISTORY: history, CURRENT: current}


def ledger_balance_fields(view: LedgerView) -> list[tuple[BalanceChange, Row]]:
    """Every balance change of `view` (`states.ledger_balances`) with its `balance_fields`, memoized for the life
    of the view: the token balance processor reads the same fields of the same changes (computing them twice was
    ~0.7 ms of a mainnet ledger). The dicts are shared: a reader copies what it keeps, never changes them."""
    found = _fields_memo.get(view)
    if found is None:
        sequence = view.sequence
        found = [(change, balance_fields(change, sequence)) for change in ledger_balances(view).changes]
        _fields_memo[view] = found
    return found


def balance_fields(change: BalanceChange, sequence: int) -> Row:
    """The REFERENCE §4 fields of a balance after the ledger (shared with the token balance processor)."""
    after = change.after
    state: Holding = after if after is not None else change.before  # type: ignore[assignment]
    deleted = after is None
    raw = 0 if deleted else state.balance
    return {
        "account_id": change.holder,
        "asset": change.asset,
        "balance_raw": raw,
        "balance": format_amount(raw, CLASSIC_DECIMALS),
        "buying_liabilities": _zero_if(deleted, state.buying_liabilities),
        "selling_liabilities": _zero_if(deleted, state.selling_liabilities),
        "limit": state.limit,
        "authorized": state.authorized,
        "authorized_to_maintain_liabilities": state.authorized_to_maintain_liabilities,
        "clawback_enabled": state.clawback_enabled,
        "source": change.source,
        "last_modified_ledger": sequence if deleted else state.last_modified_ledger,
        "deleted": deleted,
        "claimants": None if state.claimants is None else list(state.claimants),
    }


def _zero_if(deleted: bool, value: int | None) -> int | None:
    return 0 if deleted and value is not None else value
