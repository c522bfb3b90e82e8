"""open_backends picks the implementations from settings: memory without a Redis URL, Redis with one."""

from __future__ import annotations

from typing import Any

import pytest

from core.errors import ServiceUnavailable
from core.settings import Settings
from storage.backends import open_backends
from storage.cache import MemoryCache, RedisCache
from storage.jobs import ArqJobQueue, InProcessJobQueue
from storage.pubsub import MemoryPubSub, RedisPubSub
from storage.ratelimit import RateLimiter
from tests.storage.backends.conftest import delete_arq_keys


async def record(ctx: dict[str, Any], value: Any) -> None:
    ctx["calls"].append(value)


async def test_without_redis_everything_is_in_process(sqlite_url: str) -> None:
    settings = Settings(database_url=sqlite_url, redis_url=None)
    ctx: dict[str, Any] = {"calls": []}
    backends = await open_backends(settings, {"record": record}, ctx)
    try:
        assert isinstance(backends.cache, MemoryCache)
        assert isinstance(backends.rate_limiter, RateLimiter)
        assert isinstance(backends.pubsub, MemoryPubSub)
        assert isinstance(backends.jobs, InProcessJobQueue)
        assert backends.redis is None
        assert ctx["jobs"] is backends.jobs and ctx["pubsub"] is backends.pubsub
        assert await backends.jobs.enqueue("record", 1)
        await backends.jobs.drain()
        assert ctx["calls"] == [1]
        assert (await backends.rate_limiter.hit("k", 1)).allowed
    finally:
        await backends.close()


async def test_with_redis_everything_is_shared(
    sqlite_url: str, redis_url: str, redis_prefix: str, redis_client: Any
) -> None:
    queue_name = f"{redis_prefix}queue"
    settings = Settings(
        database_url=sqlite_url, redis_url=redis_url, redis_prefix=redis_prefix, queue_name=queue_name
    )
    backends = await open_backends(settings, {"record": record}, {})
    try:
        assert isinstance(backends.cache, RedisCache)
        assert isinstance(backends.pubsub, RedisPubSub)
        assert isinstance(backends.jobs, ArqJobQueue)
        assert backends.redis is not None
        assert await backends.redis.ping()

        await backends.cache.set("k", b"v", ttl_seconds=10)
        assert await redis_client.get(f"{redis_prefix}cache:k") == b"v"
        assert (await backends.rate_limiter.hit("k", 1)).allowed
        assert [key async for key in redis_client.scan_iter(match=f"{redis_prefix}ratelimit:*")]
        assert await backends.jobs.enqueue("record", 1, job_id="j")
        assert await redis_client.zcard(queue_name) == 1
    finally:
        await backends.close()
        await delete_arq_keys(redis_client, queue_name)


async def test_unreachable_redis_fails_at_start_up(sqlite_url: str) -> None:
    settings = Settings(database_url=sqlite_url, redis_url="redis://127.0.0.1:1/0")
    with pytest.raises(ServiceUnavailable, match="Redis is not reachable"):
        await open_backends(settings, {}, {})
