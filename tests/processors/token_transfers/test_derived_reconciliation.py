"""Reconciliation (REFERENCE §3) of the derived rows of every corpus ledger with transaction meta v2/v3.

Per account, the net of its native fee/transfer/mint/burn/clawback rows equals the change of its
``AccountEntry.balance`` over the ledger; per trustline (the issuer excluded: it mints and burns) likewise; and
each transaction's net fee rows equal its ``fee_charged``. Balances come from the entry changes in application
order, independently of the derivation, which reads operations and results (entry changes only where the
operation states no amount: claimable balances, pools, Soroban refunds, and pre-protocol-8 lumen fixes).

The set: the 7 stellar/go TTP example ledgers (protocols 2-22), the 5 of ``ledgers-base64.txt`` (protocols
2-19: offers, path payments, claimable balances, pools), 53312000 (protocol 21) and the 320 consecutive testnet
ledgers 1410048-1410367 (protocol 19, testnet passphrase). Every one reconciles exactly.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pytest

from tests.processors.token_transfers.conftest import net_by_holder
from tests.processors.token_transfers.derived_facts import (
    LEDGER_53312000,
    LEDGERS_BASE64,
    TTP_LEDGERS,
    DerivedFacts,
    file_facts,
    lighthorizon_files,
    ttp_file,
)

SINGLE_FILES = [*(ttp_file(seq) for seq in TTP_LEDGERS), LEDGERS_BASE64, LEDGER_53312000]


def reconciliation_errors(facts: DerivedFacts) -> list[str]:
    """Every way the derived rows of one ledger disagree with its balances and fees (empty: reconciled)."""
    native, issued = net_by_holder(facts.derived)
    errors = [
        f"account {account}: balance {after - before:+}, rows {native.get(account, 0):+}"
        for account, (before, after) in facts.accounts.items()
        if after - before != native.get(account, 0)
    ]
    errors += [
        f"account {a}: rows {n:+} but no entry change"
        for a, n in native.items()
        if n and a not in facts.accounts
    ]
    errors += [
        f"trustline {line}: balance {after - before:+}, rows {issued.get(line, 0):+}"
        for line, (before, after) in facts.trustlines.items()
        if after - before != issued.get(line, 0)
    ]
    errors += [
        f"trustline {k}: rows {n:+} but no entry change"
        for k, n in issued.items()
        if n and k not in facts.trustlines
    ]
    fees: dict[str, int] = defaultdict(int)
    for row in facts.derived:
        if row["event_type"] == "fee":
            fees[row["tx_hash"]] += row["amount_raw"]
    errors += [
        f"transaction {tx}: fee charged {charged}, fee rows {fees.get(tx, 0)}"
        for tx, charged in facts.fee_charged.items()
        if fees.get(tx, 0) != charged
    ]
    return [f"ledger {facts.sequence} ({facts.file}): {error}" for error in errors]


def _check_derived_ledger(facts: DerivedFacts) -> None:
    assert not facts.has_unified_events and facts.meta_versions <= {2, 3}, facts.file
    # `extract` dispatches ledgers without unified events to the derivation.
    assert facts.extracted == facts.derived


@pytest.mark.parametrize("relative", SINGLE_FILES)
def test_derived_rows_reconcile(shared_ledgers: Path, relative: str) -> None:
    ledgers = file_facts(shared_ledgers, relative)
    assert ledgers
    for facts in ledgers:
        _check_derived_ledger(facts)
        # Every transaction pays a fee, so a ledger with transactions has rows (6154623 has none).
        assert bool(facts.derived) == bool(facts.fee_charged)
        assert reconciliation_errors(facts) == []


def test_testnet_ledgers_reconcile(shared_ledgers: Path) -> None:
    files = lighthorizon_files(shared_ledgers)
    assert len(files) == 320
    errors: list[str] = []
    sequences = []
    for relative in files:
        (facts,) = file_facts(shared_ledgers, relative)
        _check_derived_ledger(facts)
        sequences.append(facts.sequence)
        errors += reconciliation_errors(facts)
    assert sequences == list(range(1410048, 1410368))
    assert errors == []


def test_the_set_covers_what_the_derivation_derives(shared_ledgers: Path) -> None:
    # The reconciliation above is only as strong as what the ledgers exercise: issuer mints and burns,
    # clawbacks, claimable balances (in and out), pool trades and pool positions revoked into balances.
    seen: set[tuple[str, str, str]] = set()
    files = [*SINGLE_FILES, *lighthorizon_files(shared_ledgers)]
    for relative in files:
        for facts in file_facts(shared_ledgers, relative):
            seen.update(
                (row["event_type"], (row["from"] or "-")[0], (row["to"] or "-")[0]) for row in facts.derived
            )
    assert seen >= {
        ("fee", "G", "-"),
        ("transfer", "G", "G"),
        ("mint", "-", "G"),
        ("burn", "G", "-"),
        ("clawback", "G", "-"),
        ("transfer", "G", "B"),
        ("transfer", "B", "G"),
        ("transfer", "G", "L"),
        ("transfer", "L", "G"),
        ("transfer", "L", "B"),
    }
