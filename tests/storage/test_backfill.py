"""Backfill chunks planned while the job queue is down: recorded as queued, then enqueued again by
`requeue_queued` under the id they were (or would have been) queued with, never twice."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncEngine

from core.errors import QueueUnavailable
from storage.backfill import BACKFILL_JOB, BackfillStore, Chunk, job_id, queued_job_id
from storage.jobs import InProcessJobQueue, UnreachableJobQueue
from storage.tables import backfill_ranges, utcnow
from storage.tenants import TenantStore


async def test_chunks_planned_while_the_queue_is_down_are_requeued_once(engine: AsyncEngine) -> None:
    await TenantStore(engine).create("t-queue", "t-queue", "pubnet", {})
    store = BackfillStore(engine)
    with pytest.raises(QueueUnavailable):
        await store.plan(UnreachableJobQueue("down"), "t-queue", "pubnet", ["P"], 10, 19, 4)
    summary = (await store.summary("t-queue"))["*"]
    assert (summary.ranges_total, summary.ranges_done) == (3, 0)  # all three recorded, as queued

    ran: list[tuple[Any, ...]] = []

    async def backfill(ctx: dict[str, Any], *args: Any) -> None:
        ran.append((ctx["job_id"], *args))

    jobs = InProcessJobQueue({BACKFILL_JOB: backfill}, {})
    try:
        # Still down: the cron's call says so rather than pretending.
        with pytest.raises(QueueUnavailable):
            await store.requeue_queued(UnreachableJobQueue("down"))
        assert await store.requeue_queued(jobs, older_than_seconds=60) == []  # just planned: left alone
        later = utcnow() + timedelta(minutes=2)
        requeued = await store.requeue_queued(jobs, older_than_seconds=60, now=later)
        assert sorted(c.start for c in requeued) == [10, 14, 18]
        assert await store.requeue_queued(jobs, now=later) == []  # their ids are known to the queue now
        await jobs.drain()
    finally:
        await jobs.close()
    assert sorted(ran) == sorted(
        (job_id("t-queue", a, b, ["P"]), "t-queue", a, b, ["P"]) for a, b in [(10, 13), (14, 17), (18, 19)]
    )


async def test_a_retried_chunk_is_requeued_under_its_retry_id(engine: AsyncEngine) -> None:
    await TenantStore(engine).create("t-retry", "t-retry", "pubnet", {})
    store = BackfillStore(engine)
    with pytest.raises(QueueUnavailable):
        await store.plan(UnreachableJobQueue("down"), "t-retry", "pubnet", ["P"], 1, 2, 10)
    async with engine.begin() as conn:  # as after one failed run re-claimed by retry_failed
        await conn.execute(update(backfill_ranges).values(attempts=1))
    chunk = Chunk("t-retry", 1, 2, ("P",))
    assert queued_job_id(chunk, 0) == job_id(*chunk)
    assert queued_job_id(chunk, 1) == f"{job_id(*chunk)}:try2"
    seen: list[str] = []

    async def backfill(ctx: dict[str, Any], *args: Any) -> None:
        seen.append(ctx["job_id"])

    jobs = InProcessJobQueue({BACKFILL_JOB: backfill}, {})
    try:
        assert await store.requeue_queued(jobs, tenant_id="t-retry") == [chunk]
        assert await store.requeue_queued(jobs, tenant_id="other") == []
        await jobs.drain()
    finally:
        await jobs.close()
    assert seen == [f"{job_id(*chunk)}:try2"]


async def test_requeue_uses_the_id_each_chunk_is_known_by(engine: AsyncEngine) -> None:
    # POST /admin/tenants/{id}/backfill: a chunk re-enqueued by retry_failed lives under `:tryN`; requeue must
    # offer that id (refused while known), not the plain one, which once expired would run the chunk twice.
    await TenantStore(engine).create("t-requeue", "t-requeue", "pubnet", {})
    store = BackfillStore(engine)
    with pytest.raises(QueueUnavailable):
        await store.plan(UnreachableJobQueue("down"), "t-requeue", "pubnet", ["P"], 1, 30, 10)
    failed, running, retried = (Chunk("t-requeue", a, b, ("P",)) for a, b in [(1, 10), (11, 20), (21, 30)])
    async with engine.begin() as conn:
        for chunk, status in [(failed, "failed"), (running, "running"), (retried, "queued")]:
            await conn.execute(
                update(backfill_ranges)
                .where(backfill_ranges.c.start_ledger == chunk.start)
                .values(status=status, attempts=1)
            )
    seen: list[str] = []

    async def backfill(ctx: dict[str, Any], *args: Any) -> None:
        seen.append(ctx["job_id"])

    jobs = InProcessJobQueue({BACKFILL_JOB: backfill}, {})
    try:
        # What the queue knows: the running chunk's first run, the retried chunk's second try.
        assert await jobs.enqueue(BACKFILL_JOB, *running[:3], ["P"], job_id=queued_job_id(running, 0))
        assert await jobs.enqueue(BACKFILL_JOB, *retried[:3], ["P"], job_id=queued_job_id(retried, 1))
        await jobs.drain()
        seen.clear()
        assert await store.requeue(jobs, "t-requeue") == 1
        await jobs.drain()
    finally:
        await jobs.close()
    assert seen == [f"{job_id(*failed)}:try2"]
