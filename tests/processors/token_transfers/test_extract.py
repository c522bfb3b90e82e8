"""`extract` on real ledgers: row shape, ids and order, failed transactions, custom tokens, memos, amounts,
and derived rows for ledgers without unified events."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from core.ids import OrderKey, row_id
from processors.token_transfers import processor
from processors.token_transfers.extract import extract
from processors.token_transfers.table import token_transfers
from tests import corpus
from tests.processors.token_transfers.conftest import MAINNET_OTHER, LedgerFacts, ledger_facts

# 63092983 holds a custom SEP-41 token transfer (CBIJ…) and a custom mint with the (admin, to) layout (CCA2…).
CUSTOM_LEDGER = "wallet-backend/ledger-63092983.xdr.gz"
CUSTOM_TRANSFER_TOKEN = "CBIJBDNZNF4X35BJ4FFZWCDBSCKOP5NB4PLG4SNENRMLAPYG4P5FM6VN"
CUSTOM_MINT_TOKEN = "CCA2ZJP5BVRXYTQH4FAGHCAUMRYCXVC4CRYC2NXHWMR7TIVX36U7F5HR"
ROW_KEYS = {c.name for c in token_transfers.columns} - {"tenant_id"}


@pytest.fixture
def custom(shared_ledgers: Path) -> LedgerFacts:
    return ledger_facts(shared_ledgers, CUSTOM_LEDGER)


def test_processor_is_wired() -> None:
    assert processor.extract is extract
    assert processor.select is not None


@pytest.mark.parametrize("relative", [CUSTOM_LEDGER, *MAINNET_OTHER])
def test_rows_have_exactly_the_table_columns(shared_ledgers: Path, relative: str) -> None:
    for row in ledger_facts(shared_ledgers, relative).rows:
        assert set(row) == ROW_KEYS
        assert isinstance(row["amount_raw"], int)


@pytest.mark.parametrize("relative", [CUSTOM_LEDGER, *MAINNET_OTHER])
def test_ids_are_unique_and_sort_like_the_order_key(shared_ledgers: Path, relative: str) -> None:
    rows = ledger_facts(shared_ledgers, relative).rows
    keys = [
        (r["ledger_sequence"], r["transaction_index"], r["operation_index"], r["event_index"]) for r in rows
    ]
    assert len(set(keys)) == len(keys)
    assert [r["id"] for r in rows] == [row_id(*k) for k in keys]
    assert sorted(r["id"] for r in rows) == [OrderKey(*k).id for k in sorted(keys)]
    for row in rows:
        assert (row["operation_index"] == 0) == (row["event_type"] == "fee")


def test_failed_transactions_yield_only_fee_rows(custom: LedgerFacts) -> None:
    failed = [r for r in custom.rows if not r["in_successful_tx"]]
    assert failed, "the ledger has failed transactions"
    assert {r["event_type"] for r in failed} == {"fee"}
    assert all(not custom.successful[r["tx_hash"]] for r in failed)
    # Every failed transaction pays: a fee row each, refunds included.
    assert {r["tx_hash"] for r in failed} == {h for h, ok in custom.successful.items() if not ok}


def test_fee_rows_charge_then_refund(custom: LedgerFacts) -> None:
    refunds = [r for r in custom.rows if r["amount_raw"] < 0]
    assert refunds and all(r["event_type"] == "fee" for r in refunds)
    assert all(r["amount"].startswith("-0.") for r in refunds)
    charges = {r["tx_hash"]: r for r in custom.rows if r["event_type"] == "fee" and r["amount_raw"] > 0}
    for refund in refunds:
        charge = charges[refund["tx_hash"]]
        assert (charge["operation_index"], refund["operation_index"]) == (0, 0)
        assert charge["event_index"] < refund["event_index"] and charge["id"] < refund["id"]


def test_custom_token_rows(custom: LedgerFacts) -> None:
    rows = [r for r in custom.rows if r["asset_type"] == "contract"]
    assert {(r["event_type"], r["asset"]) for r in rows} == {
        ("transfer", CUSTOM_TRANSFER_TOKEN),
        ("mint", CUSTOM_MINT_TOKEN),
    }
    for row in rows:
        assert row["contract_id"] == row["asset"]
        assert row["decimals"] is None and row["asset_code"] is None and row["asset_issuer"] is None
        assert row["amount"] == str(row["amount_raw"])  # decimals unknown: the raw integer
    (mint,) = [r for r in rows if r["event_type"] == "mint"]
    assert mint["from"] is None and mint["to"] is not None  # (admin, to): the admin is not the sender


def test_classic_rows(custom: LedgerFacts) -> None:
    classic = [r for r in custom.rows if r["asset_type"] != "contract"]
    for row in classic:
        assert row["decimals"] == 7
        whole, _, fraction = row["amount"].lstrip("-").partition(".")
        assert len(fraction) == 7 and int(whole + fraction) == abs(row["amount_raw"])
        if row["asset"] == "native":
            assert row["asset_type"] == "native"
        else:
            assert row["asset"] == f"{row['asset_code']}:{row['asset_issuer']}"
    # Money moving into pools and claimable balances is a transfer to an L… / B… address (CAP-67).
    holders = Counter(address[0] for r in classic for address in (r["from"], r["to"]) if address)
    assert holders["G"] and holders["L"] and holders["B"]


def test_muxed_ids_and_memos(custom: LedgerFacts) -> None:
    muxed = [r for r in custom.rows if r["to_muxed_id"] is not None]
    assert muxed and all(r["event_type"] in ("transfer", "mint") for r in muxed)
    with_memo = [r for r in custom.rows if r["memo"] is not None]
    assert with_memo and all(r["memo_type"] in ("text", "id", "hash", "return") for r in with_memo)
    assert all(r["memo_type"] is None for r in custom.rows if r["memo"] is None)


# Ledgers without unified events: meta v2 (LCM v0), meta v3, and meta v4 load-test ledgers with transfer
# events but no fee events. Their movements are derived (`derive`, tested in test_derived_*).
NON_UNIFIED = (
    "stellar-go/ttp-example/mint-ledger-7320888",
    "stellar-go/testbucket/FFFFFC18--999.xdr.zst",
    "stellar-go/load-test/load-test-ledgers-v24.xdr.zstd",
)


@pytest.mark.parametrize("relative", NON_UNIFIED)
def test_derived_rows_without_unified_events(shared_ledgers: Path, relative: str) -> None:
    for ledger in corpus.ledgers(shared_ledgers, relative)[:2]:
        assert not ledger.has_unified_events
        rows = ledger.rows("token_transfers")  # what `extract` returned
        assert rows == ledger.facts("token_transfers").derived  # `derive_rows` of the same view
        assert bool(rows) == bool(ledger.transaction_count)  # every transaction pays a fee
