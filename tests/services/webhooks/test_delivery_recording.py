"""Recording attempts: an answered attempt is never sent again because its recording was lost, on SQLite (the
embedded mode, where another writer can refuse the recording transaction) and on PostgreSQL (a job cancelled
mid-run, as arq's job timeout and a worker's shutdown do). Real receiver, real databases, the injected clock."""

from __future__ import annotations

import asyncio
import sqlite3
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from core.settings import Settings
from services.webhooks.delivery import deliver_endpoint
from storage.webhooks.deliveries import next_due_at
from tests.services.webhooks.receiver import receiving
from tests.services.webhooks.seed import Clock, add_endpoint, add_messages, add_tenant, statuses


async def jobs_until_done(engine: Any, settings: Settings, endpoint_id: str, clock: Clock) -> int:
    """Delivery jobs one after the other while something is due, as the sweep enqueues them (a job that fails is
    logged by the runner and the next sweep runs another); the number of jobs that failed."""
    failed = 0
    for _ in range(10):
        async with engine.connect() as conn:
            due = await next_due_at(conn, endpoint_id, ordered=True)
        if due is None:
            break
        try:
            await deliver_endpoint(engine, settings, endpoint_id, now=clock)
        except DBAPIError:
            failed += 1
    return failed


async def test_sqlite_writer_committing_during_the_recording_sends_nothing_twice(
    sqlite_engine: Any, sqlite_hook_settings: Settings
) -> None:
    """The embedded-mode failure (631 recorded, 681 delivered): the recording transaction reads the attempt
    counts, then writes; another connection (the API, a cron, an ingest) committing in between makes SQLite refuse
    the write at once ("database is locked", whatever the busy timeout). The answered round must not be lost."""
    path = make_url(sqlite_hook_settings.database_url).database
    assert path
    await add_tenant(sqlite_engine, "acme")
    clock = Clock()
    other_writes = 0

    def another_writer_commits(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        nonlocal other_writes
        if other_writes == 0 and statement.lstrip().upper().startswith("INSERT INTO WEBHOOK_ATTEMPTS"):
            other_writes += 1
            other = sqlite3.connect(path, isolation_level=None)
            try:
                other.execute("PRAGMA busy_timeout=10000")
                other.execute("UPDATE tenants SET name = name || '.' WHERE id = 'acme'")
            finally:
                other.close()

    with receiving([]) as receiver:
        endpoint_id, secret = await add_endpoint(sqlite_engine, "acme", receiver.url)
        receiver.secrets.append(secret)
        ids = await add_messages(sqlite_engine, endpoint_id, "acme", range(20))
        event.listen(sqlite_engine.sync_engine, "before_cursor_execute", another_writer_commits)
        try:
            failed = await jobs_until_done(sqlite_engine, sqlite_hook_settings, endpoint_id, clock)
        finally:
            event.remove(sqlite_engine.sync_engine, "before_cursor_execute", another_writer_commits)
        assert other_writes == 1  # the conflict did happen
        assert receiver.delivered_ids() == ids  # each once, in order: a clean run has no duplicate
        assert receiver.all_verified() and failed == 0
    assert set((await statuses(sqlite_engine, endpoint_id)).values()) == {"delivered"}


async def test_job_cancelled_mid_run_sends_again_at_most_the_attempt_in_flight(
    engine: Any, hook_settings: Settings
) -> None:
    """arq cancels a job at its timeout and when the worker stops: what an ordered endpoint's receiver already
    answered stays recorded, and the next job sends only what follows (and, at most, the one attempt that was in
    flight, whose outcome the cancelled job never learnt)."""
    await add_tenant(engine, "acme")
    clock = Clock()
    with receiving([], delay=0.05) as receiver:  # a slow receiver: the job is still sending when cancelled
        endpoint_id, secret = await add_endpoint(engine, "acme", receiver.url)
        receiver.secrets.append(secret)
        ids = await add_messages(engine, endpoint_id, "acme", range(20))
        job = asyncio.create_task(deliver_endpoint(engine, hook_settings, endpoint_id, now=clock))
        for _ in range(6000):
            if len(receiver.delivered_ids()) >= 3 or job.done():
                break
            await asyncio.sleep(0.005)
        assert not job.done(), "the job finished before it could be cancelled"
        job.cancel()
        with pytest.raises(asyncio.CancelledError):
            await job
        answered = len(receiver.delivered_ids())
        report = await deliver_endpoint(engine, hook_settings, endpoint_id, now=clock)
        delivered = receiver.delivered_ids()
        assert set(delivered) == set(ids) and report.delivered >= len(ids) - answered
        assert len(delivered) - len(ids) <= 1, (
            f"{len(delivered) - len(ids)} answered attempts were sent again"
        )
        assert list(dict.fromkeys(delivered)) == ids  # still in order
    assert set((await statuses(engine, endpoint_id)).values()) == {"delivered"}
