"""Pair statistics over a time window for the APIs (`/dex/pairs/{pair}/stats`, GraphQL's pair stats).

With the DEX volume processor enabled the stats merge stored candles: per pair, the finest interval that has
candles in the window (1m, else 5m, 1h, 1d: a tenant may keep only some intervals), counting the buckets that
start inside the window. Without it they fold the tenant's stored trades of the window; that read is capped
(`MAX_TRADES` per request) so one request cannot scan an unbounded history: past the cap the answer is a 400
asking for a shorter window (or the DEX volume processor).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from core.errors import BadRequest
from core.ids import decode_cursor
from processors.dex_trades.query import canonical
from processors.dex_volume.stats import candle_of_candles, candle_of_trades, stats_row
from processors.dex_volume.volume import INTERVAL_SECONDS
from storage.query import MAX_LIMIT, Filter, Query
from storage.router import QueryRouter

MAX_TRADES = 50_000


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
        if page.next_cursor is None:
            return rows
        query = query.replace(after=decode_cursor(page.next_cursor, query.fingerprint))


async def pair_stats(
    router: QueryRouter,
    tenant_id: str,
    pairs: Sequence[str],
    *,
    since: datetime,
    until: datetime,
    use_candles: bool,
) -> dict[str, dict[str, Any] | None]:
    """Stats per pair as asked (any orientation; keys are the pairs as given), over `[since, until]`."""
    wanted = {pair: canonical(pair) for pair in pairs}
    targets = sorted(set(wanted.values()))
    if not targets:
        return {}
    by_pair: dict[str, list[dict[str, Any]]] = defaultdict(list)
    if use_candles:
        query = Query(
            tenant_id=tenant_id,
            table="dex_volume",
            filters=(Filter.any_of("pair", targets),),
            time_column="bucket_start",
            from_time=since,
            to_time=until,
            limit=MAX_LIMIT,
        )
        for row in await _read_all(router, query):
            by_pair[row["pair"]].append(row)
        stats = {}
        for pair in targets:
            intervals = {row["interval"] for row in by_pair[pair]}
            finest = min(intervals, key=INTERVAL_SECONDS.__getitem__, default=None)
            rows = sorted(
                (r for r in by_pair[pair] if r["interval"] == finest), key=lambda r: r["bucket_start"]
            )
            source = f"dex_volume:{finest}" if finest else "dex_volume"
            stats[pair] = stats_row(candle_of_candles(pair, since, rows), since, until, source)
    else:
        query = Query(
            tenant_id=tenant_id,
            table="dex_trades",
            filters=(Filter.any_of("pair", targets),),
            from_time=since,
            to_time=until,
            limit=MAX_LIMIT,
        )
        for row in await _read_all(router, query, cap=MAX_TRADES):
            by_pair[row["pair"]].append(row)
        stats = {
            pair: stats_row(candle_of_trades(pair, since, by_pair[pair]), since, until, "dex_trades")
            for pair in targets
        }
    return {pair: stats[canonical_pair] for pair, canonical_pair in wanted.items()}
