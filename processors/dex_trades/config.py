"""Tenant config of the DEXTradeProcessor (order book and liquidity pool trades)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

from processors.config_types import CONFIG_MODEL_CONFIG, Address, AssetPair

TradeType = Literal["orderbook", "liquidity_pool"]


class DEXTradeConfig(BaseModel):
    """Which trades the tenant keeps. Empty filter lists mean "all"."""

    model_config = CONFIG_MODEL_CONFIG

    pairs: list[AssetPair] = []
    """``BASE/COUNTER`` pairs; a trade matches a pair in either direction."""
    accounts: list[Address] = []
    """Keep trades where any of these is the buyer or the seller."""
    trade_types: list[TradeType] = []
