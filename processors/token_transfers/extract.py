"""Token transfer rows of one ledger, from CAP-67 unified events.

Sources, per transaction in apply order:
1. transaction-level ``fee`` events (meta v4 ``events``): the fee charged (stage ``before_all_txs``) and
   any refund (``after_tx`` or ``after_all_txs``, a negative amount). Failed transactions pay fees too, so
   their fee rows are extracted with ``in_successful_tx = False`` (`select` keeps them only with
   ``include_failed_txs``);
2. operation-level ``transfer``/``mint``/``burn``/``clawback`` events of successful transactions, from Stellar
   Asset Contracts and custom SEP-41 tokens alike (`events`, `assets`). Failed transactions have none.

Ledgers without unified events (transaction meta v2/v3, or meta v4 without fee events, see
`LedgerView.has_unified_events`) have their movements derived from operations, results and balance changes
instead (`derive`), with the same row conventions.

Row order key: ``operation_index`` is 0 for transaction-level rows. ``event_index`` is the position of the
event among ALL events of the transaction, counted in one fixed order: the transaction-level events in stored
order, then each operation's contract events in operation order. Events that are not token movements (a
``swap``, ``set_authorized`` …) still take their index, so ids do not shift if a later version reads more
layouts, and the ids sort like the order keys (transaction-level rows first).

Memos: every row carries its transaction's ``memo``/``memo_type`` (null without a memo) and the event's
``to_muxed_id``; `select` blanks them for tenants without ``track_memos``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ledgers.model import gc_paused
from ledgers.view import LedgerView
from processors.token_transfers.assets import NATIVE
from processors.token_transfers.derive import derive_rows
from processors.token_transfers.events import OPERATION_EVENT_NAMES, read_movement, topic_name
from processors.token_transfers.rows import transfer_row

__all__ = ["TABLE", "extract"]

TABLE = "token_transfers"

Row = dict[str, Any]


def extract(view: LedgerView) -> Mapping[str, list[Row]]:
    """``{"token_transfers": rows}`` for one ledger: from its unified events, else derived (`derive`)."""
    # Rows and their strings form no reference cycles: pausing the cyclic collector avoids full
    # collections that would rescan the whole decoded ledger while we allocate (see `gc_paused`).
    with gc_paused():
        return {TABLE: _rows(view) if view.has_unified_events else derive_rows(view)}


def _rows(view: LedgerView) -> list[Row]:
    sequence = view.sequence
    closed_at = view.closed_at
    passphrase = view.network_passphrase
    rows: list[Row] = []
    append = rows.append
    for tx in view.transactions:
        memo = tx.memo
        memo_type = None if memo.type == "none" else memo.type
        successful = tx.successful
        common = {
            "ledger_sequence": sequence,
            "closed_at": closed_at,
            "tx_hash": tx.hash,
            "transaction_index": tx.index,
            "in_successful_tx": successful,
            "memo": memo.value,
            "memo_type": memo_type,
        }
        event_index = 0
        for tx_event in tx.events:
            event = tx_event.event
            if topic_name(event) == "fee" and event.contract_id is not None:
                movement = read_movement(event, "fee")
                if movement is not None:
                    append(
                        transfer_row(
                            common, tx.index, 0, event_index, movement, NATIVE, event.contract_id, passphrase
                        )
                    )
            event_index += 1
        if not successful:
            continue  # failed transactions emit fee events only (REFERENCE §3)
        for op in tx.operations:
            for event in op.events:
                name = topic_name(event)
                if name in OPERATION_EVENT_NAMES and event.type == "contract" and event.contract_id:
                    movement = read_movement(event, name)
                    if movement is not None:
                        append(
                            transfer_row(
                                common,
                                tx.index,
                                op.index,
                                event_index,
                                movement,
                                movement.asset_string,
                                event.contract_id,
                                passphrase,
                            )
                        )
                event_index += 1
    return rows
