"""REST routes of DEX trades: the trade listing and a pair's statistics over a window."""

from __future__ import annotations

from processors.rest_spec import RestParam, RestRoute

# `base` and `counter` together name one pair (`pairs:base` / `pairs:counter`: the halves of a `pairs` value).
PAIR_PARAMS = (
    RestParam("base", "pairs:base", "Base asset of the pair (`native`, `CODE:ISSUER`); needs `counter`."),
    RestParam("counter", "pairs:counter", "Counter asset of the pair; needs `base`."),
)

routes = (
    RestRoute(
        path="/dex/trades",
        processor="dex_trades",
        listing="dex_trades",
        summary="DEX trades",
        description="Order book and liquidity pool trades with exact prices, in ledger order. A pair "
        "(`base`, `counter`) matches in either orientation.",
        params=(
            *PAIR_PARAMS,
            RestParam("account", "accounts", "Trades where this account is the seller or the buyer."),
            RestParam("trade_type", "trade_types", "orderbook or liquidity_pool."),
            RestParam("pool_id", "pool_ids", "Liquidity pool id (L...)."),
        ),
    ),
    RestRoute(
        path="/dex/pairs/{pair}/stats",
        processor="dex_trades",
        listing="dex_trades",
        kind="pair_stats",
        summary="Statistics of a pair",
        description="Open, high, low, close, volumes, trade count and VWAP of a pair over `from`..`to` (ISO "
        "dates; default the last 24 hours). From DEXVolumeProcessor's candles when enabled, else from trades.",
        path_params=(
            RestParam(
                "pair",
                "pairs",
                "`BASE/COUNTER` (the slash may be percent-encoded), e.g. `native/USDC:GA5Z...`.",
            ),
        ),
    ),
)
