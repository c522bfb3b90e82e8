"""Candle math (pure): buckets, and the OHLC / volume / VWAP candle of a set of trades.

**Buckets.** An interval's buckets are aligned to the Unix epoch in UTC: a 1d bucket starts at midnight UTC,
a 1h bucket on the hour, 5m on multiples of five minutes. A trade falls in the bucket of its ledger's close
time (``closed_at``).

**Pair orientation.** A candle belongs to a canonical ``BASE/COUNTER`` pair (`processors.dex_trades.pairs`);
each trade, whichever side sold what, counts ``base_amount`` (the base asset that changed hands) and
``counter_amount``, and its price is ``counter_amount / base_amount``: COUNTER per BASE, exact.

**Candle.** Over the bucket's trades in order-key order (ids sort like order keys, `core.ids`):
``open``/``close`` the price of the first/last trade, ``high``/``low`` the largest/smallest price, all exact
rationals (``*_n``/``*_d`` in lowest terms, plus a decimal string); ``base_volume``/``counter_volume`` the exact
sums; ``trade_count``; ``vwap`` = ``counter_volume / base_volume`` (the rational is the two volumes; ``vwap`` is
its decimal string); ``first_trade_id``/``last_trade_id``. ``ledger_sequence``/``closed_at`` are those of the
last trade: the ledger the candle is current at. A trade with a zero base amount has no price (never seen: zero
atoms are not trades) and only adds to volumes and count.

Every field is a fold over the trades in order, so a candle of trades ``t1..tn`` extended (`Candle.add`) with
later trades ``tn+1..tm`` equals the candle of ``t1..tm``: that is what lets the refresh extend a stored candle
instead of re-reading its bucket (`processors.dex_volume.refresh`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from typing import Any, NamedTuple

from processors.dex_trades.pairs import decimal_text, pair_assets

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
_PRICES = ("open", "high", "low", "close")

BucketKey = tuple[str, str, datetime]  # (pair, interval, bucket start)


def bucket_start(closed_at: datetime, interval: str) -> datetime:
    """Start of the `interval` bucket holding `closed_at` (an aware datetime)."""
    seconds = INTERVAL_SECONDS[interval]
    timestamp = int(closed_at.timestamp())
    return datetime.fromtimestamp(timestamp - timestamp % seconds, UTC)


def bucket_end(start: datetime, interval: str) -> datetime:
    """The exclusive end of the bucket starting at `start`."""
    return start + timedelta(seconds=INTERVAL_SECONDS[interval])


class PairTrade(NamedTuple):
    """One trade as a candle sees it: in the pair's orientation, with its id (which sorts like its order key)."""

    id: str
    ledger_sequence: int
    closed_at: datetime
    pair: str
    base_amount: int
    counter_amount: int


def pair_trade(row: Mapping[str, Any]) -> PairTrade:
    """The `PairTrade` of a ``dex_trades`` row (extracted or stored)."""
    base, _ = pair_assets(row["pair"])
    if row["sold_asset"] == base:
        base_amount, counter_amount = row["sold_amount"], row["bought_amount"]
    else:
        base_amount, counter_amount = row["bought_amount"], row["sold_amount"]
    return PairTrade(
        row["id"], row["ledger_sequence"], row["closed_at"], row["pair"], base_amount, counter_amount
    )


def _fraction(numerator: int | None, denominator: int | None) -> Fraction | None:
    return None if numerator is None or denominator is None else Fraction(numerator, denominator)


@dataclass
class Candle:
    """A candle being accumulated: feed trades in id order with `add`, then read `row`."""

    pair: str
    interval: str
    bucket_start: datetime
    open: Fraction | None = None
    high: Fraction | None = None
    low: Fraction | None = None
    close: Fraction | None = None
    base_volume: int = 0
    counter_volume: int = 0
    trade_count: int = 0
    first_trade_id: str | None = None
    last_trade_id: str | None = None
    ledger_sequence: int | None = None
    closed_at: datetime | None = None

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Candle:
        """The candle of a stored ``dex_volume`` row, ready to be extended with later trades."""
        return cls(
            row["pair"],
            row["interval"],
            row["bucket_start"],
            open=_fraction(row["open_n"], row["open_d"]),
            high=_fraction(row["high_n"], row["high_d"]),
            low=_fraction(row["low_n"], row["low_d"]),
            close=_fraction(row["close_n"], row["close_d"]),
            base_volume=row["base_volume"],
            counter_volume=row["counter_volume"],
            trade_count=row["trade_count"],
            first_trade_id=row["first_trade_id"],
            last_trade_id=row["last_trade_id"],
            ledger_sequence=row["ledger_sequence"],
            closed_at=row["closed_at"],
        )

    def add(self, trade: PairTrade) -> None:
        """Fold in `trade`, which must come after every trade already in the candle."""
        if self.last_trade_id is not None and trade.id <= self.last_trade_id:
            raise ValueError(f"trade {trade.id} is not after the candle's last trade {self.last_trade_id}")
        if self.first_trade_id is None:
            self.first_trade_id = trade.id
        self.last_trade_id = trade.id
        self.ledger_sequence = trade.ledger_sequence
        self.closed_at = trade.closed_at
        self.trade_count += 1
        self.base_volume += trade.base_amount
        self.counter_volume += trade.counter_amount
        if trade.base_amount == 0:
            return
        price = Fraction(trade.counter_amount, trade.base_amount)
        if self.open is None:
            self.open = price
        self.close = price
        if self.high is None or price > self.high:
            self.high = price
        if self.low is None or price < self.low:
            self.low = price

    def row(self, tenant_id: str) -> dict[str, Any]:
        """The ``dex_volume`` row of this candle (which must hold at least one trade)."""
        if self.trade_count == 0:
            raise ValueError("a candle without trades has no row")
        base, counter = pair_assets(self.pair)
        row: dict[str, Any] = {
            "tenant_id": tenant_id,
            "pair": self.pair,
            "interval": self.interval,
            "bucket_start": self.bucket_start,
            "base_asset": base,
            "counter_asset": counter,
        }
        for name in _PRICES:
            price: Fraction | None = getattr(self, name)
            row[f"{name}_n"] = None if price is None else price.numerator
            row[f"{name}_d"] = None if price is None else price.denominator
            row[name] = None if price is None else decimal_text(price.numerator, price.denominator)
        row.update(
            base_volume=self.base_volume,
            counter_volume=self.counter_volume,
            trade_count=self.trade_count,
            vwap=decimal_text(self.counter_volume, self.base_volume) if self.base_volume else None,
            first_trade_id=self.first_trade_id,
            last_trade_id=self.last_trade_id,
            ledger_sequence=self.ledger_sequence,
            closed_at=self.closed_at,
        )
        return row


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
