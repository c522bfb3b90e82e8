"""REST routes of DEX trades: the trade listing and a pair's statistics over a window (from the stored trades;
the DEX volume processor answers the same path from its candles when the tenant enables it)."""

from __future__ import annotations

from datetime import datetime

from core.errors import invalid_parameter
from processors.dex_trades.pair_stats import PAIR_STATS_FIELDS, StatsFunction, stats_window, trade_stats
from processors.dex_trades.query import TRADES, DEXTradeFilter
from processors.rest_spec import RestCall, RestPage, RestParam, RestReading, RestRoute
from storage.tables import utcnow

NAME = "dex_trades"
# `base` and `counter` together name one pair (`pairs:base` / `pairs:counter`: the halves of a `pairs` value).
PAIR_PARAMS = (
    RestParam("base", "pairs:base", "Base asset of the pair (`native`, `CODE:ISSUER`); needs `counter`."),
    RestParam("counter", "pairs:counter", "Counter asset of the pair; needs `base`."),
)
_PAIR = RestParam(
    "pair",
    "pairs",
    "`BASE/COUNTER` (the slash may be percent-encoded), e.g. `native/USDC:GA5Z...`.",
    slashes=True,
)


def _bound(call: RestCall[DEXTradeFilter], name: str) -> datetime | None:
    value = call.bounds.get(name)
    if value is not None and not isinstance(value, datetime):
        raise invalid_parameter(name, "a stats window is a time range: give an ISO 8601 date or date-time")
    return value


def pair_stats_reading(stats: StatsFunction) -> RestReading[DEXTradeFilter]:
    """The reading of ``/dex/pairs/{pair}/stats``: one row, the pair's stats over ``from``..``to``."""

    async def read(call: RestCall[DEXTradeFilter]) -> RestPage:
        pair = call.filters.pairs[0]
        since, until = stats_window(_bound(call, "from"), _bound(call, "to"), utcnow())
        if since > until:
            raise invalid_parameter("from", "is after to")
        router = call.router.recording()  # the tiers read go to `data_sources`
        found = await stats(router, call.tenant_id, call.configs, [pair], since, until)
        return RestPage([dict(found[pair] or {})], total=1, exact=True, sources=router.answered)

    return RestReading(read=read, fields=PAIR_STATS_FIELDS, row_type="PairStats")


def pair_stats_route(owner: str, stats: StatsFunction, *, fallback: bool) -> RestRoute[DEXTradeFilter]:
    """``/dex/pairs/{pair}/stats`` answered by `stats`, declared by processor `owner` (the key needs
    ``read:dex_trades`` either way)."""
    return RestRoute(
        path="/dex/pairs/{pair}/stats",
        processor=owner,
        scope=NAME,
        listing=TRADES,
        summary="Statistics of a pair",
        description="Open, high, low, close, volumes, trade count and VWAP of a pair over `from`..`to` (ISO "
        "dates or date-times; `to` defaults to now, `from` to 24 hours before `to`). From DEXVolumeProcessor's "
        "candles when enabled, else from trades.",
        path_params=(_PAIR,),
        common=("from", "to"),
        reading=pair_stats_reading(stats),
        fallback=fallback,
    )


routes = (
    RestRoute(
        path="/dex/trades",
        processor=NAME,
        listing=TRADES,
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
    pair_stats_route(NAME, trade_stats, fallback=True),
)
