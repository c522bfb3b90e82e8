"""Shared helpers of the derived token transfer tests: each corpus ledger decoded once per session.

A file may hold several ledgers (``ledgers-base64.txt`` holds 5), so `file_facts` returns one `DerivedFacts`
per ledger. Each keeps what the tests check and drops the view: the derived rows (`derive_rows`), the rows
`extract` returns (the unified ones where the ledger has unified events, else the derived ones again: that
is the dispatch under test), the balance of every account and trustline before and after the ledger, and
per transaction its fee, success and whether it is a Soroban transaction.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ledgers.corpus import iter_file, network_passphrase_for
from ledgers.model import AccountEntry, TrustlineEntry
from ledgers.view import LedgerView
from processors.token_transfers.derive import derive_rows
from processors.token_transfers.derive_legs import is_soroban
from processors.token_transfers.events import OPERATION_EVENT_NAMES
from processors.token_transfers.extract import extract

Row = dict[str, Any]

TTP_DIR = "stellar-go/ttp-example"
# The stellar/go token transfer processor examples (`<name>-ledger-<seq>` beside `<...>-events` goldens).
TTP_LEDGERS = {
    56065483: "revoke-trustline-ledger-56065483",
    7762802: "burn-ledger-7762802",
    7320888: "mint-ledger-7320888",
    9722383: "xlm-burn-bug-ledger-9722383",
    9652679: "xlm-mint-bug-ledger-9652679",
    9652698: "xlm-mint-bug-ledger-9652698",
    9710976: "xlm-mint-bug-ledger-9710976",
}
LEDGERS_BASE64 = f"{TTP_DIR}/ledgers-base64.txt"
LEDGER_53312000 = "stellar-go/compressxdr/FCD285FF--53312000.xdr.zstd"
TESTNET_DIR = "stellar-go/lighthorizon-testnet"


@dataclass(frozen=True)
class DerivedFacts:
    """What the derived-path tests need from one ledger, computed once."""

    file: str
    sequence: int
    protocol: int
    meta_versions: frozenset[int]
    has_unified_events: bool
    derived: list[Row]
    extracted: list[Row]
    # account -> (balance before the ledger, after); (account, asset) -> (before, after) for trustlines;
    # empty for ledgers with unified events (see `_balances`)
    accounts: dict[str, tuple[int, int]]
    trustlines: dict[tuple[str, str], tuple[int, int]]
    fee_charged: dict[str, int]
    successful: dict[str, bool]
    soroban: frozenset[str]  # hashes of Soroban transactions
    # hashes of transactions whose unified events include events that are not token movements
    # (``set_authorized`` …): the unified path gives those an event index too, the derived path cannot
    non_token_events: frozenset[str]


def ttp_file(sequence: int) -> str:
    return f"{TTP_DIR}/{TTP_LEDGERS[sequence]}"


def lighthorizon_files(root: Path) -> list[str]:
    """The 320 lighthorizon testnet ledgers (one per file, named by sequence; ``latest`` is a pointer)."""
    folder = root / TESTNET_DIR
    return sorted(f"{TESTNET_DIR}/{p.name}" for p in folder.iterdir() if p.name.isdigit())


def meta_v2_v3_files(root: Path) -> list[str]:
    """Every corpus file of ledgers with transaction meta v2/v3: the derived path's reconciliation set."""
    return [
        *(ttp_file(seq) for seq in TTP_LEDGERS),
        LEDGERS_BASE64,
        LEDGER_53312000,
        *lighthorizon_files(root),
    ]


@functools.cache
def file_facts(root: Path, relative: str) -> tuple[DerivedFacts, ...]:
    """Decode every ledger of `relative` once and keep only its facts."""
    # No gc.collect() after dropping a view: its object graph is acyclic (see `gc_paused`), so reference
    # counting frees it, and a full collection per file would cost more than the 320 testnet ledgers.
    passphrase = network_passphrase_for(relative)
    return tuple(_facts(relative, LedgerView.from_xdr(raw, passphrase)) for raw in iter_file(root / relative))


def _facts(relative: str, view: LedgerView) -> DerivedFacts:
    accounts, trustlines = _balances(view) if not view.has_unified_events else ({}, {})
    transactions = view.transactions
    return DerivedFacts(
        file=relative,
        sequence=view.sequence,
        protocol=view.protocol_version,
        meta_versions=frozenset(tx.meta_version for tx in transactions),
        has_unified_events=view.has_unified_events,
        derived=derive_rows(view),
        extracted=extract(view)["token_transfers"],
        accounts=accounts,
        trustlines=trustlines,
        fee_charged={tx.hash: tx.fee_charged for tx in transactions},
        successful={tx.hash: tx.successful for tx in transactions},
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
    """Balance before and after the ledger of every account and trustline it changes.

    Only computed for ledgers without unified events: converting every entry change of a large ledger is
    the costliest part of these facts, and ledgers with unified events are reconciled by test_reconciliation.
    """
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
            # The first change tells the balance before the ledger: a `state` shows it; otherwise the entry
            # did not exist yet (created).
            book[key] = [balance if change.kind == "state" else 0, balance]
        book[key][1] = balance
    return (
        {k: (v[0], v[1]) for k, v in accounts.items()},
        {k: (v[0], v[1]) for k, v in trustlines.items()},
    )


def movement_key(row: Row) -> tuple[Any, ...]:
    """What the issue compares between implementations: (type, from, to, asset, amount, transaction)."""
    return (row["event_type"], row["from"], row["to"], row["asset"], row["amount_raw"], row["tx_hash"])
