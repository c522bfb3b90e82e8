"""Candles through the real ingestion path (process_ledger's selection per tenant → IngestEngine.write_batch →
after_write) into a migrated database: they equal a recomputation, written here, from the stored trades; they
do not depend on how the ledgers were split into batches, nor on their order; re-ingesting changes nothing.

Tenants see the same 20 mainnet ledgers (63092982-63093001, about two minutes of trading): ``whole`` writes
them in one batch, ``split`` in two (a minute bucket straddles the cut, so the second batch extends stored
candles), ``backwards`` the later half first (the older half then forces rebuilds), ``concurrent`` both halves
in two concurrent transactions, ``narrow`` keeps only pool trades and only the XLM/USDC candles of two
intervals, written one ledger per batch.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from core.settings import Network
from core.tenant_config import TenantConfig, parse_tenant_config
from ingest.engine import IngestEngine, LedgerResult, TenantPlan, plan_tenants
from processors.dex_trades.table import dex_trades
from processors.dex_volume.table import dex_volume
from processors.registry import default_registry
from storage.db import create_engine
from tests import corpus
from tests.corpus import MAINNET_20

USDC = "USDC:GA5ZSEJYB37JRC5AVCIA5MOP4RHTM335X2KGX3IHOJAPP5RE34K4KZVN"
SECONDS = {"1m": 60, "5m": 300, "1h": 3600, "1d": 86400}
PRICES = ("open", "high", "low", "close")
Row = dict[str, Any]


def tenant(tenant_id: str, trades: dict[str, Any], volume: dict[str, Any]) -> TenantConfig:
    document = {
        "customer": {
            "id": tenant_id,
            "name": tenant_id.title(),
            "network": "pubnet",
            "processors": [
                {"type": "DEXTradeProcessor", "enabled": True, "config": trades},
                {"type": "DEXVolumeProcessor", "enabled": True, "config": volume},
            ],
        }
    }
    return parse_tenant_config(document, default_registry().catalogue())


ALL = ("1m", "5m", "1h", "1d")
TENANTS = (
    tenant("whole", {}, {}),
    tenant("split", {}, {}),
    tenant("backwards", {}, {}),
    tenant("concurrent", {}, {}),
    # The volume pair written counter-first on purpose: candles use the canonical orientation anyway.
    tenant(
        "narrow",
        {"trade_types": ["liquidity_pool"]},
        {"intervals": ["5m", "1d"], "pairs": [f"{USDC}/native"]},
    ),
)
INTERVALS = {"whole": ALL, "split": ALL, "backwards": ALL, "concurrent": ALL, "narrow": ("5m", "1d")}
PAIRS = {"narrow": {f"native/{USDC}"}}


def plans() -> list[TenantPlan]:
    return plan_tenants(TENANTS, default_registry().catalogue(), Network.pubnet)


def ingested(root: Path, count: int) -> list[LedgerResult]:
    """What `process_ledger` returns for the first `count` of the 20 ledgers and the tenants (the ledgers are
    decoded once per session, tests/corpus.py)."""
    return corpus.tenant_results(root, MAINNET_20[:count], plans())


def only(results: Sequence[LedgerResult], tenant_id: str) -> list[LedgerResult]:
    """The results with one tenant's rows, so that tenant's batches can be cut on their own."""
    return [LedgerResult(r.sequence, r.closed_at, {tenant_id: r.rows[tenant_id]}) for r in results]


async def stored(engine: AsyncEngine, table: Any, tenant_id: str) -> list[Row]:
    query = select(table).where(table.c.tenant_id == tenant_id)
    async with engine.connect() as conn:
        return [dict(row) for row in (await conn.execute(query)).mappings()]


async def candles_by_key(engine: AsyncEngine, tenant_id: str) -> dict[tuple[str, str, datetime], Row]:
    rows = await stored(engine, dex_volume, tenant_id)
    return {(r["pair"], r["interval"], r["bucket_start"]): r for r in rows}


def recompute(trades: list[Row], intervals: Sequence[str], pairs: set[str] | None) -> dict[Any, Row]:
    """Every candle, from the trade rows alone: a second implementation of the candle rules in `volume`."""
    buckets: dict[tuple[str, str, datetime], list[Row]] = defaultdict(list)
    for trade in trades:
        if pairs is not None and trade["pair"] not in pairs:
            continue
        stamp = int(trade["closed_at"].timestamp())
        for interval in intervals:
            start = datetime.fromtimestamp(stamp - stamp % SECONDS[interval], UTC)
            buckets[(trade["pair"], interval, start)].append(trade)
    candles = {}
    for key, rows in buckets.items():
        rows.sort(key=lambda r: r["id"])  # ids sort like order keys
        base = key[0].split("/")[0]
        sides = [
            (r["sold_amount"], r["bought_amount"])
            if r["sold_asset"] == base
            else (r["bought_amount"], r["sold_amount"])
            for r in rows
        ]
        prices = [Fraction(counter, amount) for amount, counter in sides]
        candles[key] = {
            "open": prices[0],
            "high": max(prices),
            "low": min(prices),
            "close": prices[-1],
            "base_volume": sum(amount for amount, _ in sides),
            "counter_volume": sum(counter for _, counter in sides),
            "trade_count": len(rows),
            "first_trade_id": rows[0]["id"],
            "last_trade_id": rows[-1]["id"],
            "ledger_sequence": rows[-1]["ledger_sequence"],
            "closed_at": rows[-1]["closed_at"],
        }
    return candles


def close_to(text: str, exact: Fraction) -> bool:
    return abs(Fraction(Decimal(text)) - exact) <= exact / 10**19


def assert_candles_match(stored_candles: dict[Any, Row], expected: dict[Any, Row]) -> None:
    assert stored_candles.keys() == expected.keys()
    for key, want in expected.items():
        got = stored_candles[key]
        for name in PRICES:
            assert Fraction(got[f"{name}_n"], got[f"{name}_d"]) == want[name], (key, name)
            assert (got[f"{name}_n"], got[f"{name}_d"]) == (want[name].numerator, want[name].denominator)
            assert close_to(got[name], want[name]), (key, name)
        vwap = Fraction(want["counter_volume"], want["base_volume"])
        assert close_to(got["vwap"], vwap), key
        plain = {name: got[name] for name in want if name not in PRICES}
        assert plain == {name: want[name] for name in want if name not in PRICES}, key
        base, counter = key[0].split("/")
        assert (got["base_asset"], got["counter_asset"]) == (base, counter)


async def check_tenant(engine: AsyncEngine, tenant_id: str) -> dict[Any, Row]:
    trades = await stored(engine, dex_trades, tenant_id)
    candles = await candles_by_key(engine, tenant_id)
    assert_candles_match(candles, recompute(trades, INTERVALS[tenant_id], PAIRS.get(tenant_id)))
    return candles


def without_tenant(candles: dict[Any, Row]) -> dict[Any, Row]:
    return {key: {k: v for k, v in row.items() if k != "tenant_id"} for key, row in candles.items()}


async def test_candles_equal_a_recomputation_whatever_the_batches(
    shared_ledgers: Path, migrated_pg: str
) -> None:
    results = ingested(shared_ledgers, len(MAINNET_20))
    engine = create_engine(migrated_pg)
    try:
        ingest = IngestEngine(engine, Network.pubnet, plans=plans())
        await ingest.write_batch(only(results, "whole"))
        await ingest.write_batch(only(results[:7], "split"))
        await ingest.write_batch(only(results[7:], "split"))
        await ingest.write_batch(only(results[10:], "backwards"))
        await ingest.write_batch(only(results[:10], "backwards"))
        # Two transactions at once on the same candles: the tenant's candle lock makes the second wait.
        await asyncio.gather(
            ingest.write_batch(only(results[:10], "concurrent")),
            ingest.write_batch(only(results[10:], "concurrent")),
        )
        for result in only(results, "narrow"):
            await ingest.write_batch([result])

        whole = await check_tenant(engine, "whole")
        narrow = await check_tenant(engine, "narrow")
        for other in ("split", "backwards", "concurrent"):
            assert without_tenant(await check_tenant(engine, other)) == without_tenant(whole), other
        # Every trade is in exactly one candle per interval; the corpus has 1,510 trades in these ledgers.
        for interval in INTERVALS["whole"]:
            assert sum(c["trade_count"] for c in whole.values() if c["interval"] == interval) == 1510
        assert len({c["pair"] for c in whole.values()}) > 20
        assert {(c["pair"], c["interval"]) for c in narrow.values()} == {
            (f"native/{USDC}", "5m"),
            (f"native/{USDC}", "1d"),
        }
        assert all(c["trade_count"] < whole[k]["trade_count"] for k, c in narrow.items())  # pools only

        # The same ledgers again, every tenant in one batch: nothing changes.
        trades_before = {t: await stored(engine, dex_trades, t) for t in INTERVALS}
        candles_before = {t: await candles_by_key(engine, t) for t in INTERVALS}
        await ingest.write_batch(results)
        for result in results[5:8]:  # and a few ledgers alone, in the middle of the stored range
            await ingest.write_batch([result])
        for tenant_id in INTERVALS:
            assert await candles_by_key(engine, tenant_id) == candles_before[tenant_id], tenant_id
            assert await stored(engine, dex_trades, tenant_id) == trades_before[tenant_id], tenant_id
    finally:
        await engine.dispose()


async def test_candles_on_sqlite(shared_ledgers: Path, migrated_sqlite: str) -> None:
    """The embedded backend runs the same refresh (amounts there are sortable text, see storage.amounts)."""
    results = ingested(shared_ledgers, 4)
    engine = create_engine(migrated_sqlite)
    try:
        ingest = IngestEngine(engine, Network.pubnet, plans=plans())
        await ingest.write_batch(only(results, "whole"))
        await ingest.write_batch(only(results[:1], "split"))
        await ingest.write_batch(only(results[1:], "split"))
        whole = await check_tenant(engine, "whole")
        assert whole and without_tenant(whole) == without_tenant(await check_tenant(engine, "split"))
        await ingest.write_batch(only(results, "whole"))
        assert await candles_by_key(engine, "whole") == whole
    finally:
        await engine.dispose()
