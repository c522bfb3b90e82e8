"""The DEXTradeProcessor's rows against a direct walk of the XDR and stellar-etl's trade effects."""

from __future__ import annotations

import json
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

from core.ids import OrderKey, row_id
from tests.processors.dex_trades import (
    MAINNET_20,
    RECONSTRUCTED_DIR,
    WalkTrade,
    corpus_ledger,
    trade_files,
)

ZERO_ATOM_LEDGER = f"{RECONSTRUCTED_DIR}/FE29B17B--30822020.xdr.zstd"
EFFECTS_GOLDEN = "stellar-etl/golden/effects/10_ledgers_effects.golden"
STROOPS = Decimal(10**7)


def as_walk(row: dict[str, Any]) -> WalkTrade:
    return WalkTrade(
        row["ledger_sequence"],
        row["transaction_index"],
        row["operation_index"],
        row["trade_index"],
        row["trade_type"],
        row["seller"],
        row["buyer"],
        row["offer_id"],
        row["pool_id"],
        row["sold_asset"],
        row["sold_amount"],
        row["bought_asset"],
        row["bought_amount"],
    )


def expected_pair(a: str, b: str) -> str:
    """The canonical orientation, restated: native is the base, else the smaller asset string."""
    if b == "native" or (a != "native" and b < a):
        a, b = b, a
    return f"{a}/{b}"


def test_processor_agrees_with_the_xdr_walk_on_every_trade(shared_ledgers: Path) -> None:
    total = 0
    for file in trade_files(shared_ledgers):
        ledger = corpus_ledger(shared_ledgers, file)
        assert [as_walk(row) for row in ledger.rows] == list(ledger.walk.trades), file
        total += len(ledger.rows)
    assert total > 1700  # the files hold ~1,770 trades: the comparison is not vacuous


def test_derived_columns(shared_ledgers: Path) -> None:
    for file in trade_files(shared_ledgers):
        rows = corpus_ledger(shared_ledgers, file).rows
        for row in rows:
            key = (
                row["ledger_sequence"],
                row["transaction_index"],
                row["operation_index"],
                row["event_index"],
            )
            assert row["id"] == row_id(*key) and OrderKey.from_id(row["id"]) == key
            assert row["event_index"] == row["trade_index"]
            assert row["in_successful_tx"] is True
            assert (
                (row["seller"] is None)
                == (row["trade_type"] == "liquidity_pool")
                == (row["offer_id"] is None)
            )
            assert (row["pool_id"] is None) == (row["trade_type"] == "orderbook")
            exact = Fraction(row["bought_amount"], row["sold_amount"])
            assert (row["price_n"], row["price_d"]) == (exact.numerator, exact.denominator)
            # The decimal string is the rational to 20 significant digits.
            assert abs(Fraction(Decimal(row["price"])) - exact) <= exact / 10**19
            assert row["pair"] == expected_pair(row["sold_asset"], row["bought_asset"])
        ids = [row["id"] for row in rows]
        assert ids == sorted(ids) and len(set(ids)) == len(ids), file


def test_atoms_of_failed_transactions_are_not_trades(shared_ledgers: Path) -> None:
    walks = [corpus_ledger(shared_ledgers, file).walk for file in MAINNET_20]
    # The corpus README: 2,014 claim atoms in the 20 ledgers, 504 of them inside failed transactions.
    assert sum(w.atoms for w in walks) == 2014
    assert sum(w.atoms_in_failed_txs for w in walks) == 504
    rows = sum(len(corpus_ledger(shared_ledgers, file).rows) for file in MAINNET_20)
    assert rows == sum(w.atoms - w.atoms_in_failed_txs - w.zero_atoms for w in walks) == 1510


def test_zero_amount_atom_yields_no_trade(shared_ledgers: Path) -> None:
    ledger = corpus_ledger(shared_ledgers, ZERO_ATOM_LEDGER)
    assert ledger.sequence == 30822020
    # One atom, in a successful transaction (so only its zero amounts exclude it), and no trade.
    assert (ledger.walk.atoms, ledger.walk.atoms_in_failed_txs, ledger.walk.zero_atoms) == (1, 0, 1)
    assert ledger.rows == ()


def _amount(text: str) -> int:
    return int(Decimal(text) * STROOPS)


def _asset(details: dict[str, Any], side: str) -> str:
    if details[f"{side}_asset_type"] == "native":
        return "native"
    return f"{details[f'{side}_asset_code']}:{details[f'{side}_asset_issuer']}"


def test_every_trade_effect_of_stellar_etl_is_a_trade(shared_ledgers: Path) -> None:
    """stellar-etl writes two ``trade`` effects per trade: one for each party, from that party's side, naming
    the other party as ``seller``. Every effect of 30822024/25 must be one side of one of our trades, and
    every trade of those ledgers must have both of its sides there."""
    lines = (shared_ledgers / EFFECTS_GOLDEN).read_text().splitlines()
    effects = [e for e in map(json.loads, lines) if e["type_string"] == "trade"]
    assert len(effects) == 8
    rows = [
        row
        for file in (
            f"{RECONSTRUCTED_DIR}/FE29B177--30822024.xdr.zstd",
            f"{RECONSTRUCTED_DIR}/FE29B176--30822025.xdr.zstd",
        )
        for row in corpus_ledger(shared_ledgers, file).rows
    ]
    sides: dict[str, set[str]] = {row["id"]: set() for row in rows}
    for effect in effects:
        details = effect["details"]
        sold = (_asset(details, "sold"), _amount(details["sold_amount"]))
        bought = (_asset(details, "bought"), _amount(details["bought_amount"]))
        matches = []
        for row in rows:
            if (
                OrderKey.from_id(row["id"]).toid != effect["operation_id"]
                or row["offer_id"] != details["offer_id"]
            ):
                continue
            ours_sold = (row["sold_asset"], row["sold_amount"])
            ours_bought = (row["bought_asset"], row["bought_amount"])
            if (effect["address"], details["seller"], sold, bought) == (
                row["seller"],
                row["buyer"],
                ours_sold,
                ours_bought,
            ):
                matches.append((row["id"], "seller"))
            elif (effect["address"], details["seller"], sold, bought) == (
                row["buyer"],
                row["seller"],
                ours_bought,
                ours_sold,
            ):
                matches.append((row["id"], "buyer"))
        assert len(matches) == 1, effect
        trade_id, side = matches[0]
        sides[trade_id].add(side)
    assert len(rows) == 4
    assert all(found == {"seller", "buyer"} for found in sides.values()), sides
