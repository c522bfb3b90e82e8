"""The cache, rate limiter, pub/sub and job queue of one process, chosen by settings.

`settings.redis_url` unset: in-memory implementations and the in-process job runner (the embedded mode).
Set: Redis implementations, keys under `settings.redis_prefix`, and the arq queue `settings.queue_name`, all
behind one `RedisBreaker` (Redis must answer at start-up; if it goes away later, each falls back: see
`storage.redis_breaker`). Nothing here connects at import time; `open_backends` is called from a lifespan or a
command.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from core.errors import ServiceUnavailable
from storage.cache import Cache, MemoryCache, RedisCache
from storage.jobs import ArqJobQueue, InProcessJobQueue, JobFunction, JobQueue
from storage.pubsub import MemoryPubSub, PubSub, RedisPubSub
from storage.ratelimit import RateLimiter
from storage.redis_breaker import REDIS_TIMEOUT_SECONDS, RedisBreaker

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from core.settings import Settings


@dataclass
class Backends:
    """What `open_backends` built; `redis` is the shared client and `breaker` the circuit breaker every Redis
    use goes through (both None in the embedded mode)."""

    cache: Cache
    rate_limiter: RateLimiter
    pubsub: PubSub
    jobs: JobQueue
    redis: Redis | None
    breaker: RedisBreaker | None = None
    webhook_jobs: JobQueue | None = None
    """The webhook delivery queue (`queue_name + ":webhooks"`, or a second in-process runner)."""

    async def close(self) -> None:
        """Close in reverse order of use: stop jobs first (they may publish), the Redis client last."""
        try:
            await self.jobs.close()
            if self.webhook_jobs is not None:
                await self.webhook_jobs.close()
            await self.pubsub.close()
            await self.rate_limiter.close()
        finally:
            if self.redis is not None:
                await self.redis.aclose()


def cache_prefix(settings: Settings) -> str:
    """Where the Redis cache's keys live (the API's and a worker's `RedisCache` must agree)."""
    return settings.redis_prefix + "cache:"


async def open_backends(
    settings: Settings,
    job_functions: Mapping[str, JobFunction],
    job_ctx: dict[str, Any],
    *,
    job_concurrency: int = 1,
) -> Backends:
    """Build the backends for `settings`.

    In the embedded mode `job_functions` run in this process with `job_ctx` (the same context an arq worker
    builds, see `workers.worker.job_context`); with Redis they only name what the workers run. Either way
    `job_ctx` gains `jobs`, `pubsub` and `cache` (unless already set), so a job can enqueue follow-up jobs,
    publish events and drop cached entries (a tenant's purge) the same way in both modes. It also gains
    `webhook_jobs`, the webhook delivery queue: arq's `queue_name + ":webhooks"`, or in the embedded mode a second
    in-process runner running `webhook_worker_jobs` deliveries at once (they must not wait behind a backfill).
    `job_concurrency`: how many jobs the embedded runner runs at once.
    """
    webhook_queue = settings.queue_name + ":webhooks"  # workers.webhook_jobs.webhook_queue_name
    if settings.redis_url is None:
        pubsub = MemoryPubSub()
        jobs = InProcessJobQueue(job_functions, job_ctx, concurrency=job_concurrency)
        webhook_jobs = InProcessJobQueue(
            job_functions, job_ctx, concurrency=settings.webhook_worker_jobs, keep_result_seconds=60
        )
        job_ctx.setdefault("jobs", jobs)
        job_ctx.setdefault("webhook_jobs", webhook_jobs)
        job_ctx.setdefault("pubsub", pubsub)
        memory = MemoryCache(max_bytes=settings.response_cache_memory_bytes)
        job_ctx.setdefault("cache", memory)
        return Backends(memory, RateLimiter.memory(), pubsub, jobs, redis=None, webhook_jobs=webhook_jobs)

    from redis.asyncio import Redis

    prefix = settings.redis_prefix
    client = Redis.from_url(
        settings.redis_url, socket_connect_timeout=REDIS_TIMEOUT_SECONDS, socket_timeout=REDIS_TIMEOUT_SECONDS
    )
    try:
        # Fail at start-up with a clear message rather than on the first request (and before arq's
        # create_pool spends seconds retrying).
        await client.ping()
    except Exception as exc:
        await client.aclose()
        raise ServiceUnavailable(f"Redis is not reachable at OBSRVR_REDIS_URL: {exc}") from exc
    breaker = RedisBreaker()
    rate_limiter = RateLimiter.redis(settings.redis_url, prefix + "ratelimit", breaker)
    try:
        arq_jobs = await ArqJobQueue.connect(settings.redis_url, settings.queue_name, breaker=breaker)
    except BaseException:
        await rate_limiter.close()
        await client.aclose()
        raise
    pubsub_redis = RedisPubSub(client, prefix + "pubsub:", breaker=breaker)
    job_ctx.setdefault("jobs", arq_jobs)
    arq_webhook_jobs = arq_jobs.sibling(webhook_queue)
    job_ctx.setdefault("webhook_jobs", arq_webhook_jobs)
    job_ctx.setdefault("pubsub", pubsub_redis)
    cache = RedisCache(client, cache_prefix(settings), breaker)
    job_ctx.setdefault("cache", cache)
    return Backends(
        cache,
        rate_limiter,
        pubsub_redis,
        arq_jobs,
        redis=client,
        breaker=breaker,
        webhook_jobs=arq_webhook_jobs,
    )
