"""The PubSub contract, on MemoryPubSub and RedisPubSub."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from storage.pubsub import MemoryPubSub, RedisPubSub

AnyPubSub = MemoryPubSub | RedisPubSub


@pytest.fixture(params=["memory", "redis"])
async def pubsub(
    request: pytest.FixtureRequest, redis_client: Any, redis_prefix: str
) -> AsyncIterator[AnyPubSub]:
    made: AnyPubSub
    if request.param == "memory":
        made = MemoryPubSub()
    else:
        made = RedisPubSub(redis_client, redis_prefix + "pubsub:", poll_seconds=0.05)
    yield made
    await made.close()


async def take(messages: AsyncIterator[bytes], count: int) -> list[bytes]:
    async with asyncio.timeout(5):
        return [await anext(messages) for _ in range(count)]


async def test_every_subscriber_gets_every_message_in_order(pubsub: AnyPubSub) -> None:
    async with pubsub.subscribe("ledgers") as first, pubsub.subscribe("ledgers") as second:
        for message in (b"1", b"2", b"\x00\xff"):
            await pubsub.publish("ledgers", message)
        assert await take(first, 3) == [b"1", b"2", b"\x00\xff"]
        assert await take(second, 3) == [b"1", b"2", b"\x00\xff"]


async def test_other_channels_are_not_received(pubsub: AnyPubSub) -> None:
    async with pubsub.subscribe("a") as messages:
        await pubsub.publish("b", b"not for a")
        await pubsub.publish("a", b"for a")
        assert await take(messages, 1) == [b"for a"]


async def test_leaving_the_block_unsubscribes(pubsub: AnyPubSub) -> None:
    async with pubsub.subscribe("a") as messages:
        assert await pubsub.subscriber_count("a") == 1
        await pubsub.publish("a", b"x")
        assert await take(messages, 1) == [b"x"]
    assert await pubsub.subscriber_count("a") == 0
    await pubsub.publish("a", b"nobody listens")  # not an error


async def test_leaving_early_with_unread_messages(pubsub: AnyPubSub) -> None:
    async with pubsub.subscribe("a"):
        await pubsub.publish("a", b"never read")
    async with pubsub.subscribe("a") as messages:
        await pubsub.publish("a", b"fresh")
        assert await take(messages, 1) == [b"fresh"]


async def test_close_ends_open_subscriptions(pubsub: AnyPubSub) -> None:
    received: list[bytes] = []
    entered = asyncio.Event()
    got_one = asyncio.Event()

    async def listen() -> None:
        async with pubsub.subscribe("a") as messages:
            entered.set()
            async for message in messages:
                received.append(message)
                got_one.set()

    task = asyncio.create_task(listen())
    await asyncio.wait_for(entered.wait(), 5)
    await pubsub.publish("a", b"before close")
    await asyncio.wait_for(got_one.wait(), 5)
    await pubsub.close()
    await asyncio.wait_for(task, 5)
    assert received == [b"before close"]
    with pytest.raises(RuntimeError):
        await pubsub.publish("a", b"after close")


async def test_memory_slow_subscriber_drops_oldest_and_counts() -> None:
    pubsub = MemoryPubSub(max_pending=2)
    async with pubsub.subscribe("a") as messages:
        for message in (b"1", b"2", b"3"):
            await pubsub.publish("a", message)
        assert await take(messages, 2) == [b"2", b"3"]
        assert getattr(messages, "dropped", None) == 1
    await pubsub.close()


async def test_redis_channels_live_under_prefix(redis_client: Any, redis_prefix: str) -> None:
    pubsub = RedisPubSub(redis_client, redis_prefix + "pubsub:")
    async with pubsub.subscribe("a"):
        counts = await redis_client.pubsub_numsub(redis_prefix + "pubsub:a")
        assert counts[0][1] == 1
    await pubsub.close()
