"""What callers may ask of DEX volume candles (GraphQL filter input and REST parameters alike)."""

from __future__ import annotations

from pydantic import Field

from processors.config_types import AssetPair
from processors.dex_trades.query import canonical
from processors.dex_volume.config import Interval
from processors.dex_volume.table import dex_closed_candles, dex_volume
from processors.listing import MAX_FILTER_VALUES, FilterModel, Listing, any_of
from storage.query import Filter


class DEXVolumeFilter(FilterModel):
    """Filters on candles; lists mean "any of". Time ranges apply to the candle's start."""

    pairs: list[AssetPair] = Field(default=[], max_length=MAX_FILTER_VALUES)
    """``BASE/COUNTER`` in either orientation."""
    intervals: list[Interval] = Field(default=[], max_length=MAX_FILTER_VALUES)


def to_filters(f: DEXVolumeFilter) -> tuple[Filter, ...]:
    return (*any_of("pair", sorted({canonical(p) for p in f.pairs})), *any_of("interval", f.intervals))


CANDLES = Listing(
    name="dex_volume",
    processor="dex_volume",
    table=dex_volume,
    filters=DEXVolumeFilter,
    to_filters=to_filters,
    description="OHLC candles, volumes, trade counts and VWAP per pair and interval (1m, 5m, 1h, 1d).",
    time_column="bucket_start",
)
CLOSED_NODE = "DexClosedCandle"
"""The GraphQL type of a closed candle (the ``onDexVolume`` subscription's and ``dexClosedCandles``' node)."""

# The history of closed candles (`processors.dex_volume.closing`), in the order they closed: the catch-up source
# of the ``onDexVolume`` subscription. Same filter as the candles; ``from``/``to`` apply to the candle's start.
CLOSED_CANDLES = Listing(
    name="dex_closed_candles",
    processor="dex_volume",
    table=dex_closed_candles,
    filters=DEXVolumeFilter,
    to_filters=to_filters,
    description="Candles as they closed (their bucket ended and a later trade passed its end), in the order "
    "they closed; each candle once, with its values at its close.",
    time_column="bucket_start",
)
listings = (CANDLES, CLOSED_CANDLES)
