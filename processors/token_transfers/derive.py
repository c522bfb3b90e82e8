"""Token transfer rows derived from operations, results and balance changes, for ledgers without CAP-67 events.

Transaction meta v2/v3 (and meta v4 written without fee events, see `LedgerView.has_unified_events`) does not
say who paid whom: the movements are rebuilt here, the way stellar/go's token transfer processor does, so that
rows read the same whichever path produced them (`extract` dispatches). Per transaction in apply order:

1. fees (transaction level, ``operation_index`` 0): the fee payer (the fee bump's fee source, else the
   transaction source) pays ``fee_charged``. A Soroban transaction is charged its full bid before it runs and
   refunded part of it afterwards; that is two rows, the charge read from the payer's balance change in the fee
   changes and the refund (a negative amount) from the balance it gets back after applying (meta v3
   ``tx_changes_after``, LCM v2 ``post_tx_apply_fee_processing``). Failed transactions stop here;
2. each operation of a successful transaction, in order: `derive_payments` (create account, payment, merge,
   path payments, crossing offers, inflation) and `derive_balances` (claimable balances, clawbacks, pools,
   revocations). InvokeHostFunction already has its events (meta v3 Soroban meta): they are read exactly as
   the unified path reads them. Other operations move nothing.

Before protocol 8, stellar-core had bugs that created or destroyed lumens (e.g. merging an account twice in one
transaction credited the destination twice). As stellar/go does (CAP-67 "retroactively emitting events"),
each operation's native movements of its source account are compared with that account's balance change, and
a difference becomes a ``mint`` (before the operation's rows) or a ``burn`` (after them).

Row conventions are the unified path's (`extract`): ``event_index`` runs per transaction, fee rows first; each
derived movement takes one index; an InvokeHostFunction's events take one each, token movements or not.
Classic rows name the Stellar Asset Contract of their asset as ``contract_id``, as CAP-67 events do.

Checked on the corpus (tests/processors/token_transfers/test_derived_*): equal to stellar/go's goldens; the
rows reconcile with every balance change of the meta v2/v3 ledgers; and, forced on ledgers that carry unified
events, equal to the unified path's rows column for column, except ``event_index`` in transactions whose
operations also emit non-token events (``set_authorized``), which only the unified path can number.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ledgers.model import AccountEntry, EntryChange, Operation, Transaction, gc_paused, pair_changes
from ledgers.view import LedgerView
from processors.token_transfers import derive_balances as balances
from processors.token_transfers import derive_payments as payments
from processors.token_transfers.assets import NATIVE, sac_contract_id
from processors.token_transfers.derive_legs import is_soroban
from processors.token_transfers.events import OPERATION_EVENT_NAMES, Movement, read_movement, topic_name
from processors.token_transfers.rows import transfer_row

__all__ = ["OPERATION_DERIVERS", "derive_rows", "fee_movements"]

Row = dict[str, Any]
Deriver = Callable[[Transaction, Operation], list[Movement]]

OPERATION_DERIVERS: dict[str, Deriver] = {
    "CREATE_ACCOUNT": payments.create_account,
    "PAYMENT": payments.payment,
    "ACCOUNT_MERGE": payments.account_merge,
    "PATH_PAYMENT_STRICT_RECEIVE": payments.path_payment,
    "PATH_PAYMENT_STRICT_SEND": payments.path_payment,
    "MANAGE_SELL_OFFER": payments.offer_trades,
    "MANAGE_BUY_OFFER": payments.offer_trades,
    "CREATE_PASSIVE_SELL_OFFER": payments.offer_trades,
    "INFLATION": payments.inflation,
    "CREATE_CLAIMABLE_BALANCE": balances.create_claimable_balance,
    "CLAIM_CLAIMABLE_BALANCE": balances.claim_claimable_balance,
    "CLAWBACK": balances.clawback,
    "CLAWBACK_CLAIMABLE_BALANCE": balances.clawback_claimable_balance,
    "LIQUIDITY_POOL_DEPOSIT": balances.pool_deposit,
    "LIQUIDITY_POOL_WITHDRAW": balances.pool_withdraw,
    "ALLOW_TRUST": balances.revocation,
    "SET_TRUST_LINE_FLAGS": balances.revocation,
}
_INVOKE = "INVOKE_HOST_FUNCTION"
# stellar/go reconciles lumens per operation below this protocol (the bugs it covers were fixed in 8).
_RECONCILE_BELOW_PROTOCOL = 8


def derive_rows(view: LedgerView) -> list[Row]:
    """The token transfer rows of every transaction of `view`, derived (see the module docstring).

    Works on any ledger, also one with unified events (the tests compare both paths there).
    """
    # Rows form no reference cycles: with the collector paused, allocating them never triggers a full
    # collection rescanning the whole decoded ledger (measured: ~0.5 s on a mainnet ledger). See `gc_paused`.
    with gc_paused():
        return _derive_rows(view)


def _derive_rows(view: LedgerView) -> list[Row]:
    sequence = view.sequence
    passphrase = view.network_passphrase
    reconcile = view.protocol_version < _RECONCILE_BELOW_PROTOCOL
    rows: list[Row] = []
    for tx in view.transactions:
        memo = tx.memo
        common = {
            "ledger_sequence": sequence,
            "closed_at": view.closed_at,
            "tx_hash": tx.hash,
            "transaction_index": tx.index,
            "in_successful_tx": tx.successful,
            "memo": memo.value,
            "memo_type": None if memo.type == "none" else memo.type,
        }
        event_index = 0
        for movement in fee_movements(tx):
            rows.append(
                _row(common, 0, event_index, movement, _classic_contract(NATIVE, passphrase), passphrase)
            )
            event_index += 1
        if not tx.successful:
            continue  # failed transactions move nothing but their fee
        for op in tx.operations:
            if op.type == _INVOKE:
                event_index = _invoke_rows(rows, common, op, event_index, passphrase)
                continue
            deriver = OPERATION_DERIVERS.get(op.type)
            if deriver is None:
                continue
            movements = deriver(tx, op)
            if reconcile:
                movements = _reconcile_lumens(op, movements)
            for movement in movements:
                contract_id = _classic_contract(movement.asset_string, passphrase)
                rows.append(_row(common, op.index, event_index, movement, contract_id, passphrase))
                event_index += 1
    return rows


def _classic_contract(asset: str | None, passphrase: str) -> str:
    """The Stellar Asset Contract id of a classic asset (cached in `assets`)."""
    contract_id = None if asset is None else sac_contract_id(asset, passphrase)
    if contract_id is None:  # the ledger's asset codes are checked by stellar-core, so this is a bug of ours
        raise ValueError(f"not a classic asset: {asset!r}")
    return contract_id


def fee_movements(tx: Transaction) -> list[Movement]:
    """The fee rows of one transaction: the charge, then a refund (negative) for a refunded Soroban fee.

    Classic fees are never refunded, so ``fee_charged`` is the whole story (and it is what stellar/go uses,
    also in old ledgers where the fee changes are shaped differently). A Soroban fee is split as it happened;
    the two always add up to ``fee_charged``, which the tests check on the corpus.
    """
    payer = tx.fee_payer
    if not is_soroban(tx):
        return [Movement("fee", payer, None, NATIVE, tx.fee_charged, None)]
    charged = -_balance_change(tx.fee_changes, payer)
    refunded = _balance_change(tx.changes_after, payer) + _balance_change(tx.post_apply_fee_changes, payer)
    if charged <= 0:  # no fee changes recorded: report the net fee as one charge
        return [Movement("fee", payer, None, NATIVE, tx.fee_charged, None)]
    out = [Movement("fee", payer, None, NATIVE, charged, None)]
    if refunded > 0:
        out.append(Movement("fee", payer, None, NATIVE, -refunded, None))
    return out


def _balance_change(changes: tuple[EntryChange, ...], account: str) -> int:
    """Net change of `account`'s native balance over a change list."""
    total = 0
    for diff in pair_changes(changes):
        if diff.key.entry_type != "account" or diff.key.account_id != account:
            continue
        after = diff.after.balance if isinstance(diff.after, AccountEntry) else 0
        before = diff.before.balance if isinstance(diff.before, AccountEntry) else 0
        total += after - before
    return total


def _reconcile_lumens(op: Operation, movements: list[Movement]) -> list[Movement]:
    """Add the mint or burn that makes the source account's native movements equal its balance change."""
    source = op.source_account
    moved = 0
    for movement in movements:
        if movement.asset_string == NATIVE:
            if movement.from_ == source:
                moved -= movement.amount
            if movement.to == source:
                moved += movement.amount
    difference = _balance_change(op.changes, source) - moved
    if difference > 0:
        return [Movement("mint", None, source, NATIVE, difference, None), *movements]
    if difference < 0:
        return [*movements, Movement("burn", source, None, NATIVE, -difference, None)]
    return movements


def _invoke_rows(rows: list[Row], common: Row, op: Operation, event_index: int, passphrase: str) -> int:
    """Rows of an InvokeHostFunction's own contract events (as `extract` reads them); the next event index."""
    for event in op.events:
        name = topic_name(event)
        if name in OPERATION_EVENT_NAMES and event.type == "contract" and event.contract_id:
            movement = read_movement(event, name)
            if movement is not None:
                rows.append(_row(common, op.index, event_index, movement, event.contract_id, passphrase))
        event_index += 1
    return event_index


def _row(
    common: Row, operation_index: int, event_index: int, movement: Movement, contract_id: str, passphrase: str
) -> Row:
    # The same builder as the unified path, so both paths write identical rows.
    return transfer_row(
        common,
        common["transaction_index"],
        operation_index,
        event_index,
        movement,
        movement.asset_string,
        contract_id,
        passphrase,
    )
