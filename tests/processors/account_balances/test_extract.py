"""Shape of the extracted balance rows on real ledgers: parallel tables, order keys, deletions, SAC only."""

from __future__ import annotations

from pathlib import Path

from core.ids import row_id
from ledgers.corpus import PUBNET
from ledgers.view import LedgerView
from processors.account_balances import processor
from processors.account_balances.states import ledger_balances
from processors.account_balances.table import account_balances, account_balances_current
from tests import corpus
from tests.processors.account_balances import MAINNET_20, MAINNET_OTHER, balance_facts, raw_ledger

LEDGER = "wallet-backend/ledger-63092983.xdr.gz"
# A custom SEP-41 token of that ledger that keeps ["Balance", address] entries of its own (i128 values).
CUSTOM_TOKEN = "CBIJBDNZNF4X35BJ4FFZWCDBSCKOP5NB4PLG4SNENRMLAPYG4P5FM6VN"


def test_rows_are_parallel_ordered_and_fit_their_tables(shared_ledgers: Path) -> None:
    for relative in (*MAINNET_20[:3], *MAINNET_OTHER):
        facts = balance_facts(shared_ledgers, relative)
        history, current = facts.history, facts.current
        assert len(history) == len(current) > 0
        history_columns = {c.name for c in account_balances.columns} - {"tenant_id"}
        current_columns = {c.name for c in account_balances_current.columns} - {"tenant_id"}
        for index, (row, now) in enumerate(zip(history, current, strict=True)):
            assert set(row) == history_columns and set(now) == current_columns
            assert (row["transaction_index"], row["operation_index"], row["event_index"]) == (0, 0, index)
            assert row["id"] == row_id(facts.sequence, 0, 0, index)
            assert {k: row[k] for k in now} == now  # the current row is the history row's state
        keys = [(row["account_id"], row["asset"]) for row in history]
        assert len(keys) == len(set(keys)), "one row per holder and asset per ledger"


def test_balances_are_seven_decimal_strings_and_deletions_are_zero(shared_ledgers: Path) -> None:
    deleted = 0
    for relative in MAINNET_20:
        facts = balance_facts(shared_ledgers, relative)
        for row in facts.history:
            whole, fraction = divmod(row["balance_raw"], 10**7)
            assert row["balance"] == f"{whole}.{fraction:07d}"
            if row["deleted"]:
                deleted += 1
                assert row["balance_raw"] == 0 and row["last_modified_ledger"] == facts.sequence
                assert row["previous_balance_raw"] is not None
            if row["source"] == "claimable_balance":
                assert row["account_id"].startswith("B") and row["claimants"]
            else:
                assert row["claimants"] is None
            if row["source"] == "trustline":
                assert row["limit"] is not None and row["authorized"] is not None
    assert deleted > 0, "the 20 ledgers remove accounts, trustlines and claimable balances"


def test_only_stellar_asset_contract_balances_are_contract_rows(shared_ledgers: Path) -> None:
    facts = balance_facts(shared_ledgers, LEDGER)
    contract_rows = [row for row in facts.history if row["source"] == "contract"]
    assert contract_rows and facts.contract_balance_keys > len(contract_rows)
    # Asset strings (native or CODE:ISSUER), never a contract id: the contract proved to be that asset's SAC.
    assert all(row["asset"] == "native" or ":" in row["asset"] for row in contract_rows)
    assert all(row["account_id"].startswith("C") for row in contract_rows)
    assert not any(row["asset"] == CUSTOM_TOKEN for row in facts.history)


def test_extraction_is_deterministic_and_shared_per_view(shared_ledgers: Path) -> None:
    raw = raw_ledger(shared_ledgers, LEDGER)
    assert processor.extract is not None
    view = LedgerView.from_xdr(raw, PUBNET)
    assert ledger_balances(view) is ledger_balances(view)  # the token balance processor reuses the walk
    first = processor.extract(view)
    again = processor.extract(LedgerView.from_xdr(raw, PUBNET))
    assert first == again
    # The project's decoder gives what stellar-sdk's decoding of the session gives (tests/corpus.py).
    assert first == corpus.ledger(shared_ledgers, LEDGER).extracted("account_balances")
