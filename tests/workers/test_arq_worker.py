"""The arq worker: its settings, and a real burst Worker running `maintain_partitions` on PostgreSQL."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import Any

import pytest
from arq.connections import RedisSettings, create_pool
from arq.cron import next_cron
from arq.jobs import Job
from arq.worker import Worker, func
from redis.exceptions import ConnectionError as RedisConnectionError

from core.errors import ConfigError
from core.settings import Settings
from storage.jobs import ArqJobQueue, InProcessJobQueue
from tests.conftest import REDIS_URL
from workers.jobs import JOBS
from workers.webhook_jobs import WEBHOOK_JOBS
from workers.worker import (
    close_job_context,
    cron_seconds,
    job_context,
    resilient_worker_class,
    run_worker,
    worker_pool_size,
    worker_settings,
)

# arq 0.28 closes its pool with redis-py's deprecated close(); not ours to fix.
pytestmark = pytest.mark.filterwarnings("ignore:Call to deprecated close:DeprecationWarning")


def settings_for(database_url: str, redis_prefix: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": database_url,
        "redis_url": REDIS_URL,
        "redis_prefix": redis_prefix,
        "queue_name": f"{redis_prefix}queue",
        "key_pepper": "pepper-for-tests",
        "partitions_months_ahead": 2,
    }
    return Settings(**(values | overrides))


async def partition_counts(url: str) -> dict[str, int]:
    """Children per partitioned table, read from the PostgreSQL catalog."""
    from sqlalchemy import text

    from storage import db

    engine = db.create_engine(url)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(
                text(
                    "SELECT parent.relname, count(child.oid) FROM pg_partitioned_table p "
                    "JOIN pg_class parent ON parent.oid = p.partrelid "
                    "LEFT JOIN pg_inherits i ON i.inhparent = parent.oid "
                    "LEFT JOIN pg_class child ON child.oid = i.inhrelid GROUP BY parent.relname"
                )
            )
            return {str(name): int(count) for name, count in rows.all()}
    finally:
        await engine.dispose()


async def test_a_worker_keeps_connections_for_every_job_it_runs(
    migrated_pg: str, sqlite_url: str, redis_prefix: str
) -> None:
    # Each of its `max_jobs` ingestion jobs may hold a lease's session and two write transactions at once.
    for processes, connections in ((2, 10), (15, 48)):
        settings = settings_for(migrated_pg, redis_prefix, decode_processes=processes)
        assert worker_settings(settings)["max_jobs"] == processes + 1
        assert worker_pool_size(settings) == connections
    ctx = await job_context(settings_for(migrated_pg, redis_prefix, decode_processes=15))
    try:
        assert ctx["engine"].pool.size() == 48
    finally:
        await close_job_context(ctx)
    ctx = await job_context(
        settings_for(sqlite_url, redis_prefix, decode_processes=15)
    )  # SQLite: its own pool
    await close_job_context(ctx)


def test_worker_settings(sqlite_url: str, redis_prefix: str) -> None:
    settings = settings_for(sqlite_url, redis_prefix)
    kwargs = worker_settings(settings)
    # The webhook queue's jobs are the webhook worker's (tests/services/webhooks/test_workers.py).
    assert {f.name for f in kwargs["functions"]} == set(JOBS) - set(WEBHOOK_JOBS)
    assert kwargs["queue_name"] == settings.queue_name
    assert kwargs["redis_settings"].host == "127.0.0.1"
    assert kwargs["timezone"] is UTC
    crons = {c.name: c for c in kwargs["cron_jobs"]}
    assert set(crons) == {
        "cron:maintain_partitions",
        "cron:ensure_live_tails",
        "cron:resume_backfills",
        "cron:schedule_archives",
        "cron:resume_purges",
    }
    # A burst worker drains the queue and exits: it starts no live tail, which would keep it running.
    burst = {c.name for c in worker_settings(settings, burst=True)["cron_jobs"]}
    assert burst == {
        "cron:maintain_partitions",
        "cron:resume_backfills",
        "cron:schedule_archives",
        "cron:resume_purges",
    }
    retries = crons["cron:resume_backfills"]
    assert retries.coroutine is JOBS["resume_backfills"] and retries.unique
    assert retries.second == {35}  # every minute by default (OBSRVR_BACKFILL_RESUME_SECONDS)
    daily = crons["cron:maintain_partitions"]
    assert daily.coroutine is JOBS["maintain_partitions"] and daily.unique
    every_minute = crons["cron:ensure_live_tails"]
    assert every_minute.coroutine is JOBS["ensure_live_tails"] and every_minute.unique
    next_run = next_cron(
        datetime(2030, 1, 1, 5, 0, tzinfo=UTC),
        hour=daily.hour,
        minute=daily.minute,
        second=daily.second,
        microsecond=daily.microsecond,
    )
    assert (next_run.day, next_run.hour, next_run.minute) == (2, 0, 10)
    assert kwargs["job_timeout"] > 0 and kwargs["max_tries"] >= 1 and kwargs["keep_result"] > 0
    # Every key is something arq's Worker accepts.
    Worker(**kwargs, handle_signals=False)


def test_resume_cron_seconds() -> None:
    assert cron_seconds(60, offset=35) == {35}
    assert cron_seconds(20, offset=35) == {15, 35, 55}
    assert cron_seconds(1, offset=35) == set(range(60))


def test_worker_needs_redis(sqlite_url: str) -> None:
    settings = Settings(database_url=sqlite_url, redis_url=None)
    with pytest.raises(ConfigError, match="obsrvr-flow worker needs OBSRVR_REDIS_URL"):
        run_worker(settings)
    with pytest.raises(ConfigError):
        worker_settings(settings)


async def test_job_context_builds_and_disposes_the_engine(sqlite_url: str) -> None:
    settings = Settings(database_url=sqlite_url, redis_url=None)
    ctx = await job_context(settings)
    assert ctx["settings"] is settings
    assert ctx["engine"].url.drivername == "sqlite+aiosqlite"
    await close_job_context(ctx)
    assert "engine" not in ctx


async def test_real_arq_worker_maintains_partitions(
    migrated_pg: str, redis_prefix: str, arq_cleanup: None
) -> None:
    settings = settings_for(migrated_pg, redis_prefix)
    pool = await create_pool(RedisSettings.from_dsn(REDIS_URL), default_queue_name=settings.queue_name)
    queue = ArqJobQueue(pool, settings.queue_name)
    try:
        assert await queue.enqueue("maintain_partitions", job_id="maintain-1")
        worker_ctx: dict[str, Any] = {}
        worker = Worker(
            **worker_settings(settings, burst=True),
            burst=True,
            handle_signals=False,
            poll_delay=0.05,
            ctx=worker_ctx,
        )
        try:
            await worker.async_run()
        finally:
            await worker.close()
        # >= 1: the every-minute live-tail cron may also fire while the burst runs (it finds no tenant).
        assert worker.jobs_complete >= 1 and worker.jobs_failed == 0
        assert "engine" not in worker_ctx  # on_shutdown disposed what on_startup created

        info = await Job(queue.arq_job_id("maintain-1"), pool).result_info()
        assert info is not None and info.success, info and info.result
        assert isinstance(info.result, dict)
        assert all(isinstance(k, str) and isinstance(v, int) for k, v in info.result.items())
        counts = await partition_counts(migrated_pg)
        assert all(counts.get(table, 0) >= 1 for table in info.result), (info.result, counts)

        # A second run finds everything in place and changes nothing.
        assert await queue.enqueue("maintain_partitions", job_id="maintain-2")
        worker = Worker(
            **worker_settings(settings, burst=True), burst=True, handle_signals=False, poll_delay=0.05
        )
        try:
            await worker.async_run()
        finally:
            await worker.close()
        assert worker.jobs_failed == 0
        assert await partition_counts(migrated_pg) == counts
    finally:
        await pool.aclose(close_connection_pool=True)


async def test_in_process_runner_maintains_partitions_with_the_same_context(
    migrated_pg: str, redis_prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    settings = settings_for(migrated_pg, redis_prefix, redis_url=None)
    ctx = await job_context(settings)
    queue = InProcessJobQueue(JOBS, ctx)
    try:
        assert await queue.enqueue("maintain_partitions", job_id="maintain")
        await queue.drain()
    finally:
        await queue.close()
        await close_job_context(ctx)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_redis_failing_as_a_job_starts_gives_its_slot_back(
    redis_prefix: str, arq_cleanup: None
) -> None:
    """arq takes a job slot before the Redis round trips that start a job; when Redis fails there (an outage the
    resilient worker lives through), the slot must come back, or after `max_jobs` such failures the worker
    polls for ever taking nothing. Real worker, real Redis: only the pipeline's WATCH fails, three times."""
    queue = f"{redis_prefix}queue"
    ran: list[int] = []

    async def note(ctx: dict[str, Any], n: int) -> None:
        ran.append(n)

    pool = await create_pool(RedisSettings.from_dsn(REDIS_URL), default_queue_name=queue)
    try:
        for n in range(4):
            assert await pool.enqueue_job("note", n, _job_id=f"{queue}:{n}")
        failures = 3  # more than max_jobs
        real_pipeline = pool.pipeline

        def pipeline(*args: Any, **kwargs: Any) -> Any:
            pipe = real_pipeline(*args, **kwargs)
            real_watch = pipe.watch

            async def watch(*names: Any) -> Any:
                nonlocal failures
                if failures > 0:
                    failures -= 1
                    raise RedisConnectionError("injected: Redis went away as the job started")
                return await real_watch(*names)

            pipe.watch = watch  # type: ignore[method-assign]
            return pipe

        pool.pipeline = pipeline  # type: ignore[method-assign]
        worker = resilient_worker_class()(
            functions=[func(note, name="note")],  # type: ignore[arg-type]
            redis_pool=pool,
            queue_name=queue,
            burst=True,
            max_jobs=2,
            poll_delay=0.01,
            handle_signals=False,
        )
        worker.outage_poll_seconds = 0.05
        try:
            await asyncio.wait_for(worker.main(), 15)
        finally:
            await worker.close()
        assert failures == 0
        assert sorted(ran) == [0, 1, 2, 3]
        assert worker.job_counter == 0
    finally:
        await pool.aclose(close_connection_pool=True)
