"""Shared helpers of the derived token transfer tests: each corpus ledger decoded once per session.

A file may hold several ledgers (``ledgers-base64.txt`` holds 5), so `file_facts` returns one `DerivedFacts`
per ledger, from the session's shared decoding (tests/corpus.py, facts computed in conftest.py): the derived
rows (`derive_rows`), the rows `extract` returns (the unified ones where the ledger has unified events, else the
derived ones again: that is the dispatch under test), the balance of every account and trustline before and
after the ledger, and per transaction its fee, success and whether it is a Soroban transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests import corpus
from tests.processors.token_transfers.conftest import TransferFacts

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
    # empty for ledgers with unified events (test_reconciliation reconciles those)
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


def file_facts(root: Path, relative: str) -> tuple[DerivedFacts, ...]:
    """The facts of every ledger of `relative` (decoded once per session, see tests/corpus.py)."""
    return tuple(_facts(ledger) for ledger in corpus.ledgers(root, relative))


def _facts(ledger: corpus.Ledger) -> DerivedFacts:
    facts: TransferFacts = ledger.facts("token_transfers")
    # Balances are only reconciled for ledgers without unified events here (test_reconciliation does the others).
    unified = ledger.has_unified_events
    return DerivedFacts(
        file=ledger.file,
        sequence=ledger.sequence,
        protocol=ledger.protocol,
        meta_versions=facts.meta_versions,
        has_unified_events=unified,
        derived=facts.derived,
        extracted=ledger.rows("token_transfers"),
        accounts={} if unified else facts.accounts,
        trustlines={} if unified else facts.trustlines,
        fee_charged=facts.fee_charged,
        successful=facts.successful,
        soroban=facts.soroban,
        non_token_events=facts.non_token_events,
    )


def movement_key(row: Row) -> tuple[Any, ...]:
    """What the issue compares between implementations: (type, from, to, asset, amount, transaction)."""
    return (row["event_type"], row["from"], row["to"], row["asset"], row["amount_raw"], row["tx_hash"])
