"""Tenant config of the DEXVolumeProcessor (candles derived from DEX trades)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from processors.config_types import CONFIG_MODEL_CONFIG, AssetPair

Interval = Literal["1m", "5m", "1h", "1d"]
ALL_INTERVALS: tuple[Interval, ...] = ("1m", "5m", "1h", "1d")


class DEXVolumeConfig(BaseModel):
    """Which candles the tenant keeps."""

    model_config = CONFIG_MODEL_CONFIG

    intervals: list[Interval] = Field(default_factory=lambda: list(ALL_INTERVALS))
    pairs: list[AssetPair] = []
    """``BASE/COUNTER`` pairs to aggregate; empty means every pair traded."""
