"""Derived movements of the operations that pay someone: create account, payment, account merge, path
payments, offers that cross, inflation.

Each function takes a successful operation of a successful transaction and returns its movements in the order
stellar/go's token transfer processor emits them. Amounts come from the operation body or, where the body
only bounds them (path payments, merges, trades), from the operation result.
"""

from __future__ import annotations

from ledgers.model import ClaimAtom, Operation, OperationResult, Transaction
from ledgers.opbodies import (
    AccountMerge,
    CreateAccount,
    PathPaymentStrictReceive,
    PathPaymentStrictSend,
    Payment,
)
from processors.token_transfers.assets import NATIVE
from processors.token_transfers.derive_legs import DerivationError, leg, muxed_destination_id
from processors.token_transfers.events import Movement

__all__ = [
    "account_merge",
    "create_account",
    "inflation",
    "offer_trades",
    "path_payment",
    "payment",
]


def _result(tx: Transaction, op: Operation) -> OperationResult:
    if op.result is None:
        raise DerivationError(tx, op, "a successful operation without a result")
    return op.result


def create_account(tx: Transaction, op: Operation) -> list[Movement]:
    """The starting balance moves from the source to the new account."""
    body = op.body
    assert isinstance(body, CreateAccount)
    muxed_id = muxed_destination_id(tx, None)
    return [leg(NATIVE, op.source_account, body.destination, body.starting_balance, muxed_id)]


def payment(tx: Transaction, op: Operation) -> list[Movement]:
    """One leg source → destination (a mint from the issuer, a burn to it)."""
    body = op.body
    assert isinstance(body, Payment)
    muxed_id = muxed_destination_id(tx, body.destination_muxed)
    return [leg(body.asset, op.source_account, body.destination, body.amount, muxed_id)]


def account_merge(tx: Transaction, op: Operation) -> list[Movement]:
    """The merged account's whole native balance (from the result) moves to the destination."""
    body = op.body
    assert isinstance(body, AccountMerge)
    balance = _result(tx, op).source_account_balance
    if balance is None:  # results before protocol 8 may omit it: then nothing is reported as moved
        return []
    muxed_id = muxed_destination_id(tx, body.destination_muxed)
    return [leg(NATIVE, op.source_account, body.destination, balance, muxed_id)]


def claim_atom_trades(source: str, atoms: tuple[ClaimAtom, ...]) -> list[Movement]:
    """Two legs per offer or pool crossed: what the seller bought comes from `source`, what it sold goes to
    `source`. The seller is the offer's owner or the pool (``L…``). Zero-amount atoms are kept (stellar/go
    and stellar-etl keep them).

    stellar/go lists the two legs the other way round; stellar-core's CAP-67 events (checked on the corpus)
    put the taker's payment first, and following core keeps the event indexes, and so the row ids, the
    same as the unified path's would be for the same ledger.
    """
    out: list[Movement] = []
    for atom in atoms:
        seller = atom.seller if atom.pool_id is None else atom.pool_id
        assert seller is not None
        out.append(leg(atom.asset_bought, source, seller, atom.amount_bought))
        out.append(leg(atom.asset_sold, seller, source, atom.amount_sold))
    return out


def path_payment(tx: Transaction, op: Operation) -> list[Movement]:
    """Every hop as a trade between the source and the offer sellers / pools, then what the destination
    received (the result's ``last``) as one leg from the source: value goes source → hops → destination.

    A strict receive's received amount is its ``dest_amount``; a strict send's is only known from the result.
    """
    body = op.body
    assert isinstance(body, PathPaymentStrictReceive | PathPaymentStrictSend)
    result = _result(tx, op)
    if result.last is None:
        raise DerivationError(tx, op, "a successful path payment without its last hop in the result")
    movements = claim_atom_trades(op.source_account, result.claim_atoms)
    received = body.dest_amount if isinstance(body, PathPaymentStrictReceive) else result.last.amount
    muxed_id = muxed_destination_id(tx, body.destination_muxed)
    movements.append(leg(body.dest_asset, op.source_account, body.destination, received, muxed_id))
    return movements


def offer_trades(tx: Transaction, op: Operation) -> list[Movement]:
    """Manage sell / buy offer and passive sell offer: the trades of the offers it crossed (the part left
    resting on the book moves nothing)."""
    return claim_atom_trades(op.source_account, _result(tx, op).claim_atoms)


def inflation(tx: Transaction, op: Operation) -> list[Movement]:
    """Inflation created lumens: each payout is a native mint to its winner (never muxed, no memo)."""
    return [
        Movement("mint", None, destination, NATIVE, amount, None)
        for destination, amount in _result(tx, op).inflation_payouts
    ]
