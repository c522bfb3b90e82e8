"""The live tail: follows a network from its checkpoint for every tenant, hands over to its successor, and never
runs twice for one network at the same time."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import event

from core.settings import Network
from ledgers.samples import PUBNET_PASSPHRASE, GrowingDatastore
from processors.registry import default_registry
from services.live import set_live_start
from storage.checkpoints import Checkpoints
from storage.db import create_engine
from storage.jobs import InProcessJobQueue
from storage.leases import lease_held, try_lease
from storage.tenants import TenantStore
from tests.api.helpers import settings_for, sql
from tests.workers.test_ingest_jobs import FIRST, LAST, tenant_doc
from workers.ingest_jobs import ensure_live_tails, live_tail


async def _context(url: str, source: Path) -> dict[str, Any]:
    settings = settings_for(url, pubnet_source=str(source), live_tail_reload_seconds=0.2)
    engine = create_engine(url)
    handed_over: list[tuple[Any, ...]] = []

    async def record(ctx: dict[str, Any], *args: Any) -> None:
        handed_over.append(args)

    ctx: dict[str, Any] = {
        "settings": settings,
        "registry": default_registry(),
        "engine": engine,
        "pubsub": None,
        "handed_over": handed_over,
    }
    ctx["jobs"] = InProcessJobQueue({"live_tail": record}, ctx)
    return ctx


async def _tenant(engine: Any, tenant_id: str) -> None:
    doc = yaml.safe_load(tenant_doc(tenant_id, None))
    await TenantStore(engine).create(tenant_id, tenant_id, "pubnet", doc)


async def _until_checkpoint(engine: Any, ledger: int) -> None:
    for _ in range(600):
        if await Checkpoints(engine).get("live:pubnet") == ledger:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"the live tail did not reach {ledger}")


def test_live_tail_follows_and_hands_over_when_tenants_change(
    migrated_pg: str, shared_ledgers: Path, tmp_path: Path
) -> None:
    """The tail follows a drop folder from its checkpoint and waits for new files; a tenant created meanwhile
    makes it hand over at once, and its successor ingests the next ledger for the new tenant too."""
    drop = tmp_path / "drop"
    drop.mkdir()

    def arrive(sequence: int) -> None:
        name = f"ledger-{sequence}.xdr.gz"
        (drop / name).symlink_to(shared_ledgers / "wallet-backend" / name)

    for sequence in range(LAST - 5, LAST):
        arrive(sequence)

    async def run() -> list[dict[str, Any]]:
        ctx = await _context(migrated_pg, drop)
        reports = []
        try:
            await _tenant(ctx["engine"], "live-a")
            async with ctx["engine"].begin() as conn:
                await Checkpoints(ctx["engine"]).set(conn, "live:pubnet", Network.pubnet.value, LAST - 6)
            tail = asyncio.create_task(live_tail(ctx, "pubnet", budget_seconds=300))
            await _until_checkpoint(ctx["engine"], LAST - 1)
            await _tenant(ctx["engine"], "live-late")  # the running tail does not know it yet
            reports.append(await asyncio.wait_for(tail, 30))
            assert ctx["handed_over"] == [("pubnet",)]  # the successor was queued at once

            arrive(LAST)
            successor = asyncio.create_task(live_tail(ctx, "pubnet", budget_seconds=300))
            await _until_checkpoint(ctx["engine"], LAST)
            await TenantStore(ctx["engine"]).delete("live-a")
            reports.append(await asyncio.wait_for(successor, 30))
            assert await Checkpoints(ctx["engine"]).get("latest:pubnet") == LAST
            return reports
        finally:
            await ctx["jobs"].close()
            await ctx["engine"].dispose()

    reports = asyncio.run(run())
    assert reports == [
        {"ledgers": 5, "stopped": "tenants changed"},
        {"ledgers": 1, "stopped": "tenants changed"},
    ]
    rows = sql(
        migrated_pg,
        "SELECT tenant_id, min(ledger_sequence), max(ledger_sequence) FROM token_transfers GROUP BY 1",
    )
    assert sorted(rows) == [("live-a", LAST - 5, LAST), ("live-late", LAST, LAST)]
    assert FIRST < LAST - 5


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


def test_a_tail_waits_briefly_for_a_lease_being_released(migrated_pg: str, shared_ledgers: Path) -> None:
    """A successor (or a tail started by the cron) that meets the lease still held, by a predecessor letting go
    or by another worker's check, tries again for a moment rather than leaving the network untailed; and the
    cron itself looks the lease up without taking it."""
    statements: list[str] = []

    async def run() -> tuple[dict[str, Any], list[str]]:
        ctx = await _context(migrated_pg, shared_ledgers / "wallet-backend")
        other = create_engine(migrated_pg)
        event.listen(ctx["engine"].sync_engine, "before_cursor_execute", lambda *a: statements.append(a[2]))

        taken = asyncio.Event()

        async def hold_briefly() -> None:
            async with try_lease(other, "live:pubnet") as held:
                assert held
                taken.set()
                await asyncio.sleep(0.5)

        try:
            holding = asyncio.create_task(hold_briefly())
            await taken.wait()
            assert await lease_held(ctx["engine"], "live:pubnet")
            await _tenant(ctx["engine"], "live-wait")
            assert await ensure_live_tails(ctx) == []  # held: no tail enqueued
            assert not [s for s in statements if "advisory_lock" in s]
            # No live checkpoint and a source holding ledgers: once it has the lease, the tail runs (and stops
            # when the tenant goes, which the test does as soon as its first ledger is in).
            tail = asyncio.create_task(live_tail(ctx, "pubnet", budget_seconds=60))
            await holding
            for _ in range(300):
                if await Checkpoints(ctx["engine"]).get("live:pubnet") is not None:
                    break
                await asyncio.sleep(0.1)
            await TenantStore(ctx["engine"]).delete("live-wait")
            report = await asyncio.wait_for(tail, 30)
            return report, await ensure_live_tails(ctx)
        finally:
            await other.dispose()
            await ctx["jobs"].close()
            await ctx["engine"].dispose()

    report, started = asyncio.run(run())
    assert report == {"ledgers": 1, "stopped": "tenants changed"}
    assert started == []  # no tenant left on the network


def test_a_start_set_by_an_operator_moves_a_running_tail(migrated_pg: str, tmp_path: Path) -> None:
    """With no checkpoint the tail starts at the datastore's tip. A start asked for meanwhile makes it hand over;
    its successor goes on from there, and the ledgers it skips are planned as backfill chunks for the tenants."""
    lake = GrowingDatastore(tmp_path / "lake", PUBNET_PASSPHRASE, 2, 10)
    for sequence in range(2, 6):
        lake.write(sequence)

    async def run() -> tuple[list[dict[str, Any]], dict[str, Any], list[tuple[Any, ...]]]:
        ctx = await _context(migrated_pg, lake.folder)
        ctx["settings"] = ctx["settings"].model_copy(update={"live_poll_seconds": 0.05})
        backfills: list[tuple[Any, ...]] = []

        async def record_backfill(ctx: dict[str, Any], *args: Any) -> None:
            backfills.append(args)

        async def record_tail(ctx: dict[str, Any], *args: Any) -> None:
            ctx["handed_over"].append(args)

        ctx["jobs"] = InProcessJobQueue({"live_tail": record_tail, "backfill_range": record_backfill}, ctx)
        try:
            await _tenant(ctx["engine"], "live-c")
            tail = asyncio.create_task(live_tail(ctx, "pubnet", budget_seconds=300))
            await _until_checkpoint(ctx["engine"], 5)  # the tip
            moved = await set_live_start(
                ctx["engine"], ctx["registry"], ctx["jobs"], Network.pubnet, 9, chunk_size=2
            )
            reports = [await asyncio.wait_for(tail, 30)]
            for sequence in range(6, 11):
                lake.write(sequence)
            successor = asyncio.create_task(live_tail(ctx, "pubnet", budget_seconds=300))
            await _until_checkpoint(ctx["engine"], 10)
            await TenantStore(ctx["engine"]).delete("live-c")
            reports.append(await asyncio.wait_for(successor, 30))
            await ctx["jobs"].drain()
            return reports, moved, backfills
        finally:
            await ctx["jobs"].close()
            await ctx["engine"].dispose()

    reports, moved, backfills = asyncio.run(run())
    assert reports == [
        {"ledgers": 1, "stopped": "start moved"},
        {"ledgers": 2, "stopped": "tenants changed"},
    ]
    assert moved["skipped"] == {"from": 6, "to": 8}
    assert moved["backfill"] == {"live-c": 2}
    types = ["TokenTransferProcessor", "ContractEventProcessor"]
    assert sorted(backfills) == [("live-c", 6, 7, types), ("live-c", 8, 8, types)]
    assert sql(migrated_pg, "SELECT DISTINCT ledger_sequence FROM token_transfers ORDER BY 1") == [
        (5,),
        (9,),
        (10,),
    ]
    assert sql(migrated_pg, "SELECT name, ledger FROM checkpoints WHERE name LIKE 'live%'") == [
        ("live:pubnet", 10)
    ]


def test_at_the_end_of_its_budget_the_tail_hands_over_after_a_ledger(
    migrated_pg: str, tmp_path: Path
) -> None:
    """Past its budget the tail waits for the next ledger, writes it, and only then hands over (the gap before
    its successor reads falls where no ledger is expected)."""
    lake = GrowingDatastore(tmp_path / "lake", PUBNET_PASSPHRASE, 2, 3)
    lake.write(2)

    async def run() -> tuple[dict[str, Any], list[tuple[Any, ...]]]:
        ctx = await _context(migrated_pg, lake.folder)
        ctx["settings"] = ctx["settings"].model_copy(update={"live_poll_seconds": 0.05})
        try:
            await _tenant(ctx["engine"], "live-d")
            # A budget the first ledger's commit fits in on a busy machine (0.3 s did not, beside other tests).
            budget = 2.0
            started = time.monotonic()
            tail = asyncio.create_task(live_tail(ctx, "pubnet", budget_seconds=budget))
            await _until_checkpoint(ctx["engine"], 2)
            assert time.monotonic() - started < budget, "ledger 2 took the whole budget: nothing is tested"
            await asyncio.sleep(started + budget + 0.3 - time.monotonic())  # past the budget, no ledger yet
            assert not tail.done()  # the tail waits for one
            lake.write(3)
            return await asyncio.wait_for(tail, 10), ctx["handed_over"]
        finally:
            await ctx["jobs"].close()
            await ctx["engine"].dispose()

    report, handed_over = asyncio.run(run())
    assert report == {"ledgers": 2, "stopped": "budget"}
    assert handed_over == [("pubnet",)]
