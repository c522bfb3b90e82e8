"""A pair's statistics over a time window, for both APIs (``/dex/pairs/{pair}/stats``, GraphQL's ``pairStats``).

**The window** is inclusive, ``since <= closed_at <= until``, and the same rule applies in both APIs
(`stats_window`): a missing ``until`` (REST ``to``) is now; a missing ``since`` (REST ``from``) is 24 hours
before ``until``. So ``from`` alone asks for everything since then, ``to`` alone for the day before it, and
neither for the last 24 hours.

**The answer** here folds the stored trades of the window into one candle (`candle.stats_row`). Every read of
trades is capped (`MAX_TRADES` per request): past it the answer is a 400 ``window_too_large`` asking for a
shorter window (or the DEX volume processor, whose candles keep long windows cheap and answer the same fields,
`processors.dex_volume.pair_stats`, in place of this one when the tenant enables it).

`StatsFunction` is the shape both answers share, so the GraphQL fields and the REST route are built once
(`graphql.add_pair_stats`, `rest.pair_stats_route`) with either.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from pydantic import BaseModel

from core.errors import BadRequest
from core.instants import earlier, utc_instant
from processors.dex_trades.candle import candle_of_trades, stats_row
from processors.dex_trades.query import canonical
from processors.dex_trades.table import dex_trades
from storage.columns import ColumnKind, RowField
from storage.query import MAX_LIMIT, Filter, Query, Row

if TYPE_CHECKING:  # a type only: the router imports DuckDB and pyarrow (see processors.rest_spec)
    from storage.router import QueryRouter

MAX_TRADES = 50_000
DEFAULT_WINDOW = timedelta(hours=24)

StatsFunction = Callable[
    ["QueryRouter", str, Mapping[str, BaseModel], Sequence[str], datetime, datetime],
    Awaitable[dict[str, Row | None]],
]
"""``(router, tenant_id, the tenant's processor configs, pairs, since, until) -> {pair as asked: stats}``."""

_PRICE = "A decimal string (exact fractions are in the candles)."
PAIR_STATS_FIELDS = (
    RowField("pair", ColumnKind.TEXT, description="BASE/COUNTER, canonical."),
    RowField("base_asset", ColumnKind.TEXT),
    RowField("counter_asset", ColumnKind.TEXT),
    RowField("since", ColumnKind.DATETIME),
    RowField("until", ColumnKind.DATETIME),
    RowField("trade_count", ColumnKind.INTEGER),
    RowField("base_volume", ColumnKind.AMOUNT),
    RowField("counter_volume", ColumnKind.AMOUNT),
    *(
        RowField(name, ColumnKind.TEXT, nullable=True, description=_PRICE)
        for name in ("open", "high", "low", "close")
    ),
    RowField(
        "vwap",
        ColumnKind.TEXT,
        nullable=True,
        description="Volume-weighted average price (counter per base).",
    ),
    RowField("first_trade_id", ColumnKind.TEXT, nullable=True),
    RowField("last_trade_id", ColumnKind.TEXT, nullable=True),
    RowField("source", ColumnKind.TEXT, description="dex_volume:<interval> (merged candles) or dex_trades."),
)
"""The fields of a pair's statistics, in both APIs."""


def stats_window(since: datetime | None, until: datetime | None, now: datetime) -> tuple[datetime, datetime]:
    """The window asked for, with the defaults of the module docstring (the caller refuses ``since > until``).
    Instants are clamped (`core.instants`), so the default start of an ``until`` at the calendar's edge is
    computed without overflow."""
    end = utc_instant(until if until is not None else now)
    start = utc_instant(since) if since is not None else earlier(end, DEFAULT_WINDOW)
    return start, end


async def read_all(router: QueryRouter, query: Query, cap: int | None = None) -> list[Row]:
    """Every row of `query`, page after page; more than `cap` rows is a 400 ``window_too_large``."""
    rows: list[Row] = []
    while True:
        page = await router.fetch(query)
        rows.extend(page.rows)
        if cap is not None and len(rows) > cap:
            raise BadRequest(
                f"more than {cap} trades in this window: ask for a shorter window, or enable DEXVolumeProcessor",
                code="window_too_large",
            )
        following = page.next_query()
        if following is None:
            return rows
        query = following


async def read_trades(
    router: QueryRouter,
    tenant_id: str,
    pairs: list[str],
    ranges: list[tuple[datetime, datetime]],
    budget: list[int],
) -> dict[str, list[Row]]:
    """The stored trades of `pairs` in each inclusive ``(from, to)`` range, by canonical pair; `budget` (one
    mutable count for the request) caps how many trades all reads of a request take together."""
    by_pair: dict[str, list[Row]] = defaultdict(list)
    for start, end in ranges:
        query = Query(
            tenant_id=tenant_id,
            table=dex_trades,
            filters=(Filter.any_of("pair", pairs),),
            from_time=start,
            to_time=end,
            limit=MAX_LIMIT,
        )
        rows = await read_all(router, query, cap=budget[0])
        budget[0] -= len(rows)
        for row in rows:
            by_pair[row["pair"]].append(row)
    return by_pair


async def folded_stats(
    router: QueryRouter, tenant_id: str, pairs: list[str], since: datetime, until: datetime, budget: list[int]
) -> dict[str, Row]:
    """The stats of each canonical pair of `pairs` over ``[since, until]``, folded from its stored trades."""
    trades = await read_trades(router, tenant_id, pairs, [(since, until)], budget)
    return {
        pair: stats_row(candle_of_trades(pair, since, trades[pair]), since, until, "dex_trades")
        for pair in pairs
    }


async def trade_stats(
    router: QueryRouter,
    tenant_id: str,
    configs: Mapping[str, BaseModel],
    pairs: Sequence[str],
    since: datetime,
    until: datetime,
) -> dict[str, Row | None]:
    """Stats per pair as asked (any orientation; keys are the pairs as given) over ``[since, until]``, folded
    from the stored trades (a `StatsFunction`)."""
    wanted = {pair: canonical(pair) for pair in pairs}
    stats = await folded_stats(router, tenant_id, sorted(set(wanted.values())), since, until, [MAX_TRADES])
    return {pair: stats[canonical_pair] for pair, canonical_pair in wanted.items()}


__all__ = [
    "DEFAULT_WINDOW",
    "MAX_TRADES",
    "PAIR_STATS_FIELDS",
    "StatsFunction",
    "folded_stats",
    "read_all",
    "read_trades",
    "stats_window",
    "trade_stats",
]
