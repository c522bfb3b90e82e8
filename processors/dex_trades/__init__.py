"""DEX trades: claim atoms of offers and path payments against the order book and liquidity pools."""

from __future__ import annotations

from processors.base import Processor
from processors.dex_trades.config import DEXTradeConfig

processor = Processor(
    name="dex_trades",
    type_name="DEXTradeProcessor",
    version=1,
    requires=(),
    config_model=DEXTradeConfig,
    description="Trades on the Stellar DEX (order book and liquidity pools) with exact prices.",
    webhook_events=("dex_trade",),
)

__all__ = ["processor"]
