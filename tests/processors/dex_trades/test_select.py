"""The tenant filter of DEX trades, kind by kind, on the real trades of the 20 mainnet ledgers."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from stellar_sdk import MuxedAccount

from processors.dex_trades import processor
from processors.dex_trades.config import DEXTradeConfig
from tests.processors.dex_trades import MAINNET_20, corpus_ledger

USDC = "USDC:GA5ZSEJYB37JRC5AVCIA5MOP4RHTM335X2KGX3IHOJAPP5RE34K4KZVN"

Rows = list[dict[str, Any]]


@pytest.fixture
def rows(shared_ledgers: Path) -> Rows:
    return [row for file in MAINNET_20 for row in corpus_ledger(shared_ledgers, file).rows]


def keep(rows: Rows, **config: Any) -> Rows:
    assert processor.select is not None
    kept: Rows = processor.select({"dex_trades": rows}, DEXTradeConfig.model_validate(config))["dex_trades"]
    return kept


def test_empty_config_keeps_everything_in_a_new_list(rows: Rows) -> None:
    kept = keep(rows)
    assert kept == rows and kept is not rows


def test_pairs_match_in_either_direction(rows: Rows) -> None:
    xlm_usdc = [r for r in rows if {r["sold_asset"], r["bought_asset"]} == {"native", USDC}]
    assert len(xlm_usdc) > 10 and Counter(r["sold_asset"] for r in xlm_usdc).keys() == {"native", USDC}
    assert keep(rows, pairs=[f"native/{USDC}"]) == xlm_usdc
    assert keep(rows, pairs=[f"{USDC}/native"]) == xlm_usdc
    other = next(r["pair"] for r in rows if r["pair"] != f"native/{USDC}")
    both = keep(rows, pairs=[f"{USDC}/native", other])
    assert both == [r for r in rows if r["pair"] in (f"native/{USDC}", other)]


def test_accounts_match_seller_or_buyer(rows: Rows) -> None:
    seller = next(r["seller"] for r in rows if r["seller"] is not None)
    buyer = next(r["buyer"] for r in rows if r["buyer"] != seller)
    kept = keep(rows, accounts=[seller, buyer])
    assert kept == [
        r for r in rows if seller in (r["seller"], r["buyer"]) or buyer in (r["seller"], r["buyer"])
    ]
    assert {r["seller"] for r in kept} >= {seller} and {r["buyer"] for r in kept} >= {buyer}


def test_muxed_accounts(rows: Rows) -> None:
    trade = next(r for r in rows if r["trade_type"] == "orderbook")
    muxed = MuxedAccount(trade["buyer"], 42).account_muxed
    other_muxed = MuxedAccount(trade["buyer"], 7).account_muxed
    from_muxed = {**trade, "buyer_muxed": muxed}
    plain = {**trade, "buyer_muxed": None}
    assert keep([from_muxed, plain], accounts=[muxed]) == [from_muxed]
    assert keep([from_muxed, plain], accounts=[other_muxed]) == []
    # The G… account matches trades from any of its muxed forms.
    assert keep([from_muxed, plain], accounts=[trade["buyer"]]) == [from_muxed, plain]


def test_trade_types(rows: Rows) -> None:
    pools = keep(rows, trade_types=["liquidity_pool"])
    book = keep(rows, trade_types=["orderbook"])
    assert pools and book and len(pools) + len(book) == len(rows)
    assert {r["trade_type"] for r in pools} == {"liquidity_pool"}
    assert keep(rows, trade_types=["orderbook", "liquidity_pool"]) == rows


def test_kinds_combine_with_and(rows: Rows) -> None:
    kept = keep(rows, pairs=[f"{USDC}/native"], trade_types=["liquidity_pool"])
    assert kept and kept == [
        r for r in rows if r["pair"] == f"native/{USDC}" and r["trade_type"] == "liquidity_pool"
    ]


def test_select_never_mutates_rows(rows: Rows) -> None:
    before = [dict(r) for r in rows]
    keep(rows, accounts=[rows[0]["buyer"]], pairs=[rows[0]["pair"]], trade_types=["orderbook"])
    assert rows == before
