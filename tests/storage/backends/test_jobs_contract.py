"""The JobQueue contract, on the in-process runner and on arq with a real arq Worker (burst mode)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, cast

import pytest
from arq.connections import RedisSettings
from arq.typing import WorkerCoroutine
from arq.worker import Retry, Worker, func

from storage.jobs import ArqJobQueue, InProcessJobQueue, JobQueue
from tests.storage.backends.conftest import delete_arq_keys

# arq 0.28 closes its pool with redis-py's deprecated close(); not ours to fix.
pytestmark = pytest.mark.filterwarnings("ignore:Call to deprecated close:DeprecationWarning")


async def record(ctx: dict[str, Any], value: Any, *, tag: str | None = None) -> None:
    ctx["calls"].append(value if tag is None else (value, tag))


async def fail(ctx: dict[str, Any]) -> None:
    raise RuntimeError("boom")


async def retry_once(ctx: dict[str, Any], value: Any) -> None:
    if ctx["job_try"] == 1:
        raise Retry(defer=0.01)
    ctx["calls"].append((value, ctx["job_try"]))


async def record_then_follow_up(ctx: dict[str, Any], value: Any) -> None:
    ctx["calls"].append(value)
    await ctx["jobs"].enqueue("record", f"after {value}")


FUNCTIONS: dict[str, Callable[..., Awaitable[Any]]] = {
    "record": record,
    "fail": fail,
    "retry_once": retry_once,
    "record_then_follow_up": record_then_follow_up,
}


@dataclass
class Harness:
    """A queue plus `run()`, which executes everything queued (and what those jobs enqueue)."""

    queue: JobQueue
    run: Callable[[], Awaitable[None]]
    calls: list[Any] = field(default_factory=list)


@pytest.fixture(params=["in-process", "arq"])
async def harness(
    request: pytest.FixtureRequest, redis_url: str, redis_prefix: str, redis_client: Any
) -> AsyncIterator[Harness]:
    calls: list[Any] = []
    if request.param == "in-process":
        ctx: dict[str, Any] = {"calls": calls}
        in_process = InProcessJobQueue(FUNCTIONS, ctx)
        ctx["jobs"] = in_process
        yield Harness(in_process, in_process.drain, calls)
        await in_process.close()
        return

    queue_name = f"{redis_prefix}queue"
    arq_queue = await ArqJobQueue.connect(redis_url, queue_name)

    async def on_startup(ctx: dict[str, Any]) -> None:
        ctx["jobs"] = ArqJobQueue(ctx["redis"], queue_name)

    async def run_worker() -> None:
        worker = Worker(
            functions=[func(cast(WorkerCoroutine, f), name=name) for name, f in FUNCTIONS.items()],
            queue_name=queue_name,
            redis_settings=RedisSettings.from_dsn(redis_url),
            burst=True,
            handle_signals=False,
            poll_delay=0.01,
            ctx={"calls": calls},
            on_startup=on_startup,
        )
        try:
            await worker.async_run()
        finally:
            await worker.close()

    try:
        yield Harness(arq_queue, run_worker, calls)
    finally:
        await arq_queue.close()
        await delete_arq_keys(redis_client, queue_name)


async def test_same_job_id_runs_once(harness: Harness) -> None:
    assert await harness.queue.enqueue("record", "a", job_id="same") is True
    assert await harness.queue.enqueue("record", "b", job_id="same") is False  # still queued
    await harness.run()
    assert await harness.queue.enqueue("record", "c", job_id="same") is False  # done recently
    await harness.run()
    assert harness.calls == ["a"]


async def test_unknown_names_the_ids_enqueue_would_accept(harness: Harness) -> None:
    assert await harness.queue.unknown([]) == set()
    assert await harness.queue.enqueue("record", "a", job_id="known") is True
    assert await harness.queue.unknown(["known", "new"]) == {"new"}  # queued
    await harness.run()
    assert await harness.queue.unknown(["known", "new"]) == {"new"}  # finished, its result kept
    many = [f"id-{n}" for n in range(1500)]  # more than one round trip's batch
    assert await harness.queue.unknown([*many, "known"]) == set(many)


async def test_distinct_ids_and_no_ids_all_run(harness: Harness) -> None:
    assert await harness.queue.enqueue("record", 1, job_id="one")
    assert await harness.queue.enqueue("record", 2, job_id="two")
    assert await harness.queue.enqueue("record", 3)
    assert await harness.queue.enqueue("record", 4, tag="kw")
    await harness.run()
    assert sorted(harness.calls, key=str) == sorted([1, 2, 3, (4, "kw")], key=str)


async def test_a_failing_job_does_not_block_the_next(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    await harness.queue.enqueue("fail", job_id="doomed")
    await harness.queue.enqueue("record", "next")
    await harness.run()
    assert harness.calls == ["next"]
    assert any("doomed" in r.getMessage() and r.levelno >= logging.WARNING for r in caplog.records)


async def test_retry_runs_the_job_again(harness: Harness) -> None:
    await harness.queue.enqueue("retry_once", "r")
    await harness.run()
    assert harness.calls == [("r", 2)]


async def test_deferred_job_runs_later(harness: Harness) -> None:
    await harness.queue.enqueue("record", "later", defer_seconds=0.2)
    await harness.queue.enqueue("record", "now")
    await harness.run()
    assert harness.calls == ["now", "later"]


async def test_jobs_can_enqueue_follow_ups(harness: Harness) -> None:
    await harness.queue.enqueue("record_then_follow_up", "first")
    await harness.run()
    assert harness.calls == ["first", "after first"]


# --- in-process only ---------------------------------------------------------------------------------


async def test_in_process_runs_in_enqueue_order_one_at_a_time() -> None:
    calls: list[Any] = []
    queue = InProcessJobQueue(FUNCTIONS, {"calls": calls})
    for n in range(5):
        await queue.enqueue("record", n)
    await queue.drain()
    assert calls == [0, 1, 2, 3, 4]
    await queue.close()


async def test_in_process_concurrency_runs_jobs_side_by_side() -> None:
    both_started = asyncio.Event()
    started = 0

    async def wait_for_partner(ctx: dict[str, Any]) -> None:
        nonlocal started
        started += 1
        if started == 2:
            both_started.set()
        await asyncio.wait_for(both_started.wait(), 5)

    queue = InProcessJobQueue({"wait": wait_for_partner}, {}, concurrency=2)
    await queue.enqueue("wait")
    await queue.enqueue("wait")
    await asyncio.wait_for(queue.drain(), 5)
    assert both_started.is_set()
    await queue.close()


async def test_in_process_context_is_copied_per_job_with_run_details() -> None:
    seen: list[dict[str, Any]] = []

    async def remember(ctx: dict[str, Any]) -> None:
        seen.append(ctx)
        ctx["scratch"] = True

    shared: dict[str, Any] = {"settings": "s"}
    queue = InProcessJobQueue({"remember": remember}, shared)
    await queue.enqueue("remember", job_id="j1")
    await queue.drain()
    assert seen[0]["job_id"] == "j1" and seen[0]["job_try"] == 1 and seen[0]["settings"] == "s"
    assert "scratch" not in shared
    await queue.close()


async def test_in_process_rejects_unknown_functions_and_unpicklable_args() -> None:
    queue = InProcessJobQueue(FUNCTIONS, {"calls": []})
    with pytest.raises(ValueError, match="unknown job function 'nope'"):
        await queue.enqueue("nope")
    with pytest.raises(Exception, match="pickle"):
        await queue.enqueue("record", lambda: None)
    await queue.close()


async def test_in_process_forgets_finished_ids_after_keep_result() -> None:
    calls: list[Any] = []
    queue = InProcessJobQueue(FUNCTIONS, {"calls": calls}, keep_result_seconds=0)
    await queue.enqueue("record", 1, job_id="again")
    await queue.drain()
    assert await queue.enqueue("record", 2, job_id="again")
    await queue.drain()
    assert calls == [1, 2]
    await queue.close()


async def test_in_process_close_cancels_pending_and_refuses_more() -> None:
    queue = InProcessJobQueue(FUNCTIONS, {"calls": []})
    await queue.drain()  # nothing queued: returns at once
    await queue.enqueue("record", 1, defer_seconds=60)
    await queue.close()
    await asyncio.wait_for(queue.drain(), 1)
    with pytest.raises(RuntimeError):
        await queue.enqueue("record", 2)


async def test_a_job_enqueued_ahead_runs_before_those_waiting(harness: Harness) -> None:
    """The live tail's hand-over must not wait behind a queue of backfill chunks (arq: by score)."""
    if isinstance(harness.queue, InProcessJobQueue):
        pytest.skip("the in-process runner (embedded mode, no live tail) runs jobs in the order they come")
    for value in ("first", "second", "third"):
        await harness.queue.enqueue("record", value)
    await harness.queue.enqueue("record", "ahead", ahead=True)
    await harness.run()
    assert harness.calls[0] == "ahead"
