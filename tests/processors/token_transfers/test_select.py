"""Tenant filters (`select`), one test per kind, on the rows of a real mainnet ledger."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
from stellar_sdk import MuxedAccount

from processors.token_transfers.config import TokenTransferConfig
from processors.token_transfers.select import select
from tests.processors.token_transfers.conftest import ledger_facts
from tests.processors.token_transfers.test_extract import CUSTOM_LEDGER, CUSTOM_TRANSFER_TOKEN

Row = dict[str, Any]
I128_MAX = 2**127 - 1


@pytest.fixture
def rows(shared_ledgers: Path) -> list[Row]:
    return ledger_facts(shared_ledgers, CUSTOM_LEDGER).rows


def run(rows: list[Row], **config: Any) -> list[Row]:
    return select({"token_transfers": rows}, TokenTransferConfig(**config))["token_transfers"]


def test_defaults_keep_successful_rows_and_blank_memos(rows: list[Row]) -> None:
    before = copy.deepcopy(rows)
    kept = run(rows)
    assert rows == before, "select must not modify the shared extracted rows"
    assert kept == [
        {**r, "to_muxed_id": None, "memo": None, "memo_type": None} for r in rows if r["in_successful_tx"]
    ]
    assert any(r["event_type"] == "fee" for r in kept), "fee rows of successful transactions are kept"


def test_include_failed_txs_keeps_their_fee_rows(rows: list[Row]) -> None:
    kept = run(rows, include_failed_txs=True, track_memos=True)
    assert kept == rows and kept is not rows
    assert any(not r["in_successful_tx"] for r in kept)


def test_track_memos_keeps_memos(rows: list[Row]) -> None:
    kept = run(rows, track_memos=True)
    assert any(r["memo"] for r in kept) and any(r["to_muxed_id"] for r in kept)
    assert kept == [r for r in rows if r["in_successful_tx"]]


def test_event_types(rows: list[Row]) -> None:
    kept = run(rows, event_types=["mint", "fee"])
    assert {r["event_type"] for r in kept} == {"mint", "fee"}
    assert len(kept) == sum(r["event_type"] in ("mint", "fee") and r["in_successful_tx"] for r in rows)


def test_assets_native_classic_and_custom(rows: list[Row]) -> None:
    classic = next(r["asset"] for r in rows if r["asset_type"].startswith("credit"))
    kept = run(rows, assets=["native", classic, CUSTOM_TRANSFER_TOKEN])
    assert {r["asset"] for r in kept} == {"native", classic, CUSTOM_TRANSFER_TOKEN}
    (custom,) = run(rows, assets=[CUSTOM_TRANSFER_TOKEN])
    assert custom["asset_type"] == "contract" and custom["event_type"] == "transfer"


def test_assets_by_stellar_asset_contract_id(rows: list[Row]) -> None:
    row = next(r for r in rows if r["asset_type"].startswith("credit"))
    by_id = run(rows, assets=[row["contract_id"]])
    assert by_id == run(rows, assets=[row["asset"]])
    assert {r["asset"] for r in by_id} == {row["asset"]}


def test_accounts_match_sender_or_receiver(rows: list[Row]) -> None:
    account = next(r["to"] for r in rows if r["event_type"] == "transfer" and r["to"].startswith("G"))
    kept = run(rows, accounts=[account])
    assert kept and all(account in (r["from"], r["to"]) for r in kept)
    assert len(kept) == sum(account in (r["from"], r["to"]) and r["in_successful_tx"] for r in rows)


def test_muxed_account_matches_its_muxed_id(rows: list[Row]) -> None:
    row = next(r for r in rows if r["to_muxed_id"] and r["to_muxed_id"].isdigit() and r["in_successful_tx"])
    muxed = MuxedAccount(row["to"], int(row["to_muxed_id"])).account_muxed
    assert muxed is not None
    assert run(rows, accounts=[muxed], track_memos=True) == [
        r
        for r in rows
        if (r["to"], r["to_muxed_id"]) == (row["to"], row["to_muxed_id"]) and r["in_successful_tx"]
    ]


def test_contracts(rows: list[Row]) -> None:
    assert {r["contract_id"] for r in run(rows, contracts=[CUSTOM_TRANSFER_TOKEN])} == {CUSTOM_TRANSFER_TOKEN}
    sac = next(r["contract_id"] for r in rows if r["asset"] == "native")
    assert {r["asset"] for r in run(rows, contracts=[sac])} == {"native"}


def test_min_amount_compares_magnitudes(rows: list[Row]) -> None:
    minimum = 10_000_000  # 1 XLM / 1 unit of a classic asset
    kept = run(rows, min_amount=str(minimum), include_failed_txs=True)
    assert kept and all(abs(r["amount_raw"]) >= minimum for r in kept)
    assert len(kept) == sum(abs(r["amount_raw"]) >= minimum for r in rows)
    small_refunds = run(rows, min_amount=1, include_failed_txs=True)
    assert any(r["amount_raw"] < 0 for r in small_refunds), "refunds are movements too"
    assert len(small_refunds) == sum(r["amount_raw"] != 0 for r in rows)
    assert run(rows, min_amount=0, include_failed_txs=True, track_memos=True) == rows


def test_min_amount_with_an_i128_value(rows: list[Row]) -> None:
    template = next(r for r in rows if r["asset_type"] == "contract")
    huge = {**template, "amount_raw": I128_MAX, "amount": str(I128_MAX), "id": "x"}
    kept = run([*rows, huge], min_amount=str(2**126))
    assert kept == [{**huge, "to_muxed_id": None, "memo": None, "memo_type": None}]
    assert run([*rows, huge], min_amount=str(I128_MAX + 1)) == []


def test_filters_combine_with_and(rows: list[Row]) -> None:
    kept = run(rows, event_types=["transfer"], assets=["native"], min_amount="10000000")
    expected = [
        r
        for r in rows
        if r["event_type"] == "transfer" and r["asset"] == "native" and r["amount_raw"] >= 10_000_000
    ]
    assert [r["id"] for r in kept] == [r["id"] for r in expected] and kept


def test_same_config_compiles_once(rows: list[Row]) -> None:
    config = TokenTransferConfig(event_types=["mint"])
    first = select({"token_transfers": rows}, config)
    assert select({"token_transfers": rows}, config) == first
    assert select({"token_transfers": []}, config) == {"token_transfers": []}
