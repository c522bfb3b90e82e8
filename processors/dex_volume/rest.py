"""REST route of DEX volume: the candles of this processor (only when it is enabled)."""

from __future__ import annotations

from processors.dex_trades.rest import PAIR_PARAMS
from processors.rest_spec import RestParam, RestRoute

routes = (
    RestRoute(
        path="/dex/volume",
        processor="dex_volume",
        listing="dex_volume",
        summary="DEX volume candles",
        description="OHLC candles, volumes, trade counts and VWAP per pair and interval (1m, 5m, 1h, 1d), "
        "ordered by pair, interval and start. `from`/`to` apply to the candle's start.",
        params=(*PAIR_PARAMS, RestParam("interval", "intervals", "1m, 5m, 1h or 1d.")),
    ),
)
