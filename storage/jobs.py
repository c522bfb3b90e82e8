"""The job queue: arq on Redis in production, an in-process runner in the embedded mode.

Both run the same job functions, `async def job(ctx, *args, **kwargs)`, so a job behaves the same whether
`obsrvr-flow dev` runs it in the API process or an arq worker runs it on another host. Jobs are made
idempotent by deterministic ids: enqueueing an id that is already queued, running, or finished within
the result-keeping window is a no-op that returns False.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import pickle
import time
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from arq.worker import Retry

from core.errors import QueueUnavailable
from storage.redis_breaker import CALL_TIMEOUT_SECONDS, OUTAGE_ERRORS, RedisBreaker

if TYPE_CHECKING:
    from arq.connections import ArqRedis

JobFunction = Callable[..., Awaitable[Any]]
T = TypeVar("T")
logger = logging.getLogger(__name__)
AHEAD_SECONDS = 3600


class JobQueue(Protocol):
    """Where work is handed to the job runner."""

    async def enqueue(
        self,
        function: str,
        *args: Any,
        job_id: str | None = None,
        defer_seconds: float | None = None,
        ahead: bool = False,
        **kwargs: Any,
    ) -> bool:
        """Queue `function(ctx, *args, **kwargs)`; False if a job with `job_id` is queued, running or
        finished recently (so deterministic ids make enqueueing idempotent). Arguments must pickle.
        `ahead`: taken before every job already waiting (the live tail must not wait behind a backfill).
        `core.errors.QueueUnavailable` when the queue cannot be reached."""
        ...

    async def depth(self) -> int | None:
        """Jobs waiting in the shared queue (None when there is none: the in-process runner)."""
        ...

    async def unknown(self, job_ids: Sequence[str]) -> set[str]:
        """The ids of `job_ids` that `enqueue` would accept now: not queued, running or finished recently
        (a cheap pre-check for re-enqueueing many ids; `enqueue` still decides)."""
        ...

    async def close(self) -> None: ...


class ArqJobQueue:
    """Enqueues onto an arq queue in Redis, for `obsrvr-flow worker` processes on any host.

    Job ids are namespaced by the queue name inside Redis, because arq keeps job keys outside the queue
    (`arq:job:<id>`): two deployments sharing one Redis must not deduplicate each other's jobs.

    Calls go through `breaker` and are bounded in time (arq's pool has a connect timeout but no read timeout):
    while Redis is unreachable, `enqueue` raises `QueueUnavailable` at once.
    """

    def __init__(
        self,
        pool: ArqRedis,
        queue_name: str,
        *,
        owns_pool: bool = False,
        breaker: RedisBreaker | None = None,
    ) -> None:
        self._pool = pool
        self.queue_name = queue_name
        self._owns_pool = owns_pool
        self._breaker = breaker if breaker is not None else RedisBreaker()

    @classmethod
    async def connect(
        cls, redis_url: str, queue_name: str, *, breaker: RedisBreaker | None = None, retries: int = 5
    ) -> ArqJobQueue:
        """A queue with its own arq connection pool, closed by `close()` (arq tries `retries` more times, a
        second apart, when Redis does not answer)."""
        from arq.connections import RedisSettings, create_pool

        redis_settings = RedisSettings.from_dsn(redis_url)
        redis_settings.conn_retries = retries
        pool = await create_pool(redis_settings, default_queue_name=queue_name)
        return cls(pool, queue_name, owns_pool=True, breaker=breaker)

    def sibling(self, queue_name: str) -> ArqJobQueue:
        """A queue named `queue_name` on this one's pool and breaker (closing it leaves the pool open)."""
        return ArqJobQueue(self._pool, queue_name, breaker=self._breaker)

    def arq_job_id(self, job_id: str) -> str:
        """The id arq stores for `job_id` (to look a job up with `arq.jobs.Job`)."""
        return f"{self.queue_name}:{job_id}"

    async def enqueue(
        self,
        function: str,
        *args: Any,
        job_id: str | None = None,
        defer_seconds: float | None = None,
        ahead: bool = False,
        **kwargs: Any,
    ) -> bool:
        # arq takes jobs in the order of their score, the time they are due: a job due an hour ago is taken
        # before every job waiting now (an hour, not more: arq keeps a job's data a day past its score).
        job = await self._bounded(
            self._pool.enqueue_job(
                function,
                *args,
                _job_id=self.arq_job_id(job_id or uuid.uuid4().hex),
                _queue_name=self.queue_name,
                _defer_by=-AHEAD_SECONDS if ahead and not defer_seconds else defer_seconds,
                **kwargs,
            )
        )
        return job is not None

    async def depth(self) -> int | None:
        # arq's queue is a sorted set of job ids (deferred ones included), whoever enqueued them.
        return int(await self._bounded(self._pool.zcard(self.queue_name)))

    async def unknown(self, job_ids: Sequence[str]) -> set[str]:
        # The two keys arq's enqueue_job checks (the job, kept while queued or running; its kept result), for
        # every id in one round trip per thousand ids.
        from arq.constants import job_key_prefix, result_key_prefix

        unknown: set[str] = set()
        for start in range(0, len(job_ids), 1000):
            batch = job_ids[start : start + 1000]
            async with self._pool.pipeline(transaction=False) as pipe:
                for job_id in batch:
                    arq_id = self.arq_job_id(job_id)
                    pipe.exists(job_key_prefix + arq_id, result_key_prefix + arq_id)
                counts = await self._bounded(pipe.execute())
            unknown.update(job_id for job_id, count in zip(batch, counts, strict=True) if not count)
        return unknown

    async def _bounded(self, call: Awaitable[T]) -> T:
        """`call` through the breaker, within a few Redis timeouts; `QueueUnavailable` when Redis is away."""
        if not self._breaker.allows():
            if inspect.iscoroutine(call):
                call.close()  # never awaited: say so to Python rather than leave a warning
            self._breaker.fallbacks["job_queue"] += 1
            raise QueueUnavailable()
        try:
            async with asyncio.timeout(CALL_TIMEOUT_SECONDS):
                result = await call
        except OUTAGE_ERRORS as exc:
            self._breaker.failed("job_queue", exc)
            self._breaker.fallbacks["job_queue"] += 1
            raise QueueUnavailable() from exc
        self._breaker.succeeded()
        return result

    async def close(self) -> None:
        if self._owns_pool:
            await self._pool.aclose(close_connection_pool=True)


class UnreachableJobQueue:
    """The queue of a short-lived command (`tenants apply`) that found Redis unreachable when it started:
    every enqueue raises `QueueUnavailable`, which the callers turn into "recorded, queued once it is back"."""

    def __init__(self, reason: str) -> None:
        self.reason = reason

    async def enqueue(
        self,
        function: str,
        *args: Any,
        job_id: str | None = None,
        defer_seconds: float | None = None,
        ahead: bool = False,
        **kwargs: Any,
    ) -> bool:
        raise QueueUnavailable(f"the job queue is unavailable: {self.reason}")

    async def depth(self) -> int | None:
        raise QueueUnavailable(f"the job queue is unavailable: {self.reason}")

    async def unknown(self, job_ids: Sequence[str]) -> set[str]:
        raise QueueUnavailable(f"the job queue is unavailable: {self.reason}")

    async def close(self) -> None:
        return None


@dataclass
class _Job:
    job_id: str
    function: str
    payload: bytes  # pickled (args, kwargs): what arq would send, so dev mode catches unpicklable args
    enqueue_time: datetime
    job_try: int = 1


class InProcessJobQueue:
    """Runs jobs as asyncio tasks in this process: `concurrency` at a time (default one, in enqueue order).

    Mirrors what an arq worker does so that both modes behave alike: each run gets a copy of `ctx` with
    `job_id`, `job_try` and `enqueue_time`; `arq.worker.Retry` re-runs the job (after its defer) up to
    `max_tries`; any other exception is logged with the job id and the runner goes on; a finished id is
    remembered for `keep_result_seconds` (arq's result key) and refused meanwhile. Unknown function names
    fail at enqueue rather than in the runner.
    """

    def __init__(
        self,
        functions: Mapping[str, JobFunction],
        ctx: dict[str, Any],
        *,
        concurrency: int = 1,
        max_tries: int = 3,  # the defaults match workers.worker (MAX_TRIES, KEEP_RESULT_SECONDS)
        keep_result_seconds: float = 3600,
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self._functions = dict(functions)
        self._ctx = ctx
        self._concurrency = concurrency
        self._max_tries = max_tries
        self._keep_result_seconds = keep_result_seconds
        # Built lazily: there may be no running event loop when the queue object is created.
        self._queue: asyncio.Queue[_Job] | None = None
        self._runners: list[asyncio.Task[None]] = []
        self._deferred: set[asyncio.Task[None]] = set()
        self._active: set[str] = set()  # queued, deferred or running
        self._finished: OrderedDict[str, float] = OrderedDict()  # job id -> monotonic time it is forgotten
        self._idle = asyncio.Event()
        self._idle.set()
        self._closed = False

    async def enqueue(
        self,
        function: str,
        *args: Any,
        job_id: str | None = None,
        defer_seconds: float | None = None,
        ahead: bool = False,  # one process, no shared queue: jobs run in the order they are enqueued
        **kwargs: Any,
    ) -> bool:
        if self._closed:
            raise RuntimeError("job queue is closed")
        if function not in self._functions:
            known = ", ".join(sorted(self._functions))
            raise ValueError(f"unknown job function {function!r}; known: {known}")
        job_id = job_id or uuid.uuid4().hex
        self._forget_expired()
        if job_id in self._active or job_id in self._finished:
            return False
        job = _Job(job_id, function, pickle.dumps((args, kwargs)), datetime.now(UTC))
        self._active.add(job_id)
        self._idle.clear()
        self._schedule(job, defer_seconds)
        return True

    def repeat(self, function: str, every_seconds: float) -> None:
        """Enqueue `function` (no arguments) now and then every `every_seconds` until the queue is closed: the
        embedded mode's crons, where workers have arq's cron jobs."""
        if function not in self._functions:
            raise ValueError(f"unknown job function {function!r}")
        task = asyncio.create_task(self._repeat(function, every_seconds), name=f"job-repeat:{function}")
        self._deferred.add(task)  # cancelled by close() with the deferred jobs
        task.add_done_callback(self._deferred.discard)

    async def _repeat(self, function: str, every_seconds: float) -> None:
        while not self._closed:
            await self.enqueue(function, job_id=f"repeat:{function}:{uuid.uuid4().hex}")
            await asyncio.sleep(every_seconds)

    async def depth(self) -> int | None:
        return None  # jobs run in this process: there is no queue other replicas or workers share

    async def unknown(self, job_ids: Sequence[str]) -> set[str]:
        self._forget_expired()
        return {job_id for job_id in job_ids if job_id not in self._active and job_id not in self._finished}

    async def drain(self) -> None:
        """Wait until every queued, deferred and running job (and any job they enqueue) has finished."""
        await self._idle.wait()

    async def close(self) -> None:
        """Stop the runners; jobs still queued or running are cancelled (call `drain()` first to finish)."""
        self._closed = True
        tasks = [*self._runners, *self._deferred]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._runners.clear()
        self._deferred.clear()
        self._active.clear()
        self._idle.set()

    def _schedule(self, job: _Job, defer_seconds: float | None) -> None:
        if defer_seconds and defer_seconds > 0:
            task = asyncio.create_task(self._put_later(job, defer_seconds), name=f"job-defer:{job.job_id}")
            self._deferred.add(task)
            task.add_done_callback(self._deferred.discard)
        else:
            self._put(job)

    async def _put_later(self, job: _Job, delay: float) -> None:
        await asyncio.sleep(delay)
        self._put(job)

    def _put(self, job: _Job) -> None:
        if self._queue is None:
            self._queue = asyncio.Queue()
            self._runners = [
                asyncio.create_task(self._run_forever(), name=f"job-runner-{n}")
                for n in range(self._concurrency)
            ]
        self._queue.put_nowait(job)

    async def _run_forever(self) -> None:
        assert self._queue is not None
        while True:
            job = await self._queue.get()
            retry_in = await self._run(job)
            if retry_in is not None and not self._closed:
                job.job_try += 1
                self._schedule(job, retry_in)
            else:
                self._active.discard(job.job_id)
                self._finished[job.job_id] = time.monotonic() + self._keep_result_seconds
                if not self._active:
                    self._idle.set()

    async def _run(self, job: _Job) -> float | None:
        """Run one try; the delay before the next try if the job asked to be retried, else None."""
        args, kwargs = pickle.loads(job.payload)  # noqa: S301 - our own bytes, from enqueue above
        ctx = {**self._ctx, "job_id": job.job_id, "job_try": job.job_try, "enqueue_time": job.enqueue_time}
        try:
            await self._functions[job.function](ctx, *args, **kwargs)
        except Retry as retry:
            if job.job_try < self._max_tries:
                logger.info("job %s (%s) try %d asked to retry", job.job_id, job.function, job.job_try)
                return (retry.defer_score or 0) / 1000
            logger.error("job %s (%s) gave up after %d tries", job.job_id, job.function, job.job_try)
        except Exception:
            logger.exception("job %s (%s) failed on try %d", job.job_id, job.function, job.job_try)
        return None

    def _forget_expired(self) -> None:
        now = time.monotonic()
        # Every id is kept for the same time, so insertion order is expiry order.
        while self._finished:
            job_id, forget_at = next(iter(self._finished.items()))
            if forget_at > now:
                break
            del self._finished[job_id]
