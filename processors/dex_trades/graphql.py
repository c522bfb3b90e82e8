"""GraphQL for DEX trades: ``dexTrades`` (a connection), ``pairStats(pairs, since, until)`` (a pair's stats
over a window) and each trade's ``pairStats`` (batched: one read for every pair of a page). Stats come from the
DEX volume candles when the tenant runs that processor, else from the stored trades."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import strawberry
from pydantic import TypeAdapter, ValidationError
from strawberry.types.field import StrawberryField
from strawberry.types.fields.resolver import StrawberryResolver

from core.errors import BadRequest
from processors.config_types import AssetPair
from processors.dex_trades.query import listings
from processors.dex_trades.table import dex_trades
from resolvers.connection import MAX_FIRST, listing_field
from resolvers.context import RequestContext
from resolvers.pair_stats_loader import pair_stats_loader
from resolvers.parts import GraphQLParts, SchemaParts
from resolvers.row_types import column_fields, object_type, plain_field
from resolvers.scalars import BigInt

NAME = "dex_trades"
DEFAULT_WINDOW = timedelta(hours=24)
_PAIRS = TypeAdapter(list[AssetPair])


def _window(since: datetime | None, until: datetime | None, now: datetime) -> tuple[datetime, datetime]:
    end = until or now
    start = since or end - DEFAULT_WINDOW
    if start > end:
        raise BadRequest("since is after until", code="invalid_argument")
    return start, end


def _stats_type() -> Any:
    price = "A decimal string (exact fractions are in the candles)."
    return object_type(
        "PairStats",
        [
            plain_field("pair", str, description="BASE/COUNTER, canonical."),
            plain_field("base_asset", str),
            plain_field("counter_asset", str),
            plain_field("since", datetime),
            plain_field("until", datetime),
            plain_field("trade_count", int),
            plain_field("base_volume", BigInt),
            plain_field("counter_volume", BigInt),
            *(plain_field(name, str | None, description=price) for name in ("open", "high", "low", "close")),
            plain_field("vwap", str | None, description="Volume-weighted average price (counter per base)."),
            plain_field("first_trade_id", str | None),
            plain_field("last_trade_id", str | None),
            plain_field("source", str, description="dex_volume:<interval> (merged candles) or dex_trades."),
        ],
        "A pair's trading over a window: open, high, low, close, volumes, trade count and VWAP.",
    )


def _loader(ctx: RequestContext, since: datetime | None, until: datetime | None) -> Any:
    ctx.require(NAME)
    start, end = _window(since, until, ctx.now)
    return ctx.loader(("pair_stats", start, end), pair_stats_loader(start, end))


async def _query_pair_stats(
    info: strawberry.Info,
    pairs: list[str],
    since: datetime | None = None,
    until: datetime | None = None,
) -> Any:
    ctx: RequestContext = info.context
    if not 1 <= len(pairs) <= MAX_FIRST:
        raise BadRequest(f"pairs: give 1 to {MAX_FIRST} pairs", code="invalid_argument")
    try:
        checked = _PAIRS.validate_python(pairs)
    except ValidationError as exc:
        problems = [f"pairs[{e['loc'][0]}]: {e['msg']}" for e in exc.errors()]
        raise BadRequest("; ".join(problems), code="invalid_argument") from None
    loader = _loader(ctx, since, until)
    return [await value for value in [loader.load(pair) for pair in checked]]


def _trade_pair_stats(
    root: strawberry.Parent[dict[str, Any]],
    info: strawberry.Info,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Any:
    return _loader(info.context, since, until).load(root["pair"])


def contribute(parts: SchemaParts) -> None:
    parts.define("PairStats", _stats_type)
    window = "Default window: the 24 hours before `until` (default: now)."
    parts.define(
        "DexTrade",
        lambda: object_type(
            "DexTrade",
            [
                *column_fields(dex_trades),
                StrawberryField(
                    python_name="pair_stats",
                    graphql_name="pairStats",
                    type_annotation=parts.ref("PairStats | None"),
                    base_resolver=StrawberryResolver(_trade_pair_stats),
                    description=f"Stats of this trade's pair over a window. {window}",
                ),
            ],
            "An order book or liquidity pool trade (one claim atom), read from the seller's side.",
        ),
    )
    listing_field(parts, NAME, "dexTrades", listings[0], "DexTrade")
    parts.add_query_field(
        NAME,
        StrawberryField(
            python_name="pair_stats",
            graphql_name="pairStats",
            type_annotation=parts.ref("list[PairStats]"),
            base_resolver=StrawberryResolver(_query_pair_stats),
            description=f"Stats per pair (BASE/COUNTER, either orientation), in the order asked. {window}",
        ),
    )


graphql = GraphQLParts(contribute=contribute)
