"""The Cache contract, on MemoryCache and RedisCache."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from storage.cache import Cache, MemoryCache, RedisCache


@pytest.fixture(params=["memory", "redis"])
async def cache(request: pytest.FixtureRequest, redis_client: Any, redis_prefix: str) -> AsyncIterator[Cache]:
    if request.param == "memory":
        yield MemoryCache()
    else:
        yield RedisCache(redis_client, redis_prefix + "cache:")


async def test_miss_is_none(cache: Cache) -> None:
    assert await cache.get("absent") is None


async def test_set_get_overwrite_delete(cache: Cache) -> None:
    await cache.set("k", b"\x00one", ttl_seconds=30)
    assert await cache.get("k") == b"\x00one"
    await cache.set("k", b"two", ttl_seconds=30)
    assert await cache.get("k") == b"two"
    await cache.delete("k")
    assert await cache.get("k") is None
    await cache.delete("k")  # deleting a missing key is fine


async def test_entries_expire(cache: Cache) -> None:
    await cache.set("short", b"v", ttl_seconds=0.05)
    await cache.set("long", b"v", ttl_seconds=30)
    await asyncio.sleep(0.15)
    assert await cache.get("short") is None
    assert await cache.get("long") == b"v"


async def test_non_positive_ttl_stores_nothing_and_drops_old_value(cache: Cache) -> None:
    await cache.set("k", b"old", ttl_seconds=30)
    await cache.set("k", b"new", ttl_seconds=0)
    assert await cache.get("k") is None


async def test_redis_keys_live_under_prefix_with_expiry(redis_client: Any, redis_prefix: str) -> None:
    cache = RedisCache(redis_client, redis_prefix + "cache:")
    await cache.set("k", b"v", ttl_seconds=10)
    ttl_ms = await redis_client.pttl(redis_prefix + "cache:k")
    assert 0 < ttl_ms <= 10_000
    other = RedisCache(redis_client, redis_prefix + "other:")
    assert await other.get("k") is None


async def test_memory_cache_evicts_least_recently_used() -> None:
    cache = MemoryCache(max_entries=2)
    await cache.set("a", b"1", ttl_seconds=30)
    await cache.set("b", b"2", ttl_seconds=30)
    assert await cache.get("a") == b"1"  # now "b" is the least recently used
    await cache.set("c", b"3", ttl_seconds=30)
    assert len(cache) == 2
    assert await cache.get("b") is None
    assert await cache.get("a") == b"1"
    assert await cache.get("c") == b"3"


def test_memory_cache_needs_room_for_one_entry() -> None:
    with pytest.raises(ValueError):
        MemoryCache(max_entries=0)


async def test_memory_cache_is_bounded_in_bytes() -> None:
    cache = MemoryCache(max_bytes=100)
    await cache.set("a", b"x" * 40, ttl_seconds=30)
    await cache.set("b", b"y" * 40, ttl_seconds=30)
    assert cache.held_bytes == 82
    assert await cache.get("a") == b"x" * 40  # now "b" is the least recently used
    await cache.set("c", b"z" * 40, ttl_seconds=30)  # 123 bytes: "b" goes
    assert await cache.get("b") is None
    assert (await cache.get("a"), await cache.get("c")) == (b"x" * 40, b"z" * 40)
    assert cache.held_bytes == 82
    await cache.set("a", b"short", ttl_seconds=30)  # a replaced value is counted once
    assert cache.held_bytes == 6 + 41


async def test_memory_cache_refuses_a_value_larger_than_its_bound() -> None:
    cache = MemoryCache(max_bytes=100)
    await cache.set("a", b"x" * 40, ttl_seconds=30)
    await cache.set("huge", b"y" * 200, ttl_seconds=30)
    assert await cache.get("huge") is None
    assert await cache.get("a") == b"x" * 40  # nothing was evicted for it
    await cache.set("a", b"z" * 200, ttl_seconds=30)  # too large: the old value goes too, never a stale one
    assert await cache.get("a") is None
    assert cache.held_bytes == 0


async def test_delete_prefix_drops_only_that_prefix(cache: Cache) -> None:
    for n in range(1_200):  # more than one SCAN/UNLINK batch in Redis
        await cache.set(f"resp:gone:{n}", b"v", ttl_seconds=30)
    await cache.set("resp:gone-not:1", b"kept", ttl_seconds=30)
    await cache.set("resp:go*:1", b"kept", ttl_seconds=30)  # a glob character is literal
    await cache.set("other:resp:gone:1", b"kept", ttl_seconds=30)
    assert await cache.delete_prefix("resp:gone:") == 1_200
    assert await cache.get("resp:gone:7") is None
    for kept in ("resp:gone-not:1", "resp:go*:1", "other:resp:gone:1"):
        assert await cache.get(kept) == b"kept"
    assert await cache.delete_prefix("resp:go*:") == 1
    assert await cache.get("resp:gone-not:1") == b"kept"
