"""A pair's statistics over a time window (pure): from its stored candles, or from its trades.

Both fold into one `Candle` spanning the window, so the two sources give the same fields: open/close (first and
last price), high/low, exact base and counter volumes, trade count, VWAP, first/last trade ids. From candles the
window is resolved at the candle interval: the buckets starting inside it are counted whole.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from processors.dex_trades.candle import WINDOW, Candle


def candle_of_candles(pair: str, since: datetime, rows: Iterable[Mapping[str, Any]]) -> Candle:
    """Stored candle rows of one pair and interval, in bucket order, merged into one."""
    merged = Candle(pair, WINDOW, since)
    for row in rows:
        part = Candle.from_row(row)
        if part.trade_count == 0:
            continue
        if merged.first_trade_id is None:
            merged.first_trade_id = part.first_trade_id
        merged.last_trade_id = part.last_trade_id
        merged.ledger_sequence, merged.closed_at = part.ledger_sequence, part.closed_at
        merged.trade_count += part.trade_count
        merged.base_volume += part.base_volume
        merged.counter_volume += part.counter_volume
        if part.open is not None and merged.open is None:
            merged.open = part.open
        if part.close is not None:
            merged.close = part.close
        if part.high is not None and (merged.high is None or part.high > merged.high):
            merged.high = part.high
        if part.low is not None and (merged.low is None or part.low < merged.low):
            merged.low = part.low
    return merged
