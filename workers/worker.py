"""The arq worker (`obsrvr-flow worker`) and the job context shared with the in-process runner.

Any number of workers on any number of hosts can consume one queue: arq hands each job to one worker, and
cron jobs are `unique`, so the daily maintenance runs once however many workers there are.
"""

from __future__ import annotations

from datetime import UTC
from typing import TYPE_CHECKING, Any, cast

from core.errors import ConfigError
from processors.registry import Registry, default_registry
from services.archiving import SCHEDULE_EVERY_SECONDS
from services.startup import check_startup
from workers.ingest_jobs import ENSURE_EVERY_SECONDS
from workers.jobs import JOBS, maintain_partitions
from workers.webhook_jobs import WEBHOOK_JOBS, webhook_queue_name

if TYPE_CHECKING:
    from arq.typing import WorkerCoroutine
    from prometheus_client import CollectorRegistry

    from core.settings import Settings

MAX_TRIES = 3  # arq retries only on `Retry` or when a worker dies mid-job
KEEP_RESULT_SECONDS = 3600  # also how long a finished job id is refused (idempotent re-enqueue)


async def job_context(
    settings: Settings,
    registry: Registry | None = None,
    *,
    metrics_registry: CollectorRegistry | None = None,
) -> dict[str, Any]:
    """The context every job receives (see `workers.jobs`): settings, the processor registry (default: the
    service's own), a database engine, the decoding pool and where ingestion records its counters
    (`metrics_registry`: the worker's, or the API app's in the embedded mode; none = not recorded).

    The arq worker builds it in `on_startup`; the embedded mode builds it in the API lifespan and hands it
    to the in-process runner, so jobs see the same thing in both modes.
    """
    from ingest.metrics import NO_INGEST_METRICS
    from ingest.stream import new_pool
    from services.webhooks.recorder import outbox_for
    from storage.cold.store import ColdStore
    from storage.db import create_engine
    from workers.metrics import PrometheusIngestMetrics

    registry = registry if registry is not None else default_registry()
    # Decoding is CPU-bound: jobs hand it to this pool so the event loop (other jobs, the live tail, arq's
    # heartbeats) stays responsive, and one worker uses `decode_processes` cores.
    return {
        "settings": settings,
        "registry": registry,
        # Webhook messages recorded in each ingest batch's transaction (services.webhooks.recorder).
        "outbox": outbox_for(registry),
        "engine": create_engine(settings.database_url, pool_size=worker_pool_size(settings)),
        "pool": new_pool(settings.decode_processes),
        "cold_store": ColdStore.from_settings(settings),
        "ingest_metrics": (
            PrometheusIngestMetrics(metrics_registry) if metrics_registry is not None else NO_INGEST_METRICS
        ),
    }


async def close_job_context(ctx: dict[str, Any]) -> None:
    engine = ctx.pop("engine", None)
    if engine is not None:
        await engine.dispose()
    pool = ctx.pop("pool", None)
    if pool is not None:
        pool.shutdown(wait=False, cancel_futures=True)
    cold_store = ctx.pop("cold_store", None)
    if cold_store is not None:
        await cold_store.close()


def worker_settings(settings: Settings, *, burst: bool = False) -> dict[str, Any]:
    """Keyword arguments for `arq.worker.Worker` (without `burst` itself). A `burst` worker drains the queue and
    exits, so it starts no live tail (which would keep it running)."""
    from arq import cron
    from arq.connections import RedisSettings
    from arq.worker import func

    if settings.redis_url is None:
        raise _needs_redis()

    async def on_startup(ctx: dict[str, Any]) -> None:
        from storage.backends import cache_prefix
        from storage.cache import RedisCache
        from storage.jobs import ArqJobQueue
        from storage.pubsub import RedisPubSub
        from workers.metrics import serve_worker_metrics

        metrics_registry, ctx["metrics_server"] = serve_worker_metrics(settings)
        ctx.update(await job_context(settings, metrics_registry=metrics_registry))
        # The same start-up checks as the API: a processor whose tables or GraphQL parts do not fit stops the
        # worker here, naming it, before it takes a job.
        await check_startup(ctx["engine"], ctx["registry"])
        # arq put its own pool in ctx["redis"]; jobs use these wrappers so they run unchanged in-process.
        ctx["jobs"] = ArqJobQueue(ctx["redis"], settings.queue_name)
        ctx["pubsub"] = RedisPubSub(ctx["redis"], settings.redis_prefix + "pubsub:")
        ctx["cache"] = RedisCache(ctx["redis"], cache_prefix(settings))  # a purge drops the tenant's entries
        # Committed batches wake their webhook endpoints' delivery jobs on the webhook queue.
        ctx["webhook_jobs"] = ArqJobQueue(ctx["redis"], webhook_queue_name(settings.queue_name))

    async def on_shutdown(ctx: dict[str, Any]) -> None:
        await close_job_context(ctx)
        server = ctx.pop("metrics_server", None)
        if server is not None:
            server.shutdown()
            server.server_close()

    # Often, and at start-up: a new deployment's first tenant, or a tail whose worker died, waits seconds for its
    # tail, not a minute. Cheap when a tail runs (one lease check per network).
    live_tails = cron(
        cast("WorkerCoroutine", JOBS["ensure_live_tails"]),
        name="cron:ensure_live_tails",
        second=cron_seconds(ENSURE_EVERY_SECONDS, offset=5),
        unique=True,
        run_at_startup=True,
    )
    return {
        # Registered under the JOBS keys, the names the in-process runner and enqueuers use.
        "functions": [
            func(cast("WorkerCoroutine", function), name=name)
            for name, function in JOBS.items()
            if name not in WEBHOOK_JOBS  # the webhook worker's (workers.webhook_worker)
        ],
        "cron_jobs": [
            cron(maintain_partitions, name="cron:maintain_partitions", hour={0}, minute={10}, unique=True),
            *([] if burst else [live_tails]),
            cron(
                cast("WorkerCoroutine", JOBS["resume_backfills"]),
                name="cron:resume_backfills",
                second=cron_seconds(settings.backfill_resume_seconds, offset=35),
                unique=True,
            ),
            # Every minute (and at start-up, so a worker started within a tenant's catch-up window runs what
            # was due while none ran): enqueues the archive runs due by each tenant's `archive_schedule`.
            cron(
                cast("WorkerCoroutine", JOBS["schedule_archives"]),
                name="cron:schedule_archives",
                second=cron_seconds(SCHEDULE_EVERY_SECONDS, offset=50),
                unique=True,
                run_at_startup=True,
            ),
            cron(
                cast("WorkerCoroutine", JOBS["resume_purges"]),
                name="cron:resume_purges",
                second={25},
                unique=True,
                run_at_startup=True,
            ),
        ],
        # arq reads cron times in the host's zone by default; the schedule is in UTC.
        "timezone": UTC,
        "redis_settings": RedisSettings.from_dsn(settings.redis_url),
        "queue_name": settings.queue_name,
        "on_startup": on_startup,
        "on_shutdown": on_shutdown,
        "job_timeout": settings.job_timeout_seconds,
        "max_jobs": max_jobs(settings),
        "max_tries": MAX_TRIES,
        "keep_result": KEEP_RESULT_SECONDS,
    }


def max_jobs(settings: Settings) -> int:
    """Jobs a worker runs at once. More than its decoding processes only makes each slower (and nearer its
    timeout); one more leaves room for the live tail next to the backfill chunks."""
    return settings.decode_processes + 1


def worker_pool_size(settings: Settings) -> int:
    """Database connections a worker keeps: each of its concurrent jobs (`max_jobs`) may hold a lease's session
    and two write transactions at once (`ingest.stream` overlaps two batches); never fewer than the default."""
    from storage.db import POSTGRES_POOL

    return max(POSTGRES_POOL["pool_size"], 3 * max_jobs(settings))


def cron_seconds(every: int, *, offset: int) -> set[int]:
    """The seconds of each minute at which a cron running every `every` seconds (a divisor of 60) fires,
    `offset` placing it among the other crons (every 60 s: at second `offset`)."""
    return {second for second in range(60) if second % every == offset % every}


def run_worker(settings: Settings, *, burst: bool = False) -> None:
    """Run the arq workers until stopped (or, with `burst`, until their queues are empty): the main queue's and,
    in the same process and event loop, the webhook queue's (`workers.webhook_worker`). A signal stops both."""
    import asyncio

    from workers.webhook_worker import webhook_worker_settings

    if settings.redis_url is None:
        raise _needs_redis()
    worker_class = resilient_worker_class()
    main = worker_class(**worker_settings(settings, burst=burst), burst=burst)
    hooks = worker_class(**webhook_worker_settings(settings), burst=burst, handle_signals=False)
    main.on_stop = hooks.handle_sig  # the main worker's signal handlers stop the webhook worker too
    loop = main.loop
    main.main_task = loop.create_task(main.main())
    hooks.main_task = loop.create_task(hooks.main())
    try:
        # Either ending (burst: its queue is empty; or an error) ends the process: the other is stopped.
        done, _ = loop.run_until_complete(
            asyncio.wait([main.main_task, hooks.main_task], return_when=asyncio.FIRST_EXCEPTION)
        )
        if burst:
            loop.run_until_complete(asyncio.gather(main.main_task, hooks.main_task, return_exceptions=True))
        for task in done:
            if not task.cancelled() and task.exception() is not None:
                raise cast("BaseException", task.exception())
    except asyncio.CancelledError:
        pass  # a signal cancelled the main tasks: shutting down
    finally:
        for worker in (hooks, main):
            if worker.main_task is not None and not worker.main_task.done():
                worker.main_task.cancel()
        loop.run_until_complete(asyncio.gather(hooks.close(), main.close(), return_exceptions=True))


def resilient_worker_class() -> type[Any]:
    """arq's `Worker`, made to outlive a Redis outage: arq's own loop ends the process on the first Redis error
    of a poll. Here a poll that cannot reach Redis is logged (when the outage starts and when it ends, not on
    every poll) and the worker polls again a second later; jobs already running go on (what they cannot write
    to Redis is lost with the outage, their rows and checkpoints are in the database). Once Redis answers, the
    worker takes jobs again and the `resume_backfills` cron enqueues the backfills planned meanwhile."""
    import asyncio
    import logging

    from arq.worker import Worker

    from storage.redis_breaker import OUTAGE_ERRORS

    log = logging.getLogger("obsrvr_flow.worker")

    class ResilientWorker(Worker):
        redis_down_since: float | None = None
        outage_poll_seconds = 1.0  # how often a worker that lost Redis polls again
        completions = 0  # job slots given back by finished jobs (arq's done callback)

        def _release_sem_dec_counter_on_complete(self) -> None:
            self.completions += 1
            super()._release_sem_dec_counter_on_complete()

        async def start_jobs(self, job_ids: list[bytes]) -> None:
            """arq's `start_jobs`, one job id at a time, giving back the job slot arq takes before its Redis
            round trips when one of them fails: arq's own loop ends the process on that error, so it never
            leaks; here the worker lives on, and a few outages would leave every slot taken and the worker
            polling for ever without taking a job."""
            for job_id_b in job_ids:
                if self.job_counter >= self.max_jobs:
                    return  # as arq: no slot left, the next poll reads the queue again
                counter, completions = self.job_counter, self.completions
                task = self.tasks.get(job_id_b.decode())
                try:
                    await super().start_jobs([job_id_b])
                except BaseException:
                    # Slots taken by this call and not given back: the counter's rise, less the finished jobs'
                    # decrements meanwhile. A task started for the job gives its slot back when it ends.
                    taken = self.job_counter - counter + self.completions - completions
                    if taken > 0 and self.tasks.get(job_id_b.decode()) is task:
                        self.job_counter -= taken
                        for _ in range(taken):
                            self.sem.release()
                    raise

        async def _poll_iteration(self) -> None:
            try:
                await super()._poll_iteration()
            except OUTAGE_ERRORS as exc:
                if self.redis_down_since is None:
                    self.redis_down_since = asyncio.get_running_loop().time()
                    log.warning(
                        "Redis is unreachable (%s: %s): the worker waits for it, polling every second",
                        type(exc).__name__,
                        exc,
                    )
                await asyncio.sleep(self.outage_poll_seconds)
                return
            if self.redis_down_since is not None:
                down = asyncio.get_running_loop().time() - self.redis_down_since
                log.warning("Redis is reachable again after %.0f s: the worker takes jobs again", down)
                self.redis_down_since = None

    return ResilientWorker


def _needs_redis() -> ConfigError:
    return ConfigError(
        ["OBSRVR_REDIS_URL: not set"],
        message=(
            "obsrvr-flow worker needs OBSRVR_REDIS_URL (arq workers take jobs from Redis); "
            "without Redis, `obsrvr-flow dev` runs jobs inside the API process"
        ),
    )
