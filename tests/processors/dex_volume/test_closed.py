"""Closed candles (`processors.dex_volume.closing`) through the real ingestion path on both backends, over the
20 mainnet ledgers: each candle closes once, at the first ledger with a trade of the tenant at or after its end
(recomputed here from the stored trades), with the candle's values, ids growing in that order; the ids and rows
do not depend on how the ledgers were batched; the engine hands them to the commit hooks with the batch's rows;
re-ingesting closes nothing again.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from core.ids import OrderKey
from core.settings import Network
from ingest.engine import CommittedBatch, IngestEngine
from ingest.publish import message_for
from processors.dex_trades.table import dex_trades
from processors.dex_volume.table import dex_closed_candles
from storage.db import create_engine
from storage.row_wire import decode_rows
from tests.corpus import MAINNET_20
from tests.processors.dex_volume.test_ingest import (
    INTERVALS,
    SECONDS,
    candles_by_key,
    ingested,
    only,
    plans,
    stored,
)

Row = dict[str, Any]
ORDER = {"1m": 0, "5m": 1, "1h": 2, "1d": 3}


def expected_closes(trades: list[Row], candles: dict[Any, Row]) -> dict[Any, int]:
    """(pair, interval, bucket start) -> the ledger of the first trade (any pair) at or after the bucket's end,
    for every candle some trade passed."""
    by_time = sorted((t["closed_at"], t["ledger_sequence"]) for t in trades)
    closes = {}
    for pair, interval, start in candles:
        end = start + timedelta(seconds=SECONDS[interval])
        later = [ledger for closed_at, ledger in by_time if closed_at >= end]
        if later:
            closes[(pair, interval, start)] = later[0]
    return closes


async def closed_by_key(engine: Any, tenant_id: str) -> dict[tuple[str, str, datetime], Row]:
    rows = await stored(engine, dex_closed_candles, tenant_id)
    by_key = {(r["pair"], r["interval"], r["bucket_start"]): r for r in rows}
    assert len(by_key) == len(rows), "a candle closed twice"
    return by_key


async def check_closed(engine: Any, tenant_id: str) -> list[Row]:
    """The tenant's closed rows, checked against its trades and candles; returned in id order."""
    trades = await stored(engine, dex_trades, tenant_id)
    candles = await candles_by_key(engine, tenant_id)
    closed = await closed_by_key(engine, tenant_id)
    want = expected_closes(trades, candles)
    assert {key: row["ledger_sequence"] for key, row in closed.items()} == want
    for key, row in closed.items():
        # Ingested forward, every trade of a closed bucket came before its close: the row is the final candle.
        candle = candles[key]
        assert {k: row[k] for k in candle if k not in ("ledger_sequence", "closed_at")} == {
            k: v for k, v in candle.items() if k not in ("ledger_sequence", "closed_at")
        }
        assert row["id"] == OrderKey(row["ledger_sequence"], 0, 0, row["event_index"]).id
    rows = sorted(closed.values(), key=lambda r: r["id"])
    # Ids in closing order: by ledger, then interval, bucket start and pair.
    order = [(r["ledger_sequence"], ORDER[r["interval"]], r["bucket_start"], r["pair"]) for r in rows]
    assert order == sorted(order)
    assert len({r["id"] for r in rows}) == len(rows)
    return rows


def plain(rows: list[Row]) -> list[Row]:
    return [{k: v for k, v in row.items() if k != "tenant_id"} for row in rows]


def published(batches: list[CommittedBatch], tenant_id: str) -> list[str]:
    """The ids of the closed candles the batches publish (through the publisher's own encoding)."""
    ids = []
    for batch in batches:
        tables = batch.rows.get(tenant_id, {}).get("dex_volume", {})
        message = message_for(batch, tenant_id, "dex_volume", dict(tables))
        if message is not None:
            wire = orjson.loads(message)["tables"]
            assert set(wire) == {"dex_closed_candles"}
            rows = decode_rows(dex_closed_candles, wire["dex_closed_candles"])
            assert rows == [
                {k: v for k, v in r.items() if k != "tenant_id"} for r in tables["dex_closed_candles"]
            ]
            ids += [row["id"] for row in rows]
    return ids


async def test_candles_close_once_in_order_whatever_the_batches(
    shared_ledgers: Path, migrated_db_url: str
) -> None:
    results = ingested(shared_ledgers, len(MAINNET_20))
    engine = create_engine(migrated_db_url)
    try:
        ingest = IngestEngine(engine, Network.pubnet, plans=plans())
        batches = {
            "whole": [await ingest.write_batch(only(results, "whole"))],
            "split": [
                await ingest.write_batch(only(results[:7], "split")),
                await ingest.write_batch(only(results[7:13], "split")),
                await ingest.write_batch(only(results[13:], "split")),
            ],
            "narrow": [await ingest.write_batch([r]) for r in only(results, "narrow")],
        }
        whole = await check_closed(engine, "whole")
        intervals = {r["interval"] for r in whole}
        assert "1m" in intervals and len(whole) > 20  # two minutes of mainnet trading close many 1m candles
        assert published(batches["whole"], "whole") == [r["id"] for r in whole]
        split = await check_closed(engine, "split")
        assert plain(split) == plain(whole)
        assert published(batches["split"], "split") == [r["id"] for r in split]
        narrow = await check_closed(engine, "narrow")
        assert {r["interval"] for r in narrow} <= set(INTERVALS["narrow"])
        assert published(batches["narrow"], "narrow") == [r["id"] for r in narrow]

        # The same ledgers again, every tenant at once, then a few alone: nothing closes again.
        before = {t: await stored(engine, dex_closed_candles, t) for t in ("whole", "split", "narrow")}
        again = [await ingest.write_batch(results)]
        again += [await ingest.write_batch([r]) for r in results[5:8]]
        for tenant_id, rows in before.items():
            assert published(again, tenant_id) == []
            assert await stored(engine, dex_closed_candles, tenant_id) == rows
    finally:
        await engine.dispose()


async def test_a_backfill_of_older_ledgers_closes_each_candle_once_at_its_ledger(
    shared_ledgers: Path, migrated_db_url: str
) -> None:
    """The later half first, then the earlier half (a backfill): every candle closes once, at the ledger it
    closes at when ingested in order, also those the stored later trades pass (numbered at that ledger after the
    ones already there)."""
    results = ingested(shared_ledgers, len(MAINNET_20))
    engine = create_engine(migrated_db_url)
    try:
        ingest = IngestEngine(engine, Network.pubnet, plans=plans())
        await ingest.write_batch(only(results, "whole"))
        await ingest.write_batch(only(results[10:], "backwards"))
        later = {r["id"] for r in await stored(engine, dex_closed_candles, "backwards")}
        backfill = await ingest.write_batch(only(results[:10], "backwards"))
        rows = await closed_by_key(engine, "backwards")
        whole = await closed_by_key(engine, "whole")
        assert {k: r["ledger_sequence"] for k, r in rows.items()} == {
            k: r["ledger_sequence"] for k, r in whole.items()
        }
        assert sorted(r["id"] for r in rows.values()) == sorted(r["id"] for r in whole.values())
        written = published([backfill], "backwards")
        assert written and not set(written) & later
        cut = results[10].sequence
        assert any(OrderKey.from_id(i).ledger_sequence >= cut for i in written)  # passed by a stored trade
        assert any(OrderKey.from_id(i).ledger_sequence < cut for i in written)
    finally:
        await engine.dispose()
