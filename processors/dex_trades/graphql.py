"""GraphQL for DEX trades: ``dexTrades`` (a connection), ``pairStats(pairs, since, until)`` (a pair's stats
over a window) and each trade's ``pairStats`` (batched: one read for every pair of a page).

The stats here are folded from the stored trades and offered as fallbacks: the DEX volume processor, when the
tenant enables it, lends the same two fields answered from its candles (`add_pair_stats` with its own
`StatsFunction`). Either way they need ``read:dex_trades`` (the numbers are the trades').
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry
from pydantic import TypeAdapter, ValidationError

from core.errors import BadRequest, invalid_parameter
from processors.config_types import AssetPair
from processors.dex_trades.pair_stats import PAIR_STATS_FIELDS, StatsFunction, stats_window, trade_stats
from processors.dex_trades.pair_stats_loader import pair_stats_loader
from processors.dex_trades.query import TRADES
from processors.dex_trades.table import dex_trades
from resolvers.connection import MAX_FIRST, listing_field
from resolvers.context import RequestContext
from resolvers.parts import GraphQLParts, SchemaParts
from resolvers.row_types import column_fields, object_type, resolver_field, row_fields

NAME = "dex_trades"
TRADE_TYPE = "DexTrade"
_PAIRS = TypeAdapter(list[AssetPair])
_WINDOW = "Default window: the 24 hours before `until` (default: now)."


def add_pair_stats(parts: SchemaParts, owner: str, stats: StatsFunction, *, fallback: bool) -> None:
    """``Query.pairStats`` and ``DexTrade.pairStats`` answered by `stats`, contributed by processor `owner`."""

    def loader(ctx: RequestContext, since: datetime | None, until: datetime | None) -> Any:
        ctx.require(NAME)
        start, end = stats_window(since, until, ctx.now)
        if start > end:
            raise invalid_parameter("since", "is after until")
        return ctx.loader(("pair_stats", start, end), pair_stats_loader(stats, start, end))

    async def query_pair_stats(
        info: strawberry.Info,
        pairs: list[str],
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> Any:
        if not 1 <= len(pairs) <= MAX_FIRST:
            raise invalid_parameter("pairs", f"give 1 to {MAX_FIRST} pairs")
        try:
            checked = _PAIRS.validate_python(pairs)
        except ValidationError as exc:
            problems = [f"pairs[{e['loc'][0]}]: {e['msg']}" for e in exc.errors()]
            raise BadRequest(
                "; ".join(problems), code="invalid_parameter", details={"parameter": "pairs"}
            ) from None
        load = loader(info.context, since, until)
        return [await value for value in [load.load(pair) for pair in checked]]

    def trade_pair_stats(
        root: strawberry.Parent[dict[str, Any]],
        info: strawberry.Info,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> Any:
        return loader(info.context, since, until).load(root["pair"])

    parts.add_field(
        TRADE_TYPE,
        owner,
        resolver_field(
            "pairStats",
            parts.ref("PairStats | None"),
            trade_pair_stats,
            f"Stats of this trade's pair over a window. {_WINDOW}",
        ),
        fallback=fallback,
    )
    parts.add_query_field(
        owner,
        resolver_field(
            "pairStats",
            parts.ref("list[PairStats]"),
            query_pair_stats,
            f"Stats per pair (BASE/COUNTER, either orientation), in the order asked. {_WINDOW}",
        ),
        fallback=fallback,
    )


def contribute(parts: SchemaParts) -> None:
    parts.define(
        "PairStats",
        lambda: object_type(
            "PairStats",
            row_fields(PAIR_STATS_FIELDS),
            "A pair's trading over a window: open, high, low, close, volumes, trade count and VWAP.",
        ),
        owner=NAME,
    )
    parts.define(
        TRADE_TYPE,
        lambda: object_type(
            TRADE_TYPE,
            [*column_fields(dex_trades), *parts.fields_for(TRADE_TYPE)],
            "An order book or liquidity pool trade (one claim atom), read from the seller's side.",
        ),
        owner=NAME,
    )
    listing_field(parts, NAME, "dexTrades", TRADES, TRADE_TYPE)
    add_pair_stats(parts, NAME, trade_stats, fallback=True)


graphql = GraphQLParts(contribute=contribute)
