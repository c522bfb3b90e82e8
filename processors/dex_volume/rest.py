"""REST routes of DEX volume: the candles, and the DEX trade processor's pair statistics answered from them."""

from __future__ import annotations

from processors.dex_trades.rest import PAIR_PARAMS, pair_stats_route
from processors.dex_volume.pair_stats import candle_stats
from processors.dex_volume.query import CANDLES, CLOSED_CANDLES
from processors.rest_spec import RestParam, RestRoute

NAME = "dex_volume"

routes = (
    RestRoute(
        path="/dex/volume",
        processor=NAME,
        listing=CANDLES,
        summary="DEX volume candles",
        description="OHLC candles, volumes, trade counts and VWAP per pair and interval (1m, 5m, 1h, 1d), "
        "ordered by pair, interval and start. `from`/`to` apply to the candle's start.",
        params=(*PAIR_PARAMS, RestParam("interval", "intervals", "1m, 5m, 1h or 1d.")),
    ),
    RestRoute(
        path="/dex/volume/closed",
        processor=NAME,
        listing=CLOSED_CANDLES,
        summary="DEX volume candles as they closed",
        description="Each candle once, when it closed (its bucket ended and a later trade passed its end), with "
        "its values then, in the order they closed (ids as cursors, like every history listing). `from`/`to` "
        "apply to the candle's start.",
        params=(*PAIR_PARAMS, RestParam("interval", "intervals", "1m, 5m, 1h or 1d.")),
    ),
    pair_stats_route(NAME, candle_stats, fallback=False),
)
