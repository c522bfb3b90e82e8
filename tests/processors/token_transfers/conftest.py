"""Shared helpers of the token transfer tests: the corpus ledgers with unified events, read once per session.

Decoding a current mainnet ledger costs ~0.3 s and its decoded form ~100 MB, so each ledger is decoded once,
reduced to the few facts the tests check (the extracted rows, the balance changes of its entries, each
transaction's fee), and the view is dropped. `ledger_facts` caches those facts per file for the session.
"""

from __future__ import annotations

import functools
import gc
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ledgers.corpus import iter_file, network_passphrase_for
from ledgers.model import AccountEntry, TrustlineEntry
from ledgers.view import LedgerView
from processors.token_transfers import processor

MAINNET_20 = tuple(f"wallet-backend/ledger-{seq}.xdr.gz" for seq in range(63092982, 63093002))
MAINNET_OTHER = ("wallet-backend/ledger-51000294.xdr.gz", "wallet-backend/ledger-57500008.xdr.gz")
RECONSTRUCTED_DIR = "stellar-etl/reconstructed"
# Holders whose balances are not classic entries: contracts, liquidity pools, claimable balances.
NON_ACCOUNT_PREFIXES = ("C", "L", "B")


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


def reconstructed_files(root: Path) -> tuple[str, ...]:
    return tuple(
        p.relative_to(root).as_posix() for p in sorted((root / RECONSTRUCTED_DIR).glob("*.xdr.zstd"))
    )


def unified_files(root: Path) -> tuple[str, ...]:
    """Every corpus file whose ledgers carry unified events (REFERENCE §3): the reconciliation set."""
    return MAINNET_20 + MAINNET_OTHER + reconstructed_files(root)


@functools.cache
def ledger_facts(root: Path, relative: str) -> LedgerFacts:
    """Decode the single ledger of `relative` once and keep only its facts."""
    (raw,) = list(iter_file(root / relative))
    view = LedgerView.from_xdr(raw, network_passphrase_for(relative))
    assert processor.extract is not None
    rows = processor.extract(view)["token_transfers"]
    accounts: dict[str, list[int]] = {}
    trustlines: dict[tuple[str, str], list[int]] = {}
    for _tx, _op, change in view.ledger_changes_in_order():
        entry = change.entry
        if change.entry_type == "account":
            key: Any = change.key.account_id
            book: dict[Any, list[int]] = accounts
        elif change.entry_type == "trustline" and change.key.pool_id is None:
            key = (change.key.account_id, change.key.asset)
            book = trustlines
        else:
            continue
        balance = 0 if entry is None else _balance(entry)
        if key not in book:
            # The first change tells the balance before the ledger: a `state` shows it, anything else means
            # the entry did not exist (created; restored entries are not classic).
            book[key] = [balance if change.kind == "state" else 0, balance]
        book[key][1] = balance
    facts = LedgerFacts(
        file=relative,
        sequence=view.sequence,
        protocol=view.protocol_version,
        has_unified_events=view.has_unified_events,
        rows=rows,
        accounts={k: (v[0], v[1]) for k, v in accounts.items()},
        trustlines={k: (v[0], v[1]) for k, v in trustlines.items()},
        fee_charged={tx.hash: tx.fee_charged for tx in view.transactions},
        successful={tx.hash: tx.successful for tx in view.transactions},
    )
    del view
    gc.collect()
    return facts


def _balance(entry: Any) -> int:
    assert isinstance(entry, AccountEntry | TrustlineEntry), entry
    return entry.balance


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
