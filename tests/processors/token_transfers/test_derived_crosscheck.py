"""The derivation, forced on ledgers that DO carry CAP-67 unified events, gives the unified path's rows.

The strongest independent check of the derivation: on the same ledger, stellar-core's own events (read by
`extract`) and our reconstruction from operations, results and balance changes (`derive_rows`) must agree.
Ledgers: the reconstructed 2020 ledgers (30820015, 30822015-30822025; protocol 13, order-book heavy), the 20
mainnet ledgers 63092982-63093001 (protocol 26: pools, claimable balances, clawbacks, revocations, muxed
destinations, memos, Soroban fees and refunds), 51000294 (protocol 20) and 57500008 (protocol 22), whose
refunds sit in ``tx_changes_after`` rather than ``post_tx_apply_fee_processing``.

Soroban transactions are compared on their fee rows only: their transfers exist only as contract events (the
derivation reads the same events there, so comparing them would prove nothing), and custom tokens have no
classic operation to derive from.

Beyond the (type, from, to, asset, amount, transaction) multiset the issue asks for, the rows are equal
column for column and in the same order (operation index, muxed id / memo, amounts, contract ids included).
Only ``event_index`` (and so ``id``) may differ, and only in transactions whose operations also emitted
events that are not token movements (``set_authorized`` of AllowTrust / SetTrustLineFlags): the unified path
numbers every event of the transaction, and a derivation cannot know which of those core would emit.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import SHARED_LEDGERS
from tests.processors.token_transfers.conftest import MAINNET_20, MAINNET_OTHER, reconstructed_files
from tests.processors.token_transfers.derived_facts import DerivedFacts, file_facts, movement_key

Row = dict[str, Any]


def files() -> list[str]:
    found = reconstructed_files(SHARED_LEDGERS) if SHARED_LEDGERS.is_dir() else ()
    return [*found, *MAINNET_20, *MAINNET_OTHER]


def compared(facts: DerivedFacts, rows: list[Row]) -> list[Row]:
    """The rows both paths can produce: all fee rows, and the operation rows of classic transactions."""
    return [row for row in rows if row["event_type"] == "fee" or row["tx_hash"] not in facts.soroban]


def without_index(row: Row) -> Row:
    return {k: v for k, v in row.items() if k not in ("id", "event_index")}


@pytest.mark.parametrize("relative", files())
def test_derivation_equals_unified_events(shared_ledgers: Path, relative: str) -> None:
    (facts,) = file_facts(shared_ledgers, relative)
    assert facts.has_unified_events and facts.meta_versions == {4}
    unified, derived = compared(facts, facts.extracted), compared(facts, facts.derived)
    assert unified, "every ledger here has transactions"

    expected, ours = Counter(map(movement_key, unified)), Counter(map(movement_key, derived))
    missing, extra = expected - ours, ours - expected
    assert not missing and not extra, f"missing {sorted(missing)[:5]}, extra {sorted(extra)[:5]}"

    # Stronger: same rows, same order, every column but the event index.
    assert [without_index(r) for r in derived] == [without_index(r) for r in unified]
    # And the event index too, wherever the unified events are all token movements.
    same_numbering = [r for r in unified if r["tx_hash"] not in facts.non_token_events]
    assert [r for r in derived if r["tx_hash"] not in facts.non_token_events] == same_numbering


def test_the_comparison_covers_the_hard_cases(shared_ledgers: Path) -> None:
    """Guards the test above against comparing nothing interesting."""
    rows = [
        row
        for relative in files()
        for facts in file_facts(shared_ledgers, relative)
        for row in compared(facts, facts.derived)
    ]
    kinds = Counter((r["event_type"], (r["from"] or "-")[0], (r["to"] or "-")[0]) for r in rows)
    for kind in [
        ("transfer", "G", "G"),
        ("transfer", "G", "L"),  # pool trades and their opposite legs
        ("transfer", "L", "G"),
        ("transfer", "G", "B"),  # claimable balances created
        ("transfer", "B", "G"),  # and claimed
        ("mint", "-", "G"),
        ("burn", "G", "-"),
        ("clawback", "G", "-"),
    ]:
        assert kinds[kind], kind
    assert any(r["amount_raw"] < 0 for r in rows), "Soroban refunds"
    # Memos travel as ``to_muxed_id`` (no corpus transaction pays an M… destination: test_derived_rows).
    assert any(r["to_muxed_id"] is not None and r["to_muxed_id"] == r["memo"] for r in rows), "memos"
    assert any(r["amount_raw"] == 0 for r in rows), "zero-amount claim atoms"
