"""The RateLimiter contract, on limits' memory storage and on Redis."""

from __future__ import annotations

import tracemalloc
from collections.abc import AsyncIterator

import pytest

from storage.ratelimit import RateLimiter
from tests.servers import free_port


@pytest.fixture(params=["memory", "redis"])
async def limiter(
    request: pytest.FixtureRequest, redis_url: str, redis_prefix: str, redis_client: object
) -> AsyncIterator[RateLimiter]:
    # redis_client is requested for its clean-up of every key under redis_prefix.
    made = (
        RateLimiter.memory()
        if request.param == "memory"
        else RateLimiter.redis(redis_url, redis_prefix + "rl")
    )
    yield made
    await made.close()


async def test_allows_the_limit_then_refuses(limiter: RateLimiter) -> None:
    decisions = [await limiter.hit("tenant:a", 3) for _ in range(4)]
    assert [d.allowed for d in decisions] == [True, True, True, False]
    assert [d.remaining for d in decisions] == [2, 1, 0, 0]
    assert all(d.limit == 3 for d in decisions)
    refused = decisions[-1]
    assert 0 < refused.reset_after_seconds <= 60


async def test_keys_are_independent(limiter: RateLimiter) -> None:
    for _ in range(2):
        assert (await limiter.hit("tenant:a", 2)).allowed
    assert not (await limiter.hit("tenant:a", 2)).allowed
    decision = await limiter.hit("tenant:b", 2)
    assert decision.allowed
    assert decision.remaining == 1


async def test_limit_must_be_positive(limiter: RateLimiter) -> None:
    with pytest.raises(ValueError):
        await limiter.hit("tenant:a", 0)


async def test_replicas_on_one_redis_share_the_count(
    redis_url: str, redis_prefix: str, redis_client: object
) -> None:
    first = RateLimiter.redis(redis_url, redis_prefix + "rl")
    second = RateLimiter.redis(redis_url, redis_prefix + "rl")
    try:
        assert (await first.hit("tenant:a", 3)).allowed
        assert (await second.hit("tenant:a", 3)).allowed
        assert (await first.hit("tenant:a", 3)).remaining == 0
        assert not (await second.hit("tenant:a", 3)).allowed
    finally:
        await first.close()
        await second.close()


async def test_redis_keys_live_under_prefix(redis_url: str, redis_prefix: str, redis_client: object) -> None:
    from redis.asyncio import Redis

    assert isinstance(redis_client, Redis)
    limiter = RateLimiter.redis(redis_url, redis_prefix + "rl")
    try:
        await limiter.hit("tenant:a", 5)
    finally:
        await limiter.close()
    keys = [key async for key in redis_client.scan_iter(match=f"{redis_prefix}rl:*")]
    assert keys


def test_redis_url_must_be_redis() -> None:
    with pytest.raises(ValueError, match="not a Redis URL"):
        RateLimiter.redis("http://127.0.0.1:6379", "x")


async def test_the_fallback_during_an_outage_holds_no_entry_per_hit() -> None:
    """With Redis unreachable the limiter counts in memory; a tenant with a huge limit must not make it keep one
    entry per request (the moving window's way): its memory stays flat however many hits it counts."""
    limiter = RateLimiter.redis(f"redis://127.0.0.1:{free_port()}/0", "rl")  # nothing listens there
    try:
        decision = await limiter.hit("tenant:a", 1_000_000)  # Redis refused: counted in memory
        assert decision.allowed and decision.remaining == 999_999
        tracemalloc.start()
        try:
            before, _ = tracemalloc.get_traced_memory()
            for _ in range(20_000):
                await limiter.hit("tenant:a", 1_000_000)
            after, _ = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        # Counted: on a fresh key, in well under its first minute (the traced loop above may outlast a minute on
        # a loaded machine, and the two-counter window then weighs the older minute's hits down).
        for _ in range(2_000):
            await limiter.hit("tenant:c", 1_000_000)
        assert (await limiter.hit("tenant:c", 1_000_000)).remaining == 1_000_000 - 2_001
        assert (await limiter.hit("tenant:b", 2)).remaining == 1  # still per key
        assert after - before < 200_000, f"{after - before} bytes held for 20,000 hits"
    finally:
        await limiter.close()
