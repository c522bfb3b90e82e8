"""The Redis-backed cache, rate limiter, pub/sub and job queue through one breaker, on a private redis-server that
is stopped, hung (SIGSTOP) and brought back: each falls back at once and is counted, a hung server costs one
timeout and not one per call, and everything uses Redis again once it answers, without new objects."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import AsyncIterator, Iterator

import pytest
from redis.asyncio import Redis

from core.errors import QueueUnavailable
from storage.cache import RedisCache
from storage.jobs import ArqJobQueue
from storage.pubsub import RedisPubSub
from storage.ratelimit import RateLimiter
from storage.redis_breaker import REDIS_TIMEOUT_SECONDS, RedisBreaker
from tests.servers import PrivateRedis

RETRY = 0.3


@pytest.fixture(scope="module")
def server() -> Iterator[PrivateRedis]:
    redis = PrivateRedis()
    redis.start()
    try:
        yield redis
    finally:
        redis.close()


class Parts:
    def __init__(self, server: PrivateRedis, client: Redis, breaker: RedisBreaker, jobs: ArqJobQueue) -> None:
        self.server = server
        self.breaker = breaker
        self.cache = RedisCache(client, "t:cache:", breaker)
        self.limiter = RateLimiter.redis(server.url, "t:ratelimit", breaker)
        self.pubsub = RedisPubSub(client, "t:pubsub:", breaker=breaker)
        self.jobs = jobs


@pytest.fixture
async def parts(server: PrivateRedis) -> AsyncIterator[Parts]:
    if server.process is None:
        server.start()
    client = Redis.from_url(
        server.url, socket_connect_timeout=REDIS_TIMEOUT_SECONDS, socket_timeout=REDIS_TIMEOUT_SECONDS
    )
    breaker = RedisBreaker(retry_seconds=RETRY)
    jobs = await ArqJobQueue.connect(server.url, "t:queue", breaker=breaker)
    built = Parts(server, client, breaker, jobs)
    try:
        yield built
    finally:
        await built.limiter.close()
        await jobs.close()
        await client.aclose()


async def _wait_back(parts: Parts) -> None:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        await parts.cache.get("probe")
        if parts.breaker.available:
            return
        await asyncio.sleep(RETRY / 2)
    raise AssertionError("the breaker did not close once Redis was back")


async def test_stopped_redis_falls_back_and_comes_back(parts: Parts) -> None:
    await parts.cache.set("k", b"v", 30)
    assert await parts.cache.get("k") == b"v"
    assert (await parts.limiter.hit("tenant:a", 5)).remaining == 4

    parts.server.stop()
    began = time.monotonic()
    assert await parts.cache.get("k") is None  # a miss, not an error
    await parts.cache.set("k", b"w", 30)  # dropped
    await parts.pubsub.publish("ch", b"m")  # skipped
    local = [await parts.limiter.hit("tenant:a", 5) for _ in range(6)]
    assert [d.allowed for d in local] == [True] * 5 + [False]  # the in-process limiter still limits
    with pytest.raises(QueueUnavailable) as refused:
        await parts.jobs.enqueue("job", job_id="x")
    assert refused.value.code == "queue_unavailable" and refused.value.headers["Retry-After"]
    assert time.monotonic() - began < 2, "a refused connection must degrade at once"
    assert not parts.breaker.available and parts.breaker.outages == 1
    assert parts.breaker.fallbacks["cache"] >= 2
    assert parts.breaker.fallbacks["pubsub"] == 1
    assert parts.breaker.fallbacks["rate_limiter"] == 6
    assert parts.breaker.fallbacks["job_queue"] == 1

    parts.server.start()  # empty: no persistence
    await _wait_back(parts)
    assert await parts.cache.get("k") is None
    await parts.cache.set("k", b"back", 30)
    assert await parts.cache.get("k") == b"back"
    # The shared window again: Redis restarted empty, so the tenant has its whole limit there.
    assert (await parts.limiter.hit("tenant:a", 5)).remaining == 4
    assert await parts.jobs.enqueue("job", job_id="y") is True
    assert parts.breaker.outages == 1


async def test_hung_redis_costs_one_timeout_then_is_skipped(parts: Parts) -> None:
    assert parts.server.process is not None
    await parts.cache.set("h", b"v", 30)
    parts.breaker.retry_seconds = 30  # no probe during the loop below: it measures the open breaker alone
    os.kill(parts.server.process.pid, signal.SIGSTOP)
    try:
        began = time.monotonic()
        assert await parts.cache.get("h") is None
        first = time.monotonic() - began
        assert first < REDIS_TIMEOUT_SECONDS + 1.5, f"a hung Redis held a call for {first:.1f} s"
        began = time.monotonic()
        for _ in range(20):
            assert await parts.cache.get("h") is None
            assert (await parts.limiter.hit("tenant:h", 100)).allowed
        assert time.monotonic() - began < 0.5, "calls while the breaker is open must not wait for Redis"
    finally:
        os.kill(parts.server.process.pid, signal.SIGCONT)
    assert parts.breaker.outages == 1 and not parts.breaker.available
    # What /readyz does: a successful ping closes the breaker without waiting for the next probe.
    client = Redis.from_url(parts.server.url)
    try:
        await client.ping()
    finally:
        await client.aclose()
    parts.breaker.succeeded()
    assert await parts.cache.get("h") == b"v"
    assert parts.breaker.available
