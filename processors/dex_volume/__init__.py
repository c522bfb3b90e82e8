"""DEX volume: OHLC candles, volumes, trade counts and VWAP per pair, derived from DEX trades."""

from __future__ import annotations

from processors.base import Processor
from processors.dex_volume.config import DEXVolumeConfig

processor = Processor(
    name="dex_volume",
    type_name="DEXVolumeProcessor",
    version=1,
    requires=("DEXTradeProcessor",),
    config_model=DEXVolumeConfig,
    description="Per-pair candles (1m, 5m, 1h, 1d): open, high, low, close, volumes, trade count and VWAP.",
)

__all__ = ["processor"]
