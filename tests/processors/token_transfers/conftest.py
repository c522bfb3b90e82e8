"""Shared helpers of the token transfer tests: the corpus ledgers with unified events, decoded once per session.

The decoding is shared with the other processor packages (tests/corpus.py); the facts these tests check are
computed here from each decoded ledger (`_facts`): the balance changes of its entries, each transaction's fee
and success, and what the derived path needs (tests/processors/token_transfers/derived_facts.py).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ledgers.model import AccountEntry, TrustlineEntry
from ledgers.view import LedgerView
from processors.token_transfers.derive import derive_rows
from processors.token_transfers.derive_legs import is_soroban
from processors.token_transfers.events import OPERATION_EVENT_NAMES
from tests import corpus
from tests.corpus import MAINNET_20, MAINNET_OTHER, RECONSTRUCTED_DIR, reconstructed_files

__all__ = [
    "MAINNET_20",
    "MAINNET_OTHER",
    "RECONSTRUCTED_DIR",
    "LedgerFacts",
    "TransferFacts",
    "ledger_facts",
    "net_by_holder",
    "reconstructed_files",
]

# Holders whose balances are not classic entries: contracts, liquidity pools, claimable balances.
NON_ACCOUNT_PREFIXES = ("C", "L", "B")


@dataclass(frozen=True)
class TransferFacts:
    """What the token transfer tests read from one decoded ledger besides the extracted rows."""

    # account -> (balance before the ledger, after); trustline (account, asset) -> (before, after)
    accounts: dict[str, tuple[int, int]]
    trustlines: dict[tuple[str, str], tuple[int, int]]
    fee_charged: dict[str, int]  # tx hash -> fee charged
    successful: dict[str, bool]  # tx hash -> success
    meta_versions: frozenset[int]
    derived: list[dict[str, Any]]  # `derive_rows`, whatever the ledger carries
    soroban: frozenset[str]  # hashes of Soroban transactions
    # hashes of transactions whose unified events include events that are not token movements
    # (``set_authorized`` …): the unified path gives those an event index too, the derived path cannot
    non_token_events: frozenset[str]


@corpus.facts("token_transfers")
def _facts(decoded: corpus.Decoded) -> TransferFacts:
    view = decoded.view
    accounts, trustlines = _balances(view)
    transactions = view.transactions
    return TransferFacts(
        accounts=accounts,
        trustlines=trustlines,
        fee_charged={tx.hash: tx.fee_charged for tx in transactions},
        successful={tx.hash: tx.successful for tx in transactions},
        meta_versions=frozenset(tx.meta_version for tx in transactions),
        derived=derive_rows(view),
        soroban=frozenset(tx.hash for tx in transactions if is_soroban(tx)),
        non_token_events=frozenset(
            tx.hash
            for tx in transactions
            if view.has_unified_events
            and any(event.topic0 not in OPERATION_EVENT_NAMES for op in tx.operations for event in op.events)
        ),
    )


def _balances(
    view: LedgerView,
) -> tuple[dict[str, tuple[int, int]], dict[tuple[str, str], tuple[int, int]]]:
    """Balance before and after the ledger of every account and trustline it changes, from its entry changes
    in application order (independent of the events)."""
    accounts: dict[str, list[int]] = {}
    trustlines: dict[tuple[str, str], list[int]] = {}
    for _tx, _op, change in view.ledger_changes_in_order():
        if change.entry_type == "account":
            key: Any = change.key.account_id
            book: dict[Any, list[int]] = accounts
        elif change.entry_type == "trustline" and change.key.pool_id is None:
            key = (change.key.account_id, change.key.asset)
            book = trustlines
        else:
            continue
        entry = change.entry
        assert entry is None or isinstance(entry, AccountEntry | TrustlineEntry)
        balance = 0 if entry is None else entry.balance
        if key not in book:
            # The first change tells the balance before the ledger: a `state` shows it, anything else means
            # the entry did not exist (created; restored entries are not classic).
            book[key] = [balance if change.kind == "state" else 0, balance]
        book[key][1] = balance
    return (
        {k: (v[0], v[1]) for k, v in accounts.items()},
        {k: (v[0], v[1]) for k, v in trustlines.items()},
    )


@dataclass(frozen=True)
class LedgerFacts:
    """What the tests need from one ledger, computed once."""

    file: str
    sequence: int
    protocol: int
    has_unified_events: bool
    rows: list[dict[str, Any]]
    # account -> (balance before the ledger, after); trustline (account, asset) -> (before, after)
    accounts: dict[str, tuple[int, int]]
    trustlines: dict[tuple[str, str], tuple[int, int]]
    fee_charged: dict[str, int]  # tx hash -> fee charged
    successful: dict[str, bool]  # tx hash -> success


def ledger_facts(root: Path, relative: str) -> LedgerFacts:
    """The facts of the single ledger of `relative`."""
    (ledger,) = corpus.ledgers(root, relative)
    facts: TransferFacts = ledger.facts("token_transfers")
    return LedgerFacts(
        file=relative,
        sequence=ledger.sequence,
        protocol=ledger.protocol,
        has_unified_events=ledger.has_unified_events,
        rows=ledger.rows("token_transfers"),
        accounts=facts.accounts,
        trustlines=facts.trustlines,
        fee_charged=facts.fee_charged,
        successful=facts.successful,
    )


def net_by_holder(rows: list[dict[str, Any]]) -> tuple[dict[str, int], dict[tuple[str, str], int]]:
    """Net native amount per account, and net issued-asset amount per (account, asset), from token rows.

    Only classic holders (``G…``) and classic assets count: contract, pool and claimable balance holders keep
    their balances elsewhere, and custom tokens have no entries. An issuer has no trustline for its own asset
    (it mints and burns instead), so issuer legs are left out.
    """
    native: dict[str, int] = defaultdict(int)
    issued: dict[tuple[str, str], int] = defaultdict(int)
    for row in rows:
        asset, amount = row["asset"], row["amount_raw"]
        if row["asset_type"] == "contract":
            continue
        for holder, sign in ((row["from"], -1), (row["to"], 1)):
            if holder is None or holder.startswith(NON_ACCOUNT_PREFIXES):
                continue
            if asset == "native":
                native[holder] += sign * amount
            elif holder != row["asset_issuer"]:
                issued[(holder, asset)] += sign * amount
    return native, issued
