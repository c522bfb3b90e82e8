"""The pure candle math: buckets, orientation, OHLC, volumes, VWAP and extending stored candles."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from core.ids import row_id
from processors.dex_volume.config import DEXVolumeConfig
from processors.dex_volume.volume import (
    Candle,
    bucket_end,
    bucket_start,
    bucket_trades,
    build_candles,
    extend_candles,
    pair_trade,
    touched_buckets,
)

USDC = "USDC:GA5ZSEJYB37JRC5AVCIA5MOP4RHTM335X2KGX3IHOJAPP5RE34K4KZVN"
PAIR = f"native/{USDC}"


def at(hour: int, minute: int, second: int = 0) -> datetime:
    return datetime(2026, 6, 19, hour, minute, second, tzinfo=UTC)


def trade(ledger: int, when: datetime, sold: str, sold_amount: int, bought_amount: int) -> dict[str, Any]:
    bought = USDC if sold == "native" else "native"
    return {
        "id": row_id(ledger, 1, 1, 0),
        "ledger_sequence": ledger,
        "closed_at": when,
        "pair": PAIR,
        "sold_asset": sold,
        "sold_amount": sold_amount,
        "bought_asset": bought,
        "bought_amount": bought_amount,
    }


TRADES = [
    trade(3, at(0, 0, 15), "native", 3, 1),  # 1/3
    trade(1, at(0, 0, 5), USDC, 1, 2),  # 2 XLM for 1 USDC: 1/2
    trade(2, at(0, 0, 10), "native", 300000001, 100000000),  # just below 1/3
    trade(4, at(0, 1, 5), "native", 7, 1),  # next minute: 1/7
]


def test_buckets_are_aligned_to_the_epoch_in_utc() -> None:
    when = at(13, 47, 31)
    assert bucket_start(when, "1m") == at(13, 47)
    assert bucket_start(when, "5m") == at(13, 45)
    assert bucket_start(when, "1h") == at(13, 0)
    assert bucket_start(when, "1d") == at(0, 0)
    assert bucket_end(at(13, 45), "5m") == at(13, 50)
    assert bucket_start(at(13, 45), "5m") == at(13, 45)  # the start belongs to its bucket


def test_orientation_follows_the_pair_not_the_seller() -> None:
    # Selling 10 XLM for 3 USDC and selling 3 USDC for 10 XLM are both 10 base for 3 counter.
    one = pair_trade(trade(1, at(0, 0), "native", 10, 3))
    other = pair_trade(trade(2, at(0, 0), USDC, 3, 10))
    assert (one.base_amount, one.counter_amount) == (other.base_amount, other.counter_amount) == (10, 3)


def test_candle_is_exact_and_ordered_by_order_key() -> None:
    trades = [pair_trade(t) for t in TRADES]  # out of order on purpose
    wanted = touched_buckets(trades, ["1m", "1h"])
    assert wanted == {(PAIR, "1m", at(0, 0)), (PAIR, "1m", at(0, 1)), (PAIR, "1h", at(0, 0))}
    candles = build_candles(trades, wanted)
    minute = candles[(PAIR, "1m", at(0, 0))].row("t")
    assert (minute["open_n"], minute["open_d"]) == (1, 2)
    assert (minute["close_n"], minute["close_d"]) == (1, 3)
    assert (minute["high_n"], minute["high_d"]) == (1, 2)
    assert (minute["low_n"], minute["low_d"]) == (100000000, 300000001)  # exactly, though ~1/3
    assert minute["low"] == "0.33333333222222222593"
    assert (minute["base_volume"], minute["counter_volume"], minute["trade_count"]) == (
        300000006,
        100000002,
        3,
    )
    assert minute["vwap"] == "0.33333333333333333333"  # 100000002 / 300000006 = 1/3
    assert minute["first_trade_id"] == row_id(1, 1, 1, 0) and minute["last_trade_id"] == row_id(3, 1, 1, 0)
    assert (minute["ledger_sequence"], minute["closed_at"]) == (3, at(0, 0, 15))
    assert (minute["base_asset"], minute["counter_asset"]) == ("native", USDC)
    hour = candles[(PAIR, "1h", at(0, 0))].row("t")
    assert hour["trade_count"] == 4 and (hour["close_n"], hour["close_d"]) == (1, 7)
    assert (hour["low_n"], hour["low_d"]) == (1, 7) and hour["ledger_sequence"] == 4


def test_buckets_without_trades_get_no_candle() -> None:
    one = pair_trade(TRADES[0])
    assert build_candles([one], {(PAIR, "1d", at(0, 0))}).keys() == {(PAIR, "1d", at(0, 0))}
    assert build_candles([one], {(PAIR, "1m", at(0, 5))}) == {}


def test_extending_a_stored_candle_equals_building_it_whole() -> None:
    trades = sorted((pair_trade(t) for t in TRADES), key=lambda t: t.id)
    wanted = touched_buckets(trades, ["1m", "5m"])
    whole = {key: candle.row("t") for key, candle in build_candles(trades, wanted).items()}
    early = {key: candle.row("t") for key, candle in build_candles(trades[:2], wanted).items()}
    extended, rebuild = extend_candles(early, bucket_trades(trades[2:], wanted))
    # The minute that had no candle yet must be rebuilt from stored trades; the others are extended.
    assert rebuild == {(PAIR, "1m", at(0, 1))}
    assert {key: candle.row("t") for key, candle in extended.items()} == {
        key: row for key, row in whole.items() if key not in rebuild
    }


def test_trades_not_after_the_stored_candle_force_a_rebuild() -> None:
    trades = sorted((pair_trade(t) for t in TRADES), key=lambda t: t.id)
    wanted = touched_buckets(trades, ["1d"])
    stored = {key: candle.row("t") for key, candle in build_candles(trades, wanted).items()}
    # The same trades again (a re-ingested ledger), or an older one arriving late.
    assert extend_candles(stored, bucket_trades(trades[-1:], wanted)) == ({}, set(wanted))
    later = {key: candle.row("t") for key, candle in build_candles(trades[2:], wanted).items()}
    assert extend_candles(later, bucket_trades(trades[:1], wanted)) == ({}, set(wanted))


def test_a_candle_refuses_trades_out_of_order() -> None:
    candle = Candle(PAIR, "1m", at(0, 0))
    candle.add(pair_trade(TRADES[0]))
    with pytest.raises(ValueError, match="not after"):
        candle.add(pair_trade(TRADES[1]))


def test_default_config_has_every_interval() -> None:
    assert DEXVolumeConfig().intervals == ["1m", "5m", "1h", "1d"]
