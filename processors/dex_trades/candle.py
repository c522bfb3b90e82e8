"""A candle: the OHLC / volume / VWAP fold of a pair's trades (pure), and a pair's statistics over a window.

**Pair orientation.** A candle belongs to a canonical ``BASE/COUNTER`` pair (`pairs`); each trade, whichever side
sold what, counts ``base_amount`` (the base asset that changed hands) and ``counter_amount``, and its price is
``counter_amount / base_amount``: COUNTER per BASE, exact.

**Candle.** Over the trades in order-key order (ids sort like order keys, `core.ids`): ``open``/``close`` the
price of the first/last trade, ``high``/``low`` the largest/smallest price, all exact rationals (``*_n``/``*_d``
in lowest terms, plus a decimal string); ``base_volume``/``counter_volume`` the exact sums; ``trade_count``;
``vwap`` = ``counter_volume / base_volume`` (the rational is the two volumes; ``vwap`` is its decimal string);
``first_trade_id``/``last_trade_id``. ``ledger_sequence``/``closed_at`` are those of the last trade. A trade
with a zero base amount has no price (never seen: zero atoms are not trades) and only adds to volumes and count.

Every field is a fold over the trades in order, so a candle of trades ``t1..tn`` extended (`Candle.add`) with
later trades ``tn+1..tm`` equals the candle of ``t1..tm``. The candles a derived processor stores per bucket
(DEX volume) are these, and so are a pair's statistics over any window (`stats_row`): one candle spanning it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction
from typing import Any, NamedTuple

from processors.dex_trades.pairs import decimal_text, pair_assets

__all__ = ["WINDOW", "Candle", "PairTrade", "candle_of_trades", "pair_trade", "stats_row"]

_PRICES = ("open", "high", "low", "close")
WINDOW = "window"  # the interval name of a merged, window-sized candle


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
        """The candle of a stored candle row, ready to be extended with later trades."""
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
        """The stored row of this candle (which must hold at least one trade)."""
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


def candle_of_trades(pair: str, since: datetime, rows: Iterable[Mapping[str, Any]]) -> Candle:
    """Stored ``dex_trades`` rows of one pair, in id order, folded into one candle."""
    candle = Candle(pair, WINDOW, since)
    for row in rows:
        candle.add(pair_trade(row))
    return candle


def stats_row(candle: Candle, since: datetime, until: datetime, source: str) -> dict[str, Any]:
    """The stats of a pair as the APIs return them (a pair without trades has zero volumes, null prices)."""
    base, counter = pair_assets(candle.pair)
    if candle.trade_count:
        row = candle.row("")
        prices = {name: row[name] for name in ("open", "high", "low", "close", "vwap")}
    else:
        prices = dict.fromkeys(("open", "high", "low", "close", "vwap"))
    return {
        "pair": candle.pair,
        "base_asset": base,
        "counter_asset": counter,
        "since": since,
        "until": until,
        "trade_count": candle.trade_count,
        "base_volume": candle.base_volume,
        "counter_volume": candle.counter_volume,
        **prices,
        "first_trade_id": candle.first_trade_id,
        "last_trade_id": candle.last_trade_id,
        "source": source,
    }
