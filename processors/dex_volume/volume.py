"""Candle math per bucket (pure): buckets, and the stored candles of a set of trades.

**Buckets.** An interval's buckets are aligned to the Unix epoch in UTC: a 1d bucket starts at midnight UTC,
a 1h bucket on the hour, 5m on multiples of five minutes. A trade falls in the bucket of its ledger's close
time (``closed_at``).

**Candles** are the trade fold of `processors.dex_trades.candle` (orientation, prices, volumes, VWAP), one per
(pair, interval, bucket).

Every field is a fold over the trades in order, so a candle of trades ``t1..tn`` extended (`Candle.add`) with
later trades ``tn+1..tm`` equals the candle of ``t1..tm``: that is what lets the refresh extend a stored candle
instead of re-reading its bucket (`processors.dex_volume.refresh`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

from processors.dex_trades.candle import Candle, PairTrade, pair_trade

__all__ = [
    "INTERVAL_SECONDS",
    "BucketKey",
    "Candle",
    "PairTrade",
    "bucket_end",
    "bucket_start",
    "bucket_trades",
    "build_candles",
    "extend_candles",
    "pair_trade",
    "touched_buckets",
]

INTERVAL_SECONDS = {"1m": 60, "5m": 300, "1h": 3600, "1d": 86400}
BucketKey = tuple[str, str, datetime]  # (pair, interval, bucket start)


# Memoised: called per trade and interval (~800 times a mainnet ledger) with a ledger's few close times.
@lru_cache(maxsize=4096)
def bucket_start(closed_at: datetime, interval: str) -> datetime:
    """Start of the `interval` bucket holding `closed_at` (an aware datetime)."""
    seconds = INTERVAL_SECONDS[interval]
    timestamp = int(closed_at.timestamp())
    return datetime.fromtimestamp(timestamp - timestamp % seconds, UTC)


def bucket_end(start: datetime, interval: str) -> datetime:
    """The exclusive end of the bucket starting at `start`."""
    return start + timedelta(seconds=INTERVAL_SECONDS[interval])


def touched_buckets(trades: Iterable[PairTrade], intervals: Iterable[str]) -> set[BucketKey]:
    """The ``(pair, interval, bucket start)`` of every trade in every interval."""
    intervals = tuple(intervals)
    return {(t.pair, interval, bucket_start(t.closed_at, interval)) for t in trades for interval in intervals}


def bucket_trades(
    trades: Iterable[PairTrade], wanted: Iterable[BucketKey]
) -> dict[BucketKey, list[PairTrade]]:
    """The trades of each `wanted` bucket, in id order (trades of other buckets are ignored)."""
    wanted_set = set(wanted)
    intervals = sorted({interval for _, interval, _ in wanted_set}, key=INTERVAL_SECONDS.__getitem__)
    grouped: dict[BucketKey, list[PairTrade]] = {}
    for trade in sorted(trades, key=lambda t: t.id):
        for interval in intervals:
            key = (trade.pair, interval, bucket_start(trade.closed_at, interval))
            if key in wanted_set:
                grouped.setdefault(key, []).append(trade)
    return grouped


def build_candles(trades: Iterable[PairTrade], wanted: Iterable[BucketKey]) -> dict[BucketKey, Candle]:
    """The candles of the `wanted` buckets from `trades` (any order). A bucket without trades gets none."""
    candles: dict[BucketKey, Candle] = {}
    for key, in_bucket in bucket_trades(trades, wanted).items():
        candle = candles[key] = Candle(*key)
        for trade in in_bucket:
            candle.add(trade)
    return candles


def extend_candles(
    stored: Mapping[BucketKey, Mapping[str, Any]], new: Mapping[BucketKey, list[PairTrade]]
) -> tuple[dict[BucketKey, Candle], set[BucketKey]]:
    """Extend the stored candles with the `new` trades of their buckets (each list in id order).

    A stored candle holds every stored trade of its bucket up to its ``last_trade_id`` (every write of trades
    refreshes their candles in the same transaction). When all the new trades of a bucket come after that id,
    the stored candle extended with them is the candle of all the bucket's trades. Otherwise (a re-ingested
    ledger, a backfill of an older range, or no stored candle yet) the bucket must be rebuilt from its stored
    trades: those keys are returned as the second value.
    """
    extended: dict[BucketKey, Candle] = {}
    rebuild: set[BucketKey] = set()
    for key, trades in new.items():
        row = stored.get(key)
        if row is None or trades[0].id <= row["last_trade_id"]:
            rebuild.add(key)
            continue
        candle = extended[key] = Candle.from_row(row)
        for trade in trades:
            candle.add(trade)
    return extended, rebuild
