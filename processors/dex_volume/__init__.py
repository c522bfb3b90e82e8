"""DEX volume: OHLC candles, volumes, trade counts and VWAP per pair, derived from DEX trades.

A derived processor: it extracts nothing from ledgers (``extract`` is None) and keeps its ``dex_volume`` table
up to date in ``after_write``, from the trades the DEXTradeProcessor stored for the tenant in the same
transaction (`refresh`), recording each candle once when it closes in ``dex_closed_candles`` (`closing`): the
rows of the ``onDexVolume`` subscription and of the ``candle_closed`` webhook event. Candle math and conventions:
`volume`.
"""

from __future__ import annotations

from processors.base import Processor, graphql_module
from processors.delivery import Subscription, WebhookEvent
from processors.dex_volume.config import DEXVolumeConfig
from processors.dex_volume.query import CLOSED_CANDLES, CLOSED_NODE, listings
from processors.dex_volume.refresh import after_write
from processors.dex_volume.rest import routes
from processors.dex_volume.table import dex_closed_candles, dex_volume

processor = Processor(
    name="dex_volume",
    type_name="DEXVolumeProcessor",
    version=1,
    requires=("DEXTradeProcessor",),
    config_model=DEXVolumeConfig,
    description="Per-pair candles (1m, 5m, 1h, 1d): open, high, low, close, volumes, trade count and VWAP.",
    listings=listings,
    graphql=graphql_module("processors.dex_volume.graphql"),
    routes=routes,
    tables=(dex_volume, dex_closed_candles),
    subscriptions=(
        Subscription(
            "onDexVolume",
            CLOSED_CANDLES,
            CLOSED_NODE,
            "DEX volume candles as they close (the tenant's intervals and pairs), each once.",
        ),
    ),
    webhook_events=(
        WebhookEvent(
            "candle_closed",
            "A DEX volume candle closed (the tenant's intervals and pairs), once, with its final values.",
            CLOSED_CANDLES,
        ),
    ),
    after_write=after_write,
)

__all__ = ["processor"]
