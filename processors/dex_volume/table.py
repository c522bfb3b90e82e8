"""The `dex_volume` candle table: one row per (tenant, pair, interval, bucket); the meaning of each column is in
`processors.dex_volume.volume`. And `dex_closed_candles`, the history of candles as they closed
(`processors.dex_volume.closing`).

A current-style table (`storage.processor_tables.current_table`): keyed by its entity, the candle, and never
archived. Its rows are written by the processor's ``after_write`` (`processors.dex_volume.refresh`: a candle
extended with a batch's later trades, or rebuilt from all its stored trades), never by the engine's row writer,
so the helper's "latest" write mode is not what keeps them right: each refresh replaces the whole candle.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Column, Integer, String

from storage.amounts import Amount
from storage.columns import asset_column
from storage.processor_tables import current_table, history_table
from storage.tables import UTCDateTime


def _price_columns(name: str) -> list[Column[object]]:
    # An exact rational (lowest terms) and its decimal string; null when no trade in the bucket had a price.
    return [
        Column(f"{name}_n", Amount, nullable=True),
        Column(f"{name}_d", Amount, nullable=True),
        Column(name, String(64), nullable=True),
    ]


def _candle_columns() -> list[Column[Any]]:
    """A candle's own columns, the same in the candle table and in the history of closed candles."""
    return [
        Column("pair", String(140), nullable=False),  # canonical BASE/COUNTER
        Column("interval", String(4), nullable=False),  # 1m | 5m | 1h | 1d
        Column("bucket_start", UTCDateTime, nullable=False),
        asset_column("base_asset"),
        asset_column("counter_asset"),
        *_price_columns("open"),
        *_price_columns("high"),
        *_price_columns("low"),
        *_price_columns("close"),
        Column("base_volume", Amount, nullable=False),
        Column("counter_volume", Amount, nullable=False),
        Column("trade_count", Integer, nullable=False),
        Column("vwap", String(64), nullable=True),  # counter_volume / base_volume as a decimal string
        Column("first_trade_id", String(32), nullable=False),
        Column("last_trade_id", String(32), nullable=False),
    ]


dex_volume = current_table(
    "dex_volume",
    ("pair", "interval", "bucket_start"),
    *_candle_columns(),
    indexes=(("tenant_id", "interval", "bucket_start"),),
)

# One row per candle as it closed: its values then, at the position (id, ledger_sequence, closed_at) of the
# ledger whose trade first passed the bucket's end. A history table, so its ids are cursors, subscription resume
# points and what the publisher sends; the second index finds a candle's closed row (written once).
CANDLE_COLUMNS = tuple(c.name for c in _candle_columns())
dex_closed_candles = history_table(
    "dex_closed_candles",
    *_candle_columns(),
    indexes=(("tenant_id", "pair", "interval", "bucket_start"),),
)
