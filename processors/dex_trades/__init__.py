"""DEX trades: claim atoms of offers and path payments against the order book and liquidity pools."""

from __future__ import annotations

from processors.base import Processor, graphql_module
from processors.delivery import Subscription, WebhookEvent
from processors.dex_trades.config import DEXTradeConfig
from processors.dex_trades.extract import extract
from processors.dex_trades.query import TRADES, listings
from processors.dex_trades.rest import routes
from processors.dex_trades.select import select
from processors.dex_trades.table import dex_trades

processor = Processor(
    name="dex_trades",
    type_name="DEXTradeProcessor",
    version=1,
    requires=(),
    config_model=DEXTradeConfig,
    description="Trades on the Stellar DEX (order book and liquidity pools) with exact prices.",
    webhook_events=(WebhookEvent("dex_trade", "A DEX trade the tenant keeps.", TRADES),),
    subscriptions=(Subscription("onDexTrade", TRADES, "DexTrade", "DEX trades as they are ingested."),),
    listings=listings,
    graphql=graphql_module("processors.dex_trades.graphql"),
    routes=routes,
    tables=(dex_trades,),
    extract=extract,
    select=select,
    archive=(dex_trades,),
)

__all__ = ["processor"]
