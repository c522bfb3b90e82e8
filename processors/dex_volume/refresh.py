"""`after_write` of the DEXVolumeProcessor: bring the candles touched by a batch's trades up to date.

Runs inside the ingestion transaction, after the batch's trades are written (`ingest.engine`). For one
tenant:

1. the batch's trades (this tenant's ``dex_trades`` rows, already filtered by its DEXTradeProcessor config)
   whose pair the volume config keeps, and their bucket in each configured interval: the touched candles;
2. the tenant's candle lock (`storage.derived.lock`: concurrent batches must not overwrite each other's
   candles), then the stored candles of those buckets;
3. each touched candle whose new trades all come after its ``last_trade_id`` (the live tail, a forward
   backfill) is the stored candle extended with them (`volume.extend_candles`), at the cost of the batch;
   every other touched candle (none stored yet, a re-ingested ledger, an older range backfilled later) is
   rebuilt from ALL the stored trades of its bucket, read back from ``dex_trades`` (one indexed read per pair,
   over its rebuilt buckets);
4. the candles written over the stored ones (`storage.derived.replace_rows`);
5. the candles the batch's trades (of any pair) closed, recorded once each in ``dex_closed_candles`` and
   returned for the engine to publish with the batch's rows (`closing`).

Idempotent: re-ingesting a ledger stores no new trade and rebuilds its candles from the same stored trades,
and an extended candle equals the candle rebuilt from all its trades (every candle field is a fold over the
trades in order), so neither the batches' boundaries nor their order matter. Nothing is recomputed per query.
Extending rather than always rebuilding matters for the long intervals: a busy pair's 1d bucket holds a
day of trades, which would otherwise be read back at every ledger.

Candles over archived trades are never rebuilt: once a bucket's first trades may have moved to the cold tier
(it starts at or before the last archived trade), the hot store no longer holds all of them, so its stored
candle, complete for every trade up to its ``last_trade_id`` (archival follows the ingested frontier), is only
extended with later trades (`_past_archived`); a re-ingested archived ledger leaves it as it is. Candles
themselves stay hot (the processor archives nothing): a few rows per pair and bucket.

Candles count the trades the tenant stores: a DEXTradeProcessor filter on accounts or pairs narrows them too.
A tenant that stops and later resumes the processor leaves the candles of the gap's buckets incomplete until
the gap is re-ingested (a backfill), as it has no trigger to recompute them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from processors.dex_trades.extract import TABLE as TRADES
from processors.dex_trades.select import canonical_pairs
from processors.dex_trades.table import dex_trades
from processors.dex_volume.closing import close_candles
from processors.dex_volume.config import DEXVolumeConfig
from processors.dex_volume.table import dex_closed_candles, dex_volume
from processors.dex_volume.volume import (
    INTERVAL_SECONDS,
    BucketKey,
    Candle,
    PairTrade,
    bucket_end,
    bucket_trades,
    build_candles,
    extend_candles,
    pair_trade,
    touched_buckets,
)
from storage.cold.watermarks import Watermark
from storage.derived import archived_through, fetch_keyed, fetch_matching, lock, replace_rows
from storage.query import Filter

__all__ = ["after_write"]

CANDLE_LOCK = "candles"
CANDLE_KEY = ("pair", "interval", "bucket_start")
# What a candle needs of a trade: its id (which sorts like the order key), ledger, time, pair and both sides.
TRADE_COLUMNS = ("id", "ledger_sequence", "closed_at", "pair", "sold_asset", "sold_amount", "bought_amount")

# processor name -> table name -> rows, as the engine hands them over
TenantRows = Mapping[str, Mapping[str, list[dict[str, Any]]]]


async def after_write(
    conn: AsyncConnection, tenant_id: str, rows: TenantRows, config: DEXVolumeConfig
) -> dict[str, list[dict[str, Any]]]:
    """Bring this tenant's candles touched by the batch up to date (see the module docstring), then record the
    candles the batch's trades closed (`closing`); returns those closed rows, for the engine to publish."""
    intervals = sorted(set(config.intervals), key=INTERVAL_SECONDS.__getitem__)
    pairs = canonical_pairs(config.pairs)
    trades = rows.get(TRADES, {}).get(TRADES, [])
    if not trades or not intervals:
        return {}
    # By id: a batch holding the same ledger twice must not count its trades twice.
    batch = list({row["id"]: pair_trade(row) for row in trades if not pairs or row["pair"] in pairs}.values())
    await lock(conn, CANDLE_LOCK, tenant_id)
    archived = await archived_through(conn, tenant_id, dex_trades)
    if batch:
        await _refresh(conn, tenant_id, batch, intervals, archived)
    through = archived.last_closed_at if archived is not None else None
    closed = await close_candles(conn, tenant_id, trades, intervals, pairs, through)
    # str(): a Table name is a str subclass (quoted_name), which orjson refuses as a key when publishing.
    return {str(dex_closed_candles.name): closed} if closed else {}


async def _refresh(
    conn: AsyncConnection,
    tenant_id: str,
    batch: list[PairTrade],
    intervals: Sequence[str],
    archived: Watermark | None,
) -> None:
    touched = touched_buckets(batch, intervals)
    stored = await fetch_keyed(conn, dex_volume, tenant_id, CANDLE_KEY, touched)
    new = bucket_trades(batch, touched)
    if archived is not None:
        new = _past_archived(stored, new, archived.last_closed_at)
    candles, stale = extend_candles(stored, new)
    if stale:
        candles.update(await _rebuild(conn, tenant_id, stale))
    await replace_rows(conn, dex_volume, [candle.row(tenant_id) for candle in candles.values()])


def _past_archived(
    stored: Mapping[BucketKey, Mapping[str, Any]],
    new: Mapping[BucketKey, list[PairTrade]],
    through: datetime,
) -> dict[BucketKey, list[PairTrade]]:
    """`new` without the trades a stored candle of a bucket that may hold archived trades (it starts at or before
    the last archived trade) already counts: such a candle is only ever extended, never rebuilt."""
    kept: dict[BucketKey, list[PairTrade]] = {}
    for key, trades in new.items():
        row = stored.get(key)
        if row is not None and key[2] <= through:
            trades = [trade for trade in trades if trade.id > row["last_trade_id"]]
        if trades:
            kept[key] = trades
    return kept


async def _rebuild(conn: AsyncConnection, tenant_id: str, keys: set[BucketKey]) -> dict[BucketKey, Candle]:
    """The candles of `keys` from all their stored trades (which include this batch's)."""
    # One read per pair, over the span of its buckets to rebuild (a shorter bucket lies inside any longer
    # one it overlaps, since 1m | 5m | 1h | 1d and all are aligned); pairs with the same span share a read.
    spans: dict[str, tuple[datetime, datetime]] = {}
    for pair, interval, start in keys:
        end = bucket_end(start, interval)
        low, high = spans.get(pair, (start, end))
        spans[pair] = (min(low, start), max(high, end))
    by_span: dict[tuple[datetime, datetime], set[str]] = defaultdict(set)
    for pair, span in spans.items():
        by_span[span].add(pair)
    stored = []
    for (start, end), pairs in sorted(by_span.items()):
        window = (Filter(("closed_at",), "gte", start), Filter(("closed_at",), "lt", end))
        chosen = (Filter.any_of("pair", sorted(pairs)), *window)
        stored.extend(await fetch_matching(conn, dex_trades, tenant_id, chosen, columns=TRADE_COLUMNS))
    return build_candles((pair_trade(row) for row in stored), keys)
