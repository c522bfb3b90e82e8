"""Fan-out of live events (GraphQL subscriptions): Redis pub/sub, or in-process queues in the embedded mode.

Delivery is at most once and only to subscribers listening at the time: a subscriber that needs what it
missed resumes from the row id through the query router, which is why messages carry ids, not state.

    async with pubsub.subscribe("pubnet:transfers") as messages:
        async for message in messages:
            ...

The subscription is active once the `async with` is entered, so a message published after that point is
received; leaving the block unsubscribes.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, Any, Protocol

from storage.redis_breaker import RedisBreaker

if TYPE_CHECKING:
    from redis.asyncio import Redis
    from redis.asyncio.client import PubSub as RedisPubSubConnection


class PubSub(Protocol):
    """Channels of byte messages."""

    async def publish(self, channel: str, message: bytes) -> None: ...

    def subscribe(self, channel: str) -> AbstractAsyncContextManager[AsyncIterator[bytes]]:
        """An async context manager yielding the channel's messages, in publish order, until closed."""
        ...

    async def close(self) -> None:
        """End every open subscription (their iterators stop) and refuse new ones."""
        ...


class _MemorySubscription:
    """One subscriber's bounded buffer. When full, the oldest message is dropped and counted in `dropped`,
    so a slow consumer cannot grow memory without bound or stall the publisher."""

    def __init__(self, max_pending: int) -> None:
        self._buffer: deque[bytes] = deque()
        self._max_pending = max_pending
        self._wakeup = asyncio.Event()
        self._closed = False
        self.dropped = 0

    def put(self, message: bytes) -> None:
        if len(self._buffer) >= self._max_pending:
            self._buffer.popleft()
            self.dropped += 1
        self._buffer.append(message)
        self._wakeup.set()

    def close(self) -> None:
        self._closed = True
        self._wakeup.set()

    def __aiter__(self) -> _MemorySubscription:
        return self

    async def __anext__(self) -> bytes:
        while not self._buffer:
            if self._closed:
                raise StopAsyncIteration
            self._wakeup.clear()
            await self._wakeup.wait()
        return self._buffer.popleft()


class MemoryPubSub:
    """Pub/sub inside one process; each subscriber buffers at most `max_pending` messages."""

    def __init__(self, max_pending: int = 1000) -> None:
        if max_pending < 1:
            raise ValueError("max_pending must be at least 1")
        self.max_pending = max_pending
        self._channels: dict[str, set[_MemorySubscription]] = {}
        self._closed = False

    async def publish(self, channel: str, message: bytes) -> None:
        if self._closed:
            raise RuntimeError("pub/sub is closed")
        for subscription in self._channels.get(channel, ()):
            subscription.put(message)

    @contextlib.asynccontextmanager
    async def subscribe(self, channel: str) -> AsyncIterator[AsyncIterator[bytes]]:
        if self._closed:
            raise RuntimeError("pub/sub is closed")
        subscription = _MemorySubscription(self.max_pending)
        self._channels.setdefault(channel, set()).add(subscription)
        try:
            yield subscription
        finally:
            subscription.close()
            subscribers = self._channels.get(channel)
            if subscribers is not None:
                subscribers.discard(subscription)
                if not subscribers:
                    del self._channels[channel]

    async def subscriber_count(self, channel: str) -> int:
        return len(self._channels.get(channel, ()))

    async def close(self) -> None:
        self._closed = True
        for subscribers in self._channels.values():
            for subscription in subscribers:
                subscription.close()
        self._channels.clear()


class _RedisSubscription:
    """Messages from one Redis pub/sub connection. Redis itself disconnects a subscriber that falls too far
    behind (client-output-buffer-limit), so nothing is dropped silently here: `dropped` stays 0."""

    def __init__(self, connection: RedisPubSubConnection, owner: RedisPubSub) -> None:
        self._connection = connection
        self._owner = owner
        self.dropped = 0

    def __aiter__(self) -> _RedisSubscription:
        return self

    async def __anext__(self) -> bytes:
        while not self._owner.closed:
            # A bounded wait, so that close() ends idle subscriptions within one poll interval
            # without disconnecting a socket another task is reading from.
            message = await self._connection.get_message(
                ignore_subscribe_messages=True, timeout=self._owner.poll_seconds
            )
            if message is not None and message["type"] == "message":
                data: Any = message["data"]
                return data if isinstance(data, bytes) else str(data).encode()
        raise StopAsyncIteration


class RedisPubSub:
    """Pub/sub across every API replica and worker; channel names are prefixed with `prefix`.

    Each subscription holds its own connection from `client`'s pool for as long as it is open. Publishing goes
    through `breaker`: while Redis is unreachable a message is dropped (counted as pub/sub's fallback), which
    delivery at most once allows: subscribers resume from row ids.
    """

    def __init__(
        self,
        client: Redis,
        prefix: str,
        *,
        poll_seconds: float = 1.0,
        breaker: RedisBreaker | None = None,
    ) -> None:
        self._client = client
        self._prefix = prefix
        self.poll_seconds = poll_seconds
        self.closed = False
        self._breaker = breaker if breaker is not None else RedisBreaker()

    async def publish(self, channel: str, message: bytes) -> None:
        if self.closed:
            raise RuntimeError("pub/sub is closed")
        await self._breaker.call(
            "pubsub", lambda: self._client.publish(self._prefix + channel, message), None
        )

    @contextlib.asynccontextmanager
    async def subscribe(self, channel: str) -> AsyncIterator[AsyncIterator[bytes]]:
        if self.closed:
            raise RuntimeError("pub/sub is closed")
        connection = self._client.pubsub()
        try:
            await connection.subscribe(self._prefix + channel)
            # SUBSCRIBE is only sent above; wait for Redis to confirm it, otherwise a message published
            # right after entering (from another connection) could reach Redis first and be missed.
            while True:
                reply = await connection.get_message(timeout=None)
                if reply is not None and reply["type"] == "subscribe":
                    break
            yield _RedisSubscription(connection, self)
        finally:
            try:
                with contextlib.suppress(Exception):
                    await _unsubscribe(connection)
            finally:
                await connection.aclose()

    async def subscriber_count(self, channel: str) -> int:
        """Subscribers of `channel` on the Redis server (every replica), as PUBSUB NUMSUB reports."""
        name = self._prefix + channel
        counts = await self._client.pubsub_numsub(name)
        return int(counts[0][1]) if counts else 0

    async def close(self) -> None:
        # The Redis client belongs to whoever built this object (Backends); only stop the subscriptions.
        self.closed = True


async def _unsubscribe(connection: RedisPubSubConnection, wait_seconds: float = 1.0) -> None:
    """Unsubscribe and wait for Redis to confirm, so the subscription is gone when `async with` exits
    (closing the socket alone would also end it, but only once Redis notices the disconnect)."""
    await connection.unsubscribe()
    async with asyncio.timeout(wait_seconds):
        while True:
            reply = await connection.get_message(timeout=wait_seconds)
            if reply is None or reply["type"] == "unsubscribe":
                return
