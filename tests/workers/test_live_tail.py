"""The live tail: follows a network from its checkpoint for every tenant, hands over to its successor, and never
runs twice for one network at the same time."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import yaml

from core.settings import Network
from storage.checkpoints import Checkpoints
from storage.db import create_engine
from storage.jobs import InProcessJobQueue
from storage.leases import try_lease
from storage.tenants import TenantStore
from tests.api.helpers import settings_for, sql
from tests.workers.test_ingest_jobs import FIRST, LAST, tenant_doc
from workers.ingest_jobs import live_tail


async def _context(url: str, source: Path) -> dict[str, Any]:
    settings = settings_for(url, pubnet_source=str(source))
    engine = create_engine(url)
    handed_over: list[tuple[Any, ...]] = []

    async def record(ctx: dict[str, Any], *args: Any) -> None:
        handed_over.append(args)

    ctx: dict[str, Any] = {"settings": settings, "engine": engine, "pubsub": None, "handed_over": handed_over}
    ctx["jobs"] = InProcessJobQueue({"live_tail": record}, ctx)
    return ctx


async def _tenant(engine: Any, tenant_id: str) -> None:
    doc = yaml.safe_load(tenant_doc(tenant_id, None))
    await TenantStore(engine).create(tenant_id, tenant_id, "pubnet", doc)


def test_live_tail_follows_from_its_checkpoint(migrated_pg: str, shared_ledgers: Path) -> None:
    async def run() -> dict[str, Any]:
        ctx = await _context(migrated_pg, shared_ledgers / "wallet-backend")
        try:
            await _tenant(ctx["engine"], "live-a")
            async with ctx["engine"].begin() as conn:
                await Checkpoints(ctx["engine"]).set(conn, "live:pubnet", Network.pubnet.value, LAST - 5)
            report = await live_tail(ctx, "pubnet", budget_seconds=60)
            await ctx["jobs"].drain()
            assert ctx["handed_over"] == [("pubnet",)]  # the successor was queued
            assert await Checkpoints(ctx["engine"]).get("live:pubnet") == LAST
            assert await Checkpoints(ctx["engine"]).get("latest:pubnet") == LAST
            return report
        finally:
            await ctx["jobs"].close()
            await ctx["engine"].dispose()

    assert asyncio.run(run()) == {"ledgers": 5}
    ledgers = sql(migrated_pg, "SELECT DISTINCT ledger_sequence FROM token_transfers ORDER BY 1")
    assert [r[0] for r in ledgers] == list(range(LAST - 4, LAST + 1))
    assert FIRST < LAST - 4


def test_only_one_live_tail_per_network(migrated_pg: str, shared_ledgers: Path) -> None:
    async def run() -> dict[str, Any]:
        ctx = await _context(migrated_pg, shared_ledgers / "wallet-backend")
        try:
            await _tenant(ctx["engine"], "live-b")
            # Another worker holds the network's lease (a separate connection, as another host would).
            other = create_engine(migrated_pg)
            try:
                async with try_lease(other, "live:pubnet") as held:
                    assert held
                    return await live_tail(ctx, "pubnet", budget_seconds=60)
            finally:
                await other.dispose()
        finally:
            await ctx["jobs"].close()
            await ctx["engine"].dispose()

    assert asyncio.run(run()) == {"skipped": "another worker is tailing this network"}
    assert sql(migrated_pg, "SELECT count(*) FROM token_transfers") == [(0,)]
