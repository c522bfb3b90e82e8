"""Reconciliation (REFERENCE §3, "the strongest test") on every corpus ledger with unified events.

For every account, the net of its native fee/transfer/mint/burn/clawback amounts equals the change of its
``AccountEntry.balance`` over the ledger; the same per trustline for issued assets (issuer excluded); and each
transaction's net fee events equal its ``fee_charged``. Balances come from the ledger's entry changes in
application order (`LedgerView.ledger_changes_in_order`), independent of the events.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from tests.conftest import SHARED_LEDGERS
from tests.processors.token_transfers.conftest import (
    MAINNET_20,
    MAINNET_OTHER,
    ledger_facts,
    net_by_holder,
    reconstructed_files,
)

TOKEN_EVENTS = ("transfer", "mint", "burn", "clawback")


def files() -> list[str]:
    """The reconciliation set; the reconstructed names are listed from the corpus (absent: mainnet only, and
    every test skips through the `shared_ledgers` fixture)."""
    found = reconstructed_files(SHARED_LEDGERS) if SHARED_LEDGERS.is_dir() else ()
    return [*MAINNET_20, *MAINNET_OTHER, *found]


@pytest.mark.parametrize("relative", files())
def test_balances_reconcile_with_events(shared_ledgers: Path, relative: str) -> None:
    facts = ledger_facts(shared_ledgers, relative)
    assert facts.has_unified_events
    assert facts.rows, "a ledger with unified events has at least its fee rows"
    assert any(before != after for before, after in facts.accounts.values()), "fee payers' balances change"
    native, issued = net_by_holder(facts.rows)

    account_errors = {
        account: (after - before, native.get(account, 0))
        for account, (before, after) in facts.accounts.items()
        if after - before != native.get(account, 0)
    }
    unseen = {a: n for a, n in native.items() if n and a not in facts.accounts}
    assert not account_errors, (
        f"{len(account_errors)} accounts off (balance change, events): {account_errors}"
    )
    assert not unseen, f"events move native for accounts without entry changes: {unseen}"

    line_errors = {
        line: (after - before, issued.get(line, 0))
        for line, (before, after) in facts.trustlines.items()
        if after - before != issued.get(line, 0)
    }
    unseen_lines = {k: n for k, n in issued.items() if n and k not in facts.trustlines}
    assert not line_errors, f"{len(line_errors)} trustlines off (balance change, events): {line_errors}"
    assert not unseen_lines, f"events move issued assets on trustlines without changes: {unseen_lines}"


@pytest.mark.parametrize("relative", files())
def test_net_fee_events_equal_fee_charged(shared_ledgers: Path, relative: str) -> None:
    facts = ledger_facts(shared_ledgers, relative)
    fees: dict[str, int] = defaultdict(int)
    for row in facts.rows:
        if row["event_type"] == "fee":
            assert row["asset"] == "native" and row["to"] is None and row["operation_index"] == 0
            fees[row["tx_hash"]] += row["amount_raw"]
    assert dict(fees) == facts.fee_charged


def summary_counts(root: Path) -> dict[int, dict[str, int]]:
    """Per ledger of ``ledger_summary.json``: fee events and token event counts by topic 0."""
    ledgers = json.loads((root / "ledger_summary.json").read_text())["ledgers"]
    out: dict[int, dict[str, int]] = {}
    for ledger in ledgers:
        fee = (ledger.get("contract_events") or {}).get("tx_level(fee)")
        if not fee:
            continue
        topics = ledger.get("event_topic0") or {}
        out[ledger["seq"]] = {"fee": fee, **{name: topics.get(name, 0) for name in TOKEN_EVENTS}}
    return out


def test_event_counts_equal_ledger_summary(shared_ledgers: Path) -> None:
    expected = summary_counts(shared_ledgers)
    checked = 0
    for relative in files():
        facts = ledger_facts(shared_ledgers, relative)
        if facts.sequence not in expected:
            continue
        counts = Counter(row["event_type"] for row in facts.rows)
        # Fee rows of failed transactions are extracted too (select decides), so every fee event is a row.
        assert {name: counts.get(name, 0) for name in expected[facts.sequence]} == expected[facts.sequence], (
            facts.sequence
        )
        checked += 1
    assert checked == len(files())
