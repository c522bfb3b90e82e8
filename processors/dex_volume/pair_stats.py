"""A pair's statistics over a time window from the candles the tenant keeps (the DEX trade processor's pair
stats, answered cheaply for long windows; the window rule and the fields are `processors.dex_trades.pair_stats`).

The window is cut into the whole buckets of the coarsest kept interval that fit in it, then the uncovered edges
into whole buckets of the next finer interval, and so on; what is left at the edges (less than one bucket of the
finest kept interval on each side) is folded from the stored trades. A year costs a few hundred candles per
pair, not half a million 1m candles. Pairs the tenant keeps no candles of are folded from their trades. The
answer is the same whichever way it is read (the tests compare both on windows cut anywhere).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from pydantic import BaseModel

from processors.dex_trades.candle import candle_of_trades, stats_row
from processors.dex_trades.pair_stats import MAX_TRADES, folded_stats, read_all, read_trades
from processors.dex_trades.query import canonical
from processors.dex_volume.config import DEXVolumeConfig
from processors.dex_volume.stats import candle_of_candles
from processors.dex_volume.table import dex_volume
from processors.dex_volume.volume import INTERVAL_SECONDS
from storage.query import MAX_LIMIT, Filter, Query, Row

if TYPE_CHECKING:  # a type only: the router imports DuckDB and pyarrow (see processors.rest_spec)
    from storage.router import QueryRouter

NAME = "dex_volume"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_TICK = timedelta(microseconds=1)  # the window is inclusive: `until` itself belongs to it


@dataclass(frozen=True)
class Candles:
    """The candles a tenant keeps (its DEXVolumeProcessor config): intervals, and pairs (None: every pair)."""

    intervals: tuple[str, ...]
    pairs: frozenset[str] | None = None

    def covers(self, pair: str) -> bool:
        return bool(self.intervals) and (self.pairs is None or canonical(pair) in self.pairs)

    @classmethod
    def of(cls, config: DEXVolumeConfig) -> Candles:
        pairs = frozenset(canonical(p) for p in config.pairs) or None
        return cls(tuple(config.intervals), pairs)


@dataclass(frozen=True)
class Span:
    """Whole buckets of one interval, starting in ``[start, end)``."""

    interval: str
    start: datetime
    end: datetime


def decompose(
    since: datetime, until: datetime, intervals: Collection[str]
) -> tuple[list[Span], list[tuple[datetime, datetime]]]:
    """Cut ``[since, until]`` into spans of whole buckets (coarsest first) and the leftover edges, as inclusive
    ``(from, to)`` ranges to fold from trades."""
    spans: list[Span] = []
    edges: list[tuple[datetime, datetime]] = []
    order = sorted(intervals, key=INTERVAL_SECONDS.__getitem__, reverse=True)

    def cut(start: datetime, end: datetime, level: int) -> None:  # [start, end) half-open
        if start >= end:
            return
        if level == len(order):
            edges.append((start, end - _TICK))
            return
        size = timedelta(seconds=INTERVAL_SECONDS[order[level]])
        first = _EPOCH + -(-(start - _EPOCH) // size) * size  # the first bucket boundary at or after start
        last = _EPOCH + ((end - _EPOCH) // size) * size  # the last boundary at or before end
        if first >= last:
            cut(start, end, level + 1)
            return
        spans.append(Span(order[level], first, last))
        cut(start, first, level + 1)
        cut(last, end, level + 1)

    cut(since, until + _TICK, 0)
    return spans, edges


async def _candles(
    router: QueryRouter, tenant_id: str, pairs: list[str], spans: list[Span]
) -> dict[str, list[Row]]:
    by_pair: dict[str, list[Row]] = defaultdict(list)
    for span in spans:
        query = Query(
            tenant_id=tenant_id,
            table=dex_volume,
            filters=(Filter.any_of("pair", pairs), Filter.eq("interval", span.interval)),
            time_column="bucket_start",
            from_time=span.start,
            to_time=span.end - _TICK,
            limit=MAX_LIMIT,
        )
        for row in await read_all(router, query):
            by_pair[row["pair"]].append(row)
    return by_pair


async def pair_stats(
    router: QueryRouter,
    tenant_id: str,
    pairs: Sequence[str],
    *,
    since: datetime,
    until: datetime,
    candles: Candles | None,
) -> dict[str, Row | None]:
    """Stats per pair as asked (any orientation; keys are the pairs as given), over ``[since, until]``: from the
    `candles` the tenant keeps where they cover the pair, else from its trades."""
    wanted = {pair: canonical(pair) for pair in pairs}
    targets = sorted(set(wanted.values()))
    from_candles = [p for p in targets if candles is not None and candles.covers(p)]
    from_trades = [p for p in targets if p not in from_candles]
    budget = [MAX_TRADES]
    stats: dict[str, Row] = {}
    if from_candles:
        assert candles is not None
        spans, edges = decompose(since, until, candles.intervals)
        stored = await _candles(router, tenant_id, from_candles, spans)
        edge_trades = await read_trades(router, tenant_id, from_candles, edges, budget)
        for pair in from_candles:
            parts = [*stored[pair], *(_trade_candle(pair, since, t) for t in edge_trades[pair])]
            parts.sort(key=lambda row: row["first_trade_id"])  # candles and edge trades, in trade order
            intervals = sorted({s.interval for s in spans}, key=INTERVAL_SECONDS.__getitem__)
            source = "dex_volume:" + "+".join(intervals) if intervals else "dex_trades"
            stats[pair] = stats_row(candle_of_candles(pair, since, parts), since, until, source)
    if from_trades:
        stats.update(await folded_stats(router, tenant_id, from_trades, since, until, budget))
    return {pair: stats[canonical_pair] for pair, canonical_pair in wanted.items()}


async def candle_stats(
    router: QueryRouter,
    tenant_id: str,
    configs: Mapping[str, BaseModel],
    pairs: Sequence[str],
    since: datetime,
    until: datetime,
) -> dict[str, Row | None]:
    """`pair_stats` with the tenant's own candles (a `processors.dex_trades.pair_stats.StatsFunction`)."""
    config = configs.get(NAME)
    candles = Candles.of(config) if isinstance(config, DEXVolumeConfig) else None
    return await pair_stats(router, tenant_id, pairs, since=since, until=until, candles=candles)


def _trade_candle(pair: str, since: datetime, trade: Row) -> Row:
    """One trade as a candle row, so edge trades merge with stored candles in trade order."""
    return candle_of_trades(pair, since, [trade]).row("")


__all__ = ["Candles", "Span", "candle_stats", "decompose", "pair_stats"]
