"""Pair statistics over a time window for the APIs (`/dex/pairs/{pair}/stats`, GraphQL's pair stats).

The window is inclusive, ``since <= closed_at <= until``, and the answer is the same whichever way it is read:

- From the DEX volume candles, where the tenant keeps them for the pair (`Candles`): the window is cut into the
  whole buckets of the coarsest kept interval that fit in it, then the uncovered edges into whole buckets of
  the next finer interval, and so on; what is left at the edges (less than one bucket of the finest kept
  interval on each side) is folded from the stored trades. A year costs a few hundred candles per pair, not
  half a million 1m candles.
- Otherwise from the stored trades of the window, folded into one candle.

Every read of trades is capped (`MAX_TRADES` per request): past it the answer is a 400 `window_too_large`
asking for a shorter window (or the DEX volume processor, whose candles keep long windows cheap).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from core.errors import BadRequest
from processors.dex_trades.query import canonical
from processors.dex_volume.stats import candle_of_candles, candle_of_trades, stats_row
from processors.dex_volume.volume import INTERVAL_SECONDS
from storage.query import MAX_LIMIT, Filter, Query
from storage.router import QueryRouter

MAX_TRADES = 50_000
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
    def of(cls, config: Any) -> Candles:
        """From a `DEXVolumeConfig`."""
        pairs = frozenset(canonical(p) for p in config.pairs) or None
        return cls(tuple(config.intervals), pairs)


def candles_for(config: Any) -> Candles | None:
    """The candles a tenant (its `TenantConfig`) keeps, or None when it does not run the DEX volume processor."""
    from processors.dex_volume import processor as dex_volume

    for entry in config.enabled_processors():
        if entry.type == dex_volume.type_name:
            return Candles.of(entry.config)
    return None


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


async def _read_all(router: QueryRouter, query: Query, cap: int | None = None) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
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


async def _trades(
    router: QueryRouter,
    tenant_id: str,
    pairs: list[str],
    ranges: list[tuple[datetime, datetime]],
    budget: list[int],
) -> dict[str, list[dict[str, Any]]]:
    by_pair: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for start, end in ranges:
        query = Query(
            tenant_id=tenant_id,
            table="dex_trades",
            filters=(Filter.any_of("pair", pairs),),
            from_time=start,
            to_time=end,
            limit=MAX_LIMIT,
        )
        rows = await _read_all(router, query, cap=budget[0])
        budget[0] -= len(rows)
        for row in rows:
            by_pair[row["pair"]].append(row)
    return by_pair


async def _candles(
    router: QueryRouter, tenant_id: str, pairs: list[str], spans: list[Span]
) -> dict[str, list[dict[str, Any]]]:
    by_pair: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for span in spans:
        query = Query(
            tenant_id=tenant_id,
            table="dex_volume",
            filters=(Filter.any_of("pair", pairs), Filter.eq("interval", span.interval)),
            time_column="bucket_start",
            from_time=span.start,
            to_time=span.end - _TICK,
            limit=MAX_LIMIT,
        )
        for row in await _read_all(router, query):
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
) -> dict[str, dict[str, Any] | None]:
    """Stats per pair as asked (any orientation; keys are the pairs as given), over ``[since, until]``."""
    wanted = {pair: canonical(pair) for pair in pairs}
    targets = sorted(set(wanted.values()))
    from_candles = [p for p in targets if candles is not None and candles.covers(p)]
    from_trades = [p for p in targets if p not in from_candles]
    budget = [MAX_TRADES]
    stats: dict[str, dict[str, Any]] = {}
    if from_candles:
        assert candles is not None
        spans, edges = decompose(since, until, candles.intervals)
        stored = await _candles(router, tenant_id, from_candles, spans)
        edge_trades = await _trades(router, tenant_id, from_candles, edges, budget)
        for pair in from_candles:
            parts = [*stored[pair], *(_trade_candle(pair, since, t) for t in edge_trades[pair])]
            parts.sort(key=lambda row: row["first_trade_id"])  # candles and edge trades, in trade order
            intervals = sorted({s.interval for s in spans}, key=INTERVAL_SECONDS.__getitem__)
            source = "dex_volume:" + "+".join(intervals) if intervals else "dex_trades"
            stats[pair] = stats_row(candle_of_candles(pair, since, parts), since, until, source)
    if from_trades:
        trades = await _trades(router, tenant_id, from_trades, [(since, until)], budget)
        for pair in from_trades:
            stats[pair] = stats_row(candle_of_trades(pair, since, trades[pair]), since, until, "dex_trades")
    return {pair: stats[canonical_pair] for pair, canonical_pair in wanted.items()}


def _trade_candle(pair: str, since: datetime, trade: dict[str, Any]) -> dict[str, Any]:
    """One trade as a candle row, so edge trades merge with stored candles in trade order."""
    candle = candle_of_trades(pair, since, [trade])
    return candle.row("")


__all__ = ["MAX_TRADES", "Candles", "Span", "candles_for", "decompose", "pair_stats"]
