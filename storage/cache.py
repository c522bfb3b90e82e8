"""A small byte cache: Redis when the service runs with Redis, in-process memory otherwise.

Values are opaque bytes (callers serialize, e.g. with orjson) and every entry has a TTL: the cache only ever
holds data that may be a few seconds stale, so there is no invalidation protocol to get wrong.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from functools import partial
from typing import TYPE_CHECKING, Protocol

from storage.redis_breaker import RedisBreaker

if TYPE_CHECKING:
    from redis.asyncio import Redis


class Cache(Protocol):
    """Byte values with a time to live. A miss and an expired entry look the same: `None`."""

    async def get(self, key: str) -> bytes | None: ...

    async def set(self, key: str, value: bytes, ttl_seconds: float) -> None:
        """Store `value` for `ttl_seconds`; a TTL of zero or less stores nothing (and drops an old value)."""
        ...

    async def delete(self, key: str) -> None: ...

    async def delete_prefix(self, prefix: str) -> int:
        """Drop every entry whose key starts with `prefix` (e.g. all of one tenant's); returns how many went.
        Entries written meanwhile under the prefix may stay: callers use it once nothing writes there any more."""
        ...


DELETE_BATCH = 500
"""Keys asked of SCAN and deleted by one UNLINK at a time: a large prefix never blocks Redis for long."""


class MemoryCache:
    """Per-process cache with TTLs and least-recently-used eviction beyond `max_entries` entries or `max_bytes`
    bytes of keys and values (whichever is reached first). A value larger than `max_bytes` alone is not stored
    (it would evict everything else and then itself)."""

    def __init__(self, max_entries: int = 10_000, max_bytes: int = 64 * 1024 * 1024) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        if max_bytes < 1:
            raise ValueError("max_bytes must be at least 1")
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        # key -> (monotonic expiry, value); order = recency of use, oldest first.
        self._entries: OrderedDict[str, tuple[float, bytes]] = OrderedDict()
        self._bytes = 0

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def held_bytes(self) -> int:
        """Bytes of keys and values held (what `max_bytes` bounds)."""
        return self._bytes

    async def get(self, key: str) -> bytes | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        expires_at, value = entry
        if expires_at <= time.monotonic():
            self._drop(key)
            return None
        self._entries.move_to_end(key)
        return value

    async def set(self, key: str, value: bytes, ttl_seconds: float) -> None:
        self._drop(key)
        if ttl_seconds <= 0 or _size(key, value) > self.max_bytes:
            return
        self._entries[key] = (time.monotonic() + ttl_seconds, value)
        self._bytes += _size(key, value)
        while len(self._entries) > self.max_entries or self._bytes > self.max_bytes:
            # Expired entries are not swept eagerly; LRU order evicts them first in practice
            # because an expired entry is one nobody has read since.
            old_key, (_, old_value) = self._entries.popitem(last=False)
            self._bytes -= _size(old_key, old_value)

    async def delete(self, key: str) -> None:
        self._drop(key)

    async def delete_prefix(self, prefix: str) -> int:
        doomed = [key for key in self._entries if key.startswith(prefix)]
        for key in doomed:
            self._drop(key)
        return len(doomed)

    def _drop(self, key: str) -> None:
        entry = self._entries.pop(key, None)
        if entry is not None:
            self._bytes -= _size(key, entry[1])


def _size(key: str, value: bytes) -> int:
    # Keys are short ASCII in practice; len() is their size closely enough for a memory bound.
    return len(key) + len(value)


class RedisCache:
    """Cache shared by every API replica; keys live under `prefix` and expire through Redis (PX).

    Through `breaker`: while Redis is unreachable every read misses and every write is dropped (the callers
    read the database instead), and both are counted as the cache's fallbacks.
    """

    def __init__(self, client: Redis, prefix: str, breaker: RedisBreaker | None = None) -> None:
        self._client = client
        self._prefix = prefix
        self._breaker = breaker if breaker is not None else RedisBreaker()

    async def get(self, key: str) -> bytes | None:
        value = await self._breaker.call("cache", lambda: self._client.get(self._prefix + key), None)
        return bytes(value) if value is not None else None

    async def set(self, key: str, value: bytes, ttl_seconds: float) -> None:
        if ttl_seconds <= 0:
            await self.delete(key)
            return
        # PX takes whole milliseconds and refuses 0; round sub-millisecond TTLs up rather than failing.
        ttl_ms = max(1, int(ttl_seconds * 1000))
        await self._breaker.call(
            "cache", lambda: self._client.set(self._prefix + key, value, px=ttl_ms), None
        )

    async def delete(self, key: str) -> None:
        await self._breaker.call("cache", lambda: self._client.delete(self._prefix + key), None)

    async def delete_prefix(self, prefix: str) -> int:
        """SCAN MATCH the prefix (its glob characters escaped) and UNLINK what each step found, each step one
        call through the breaker (bounded by its timeout however many keys there are). Stops when Redis stops
        answering: what is left expires within its TTL."""
        pattern = _glob_escape(self._prefix + prefix) + "*"
        deleted, cursor = 0, 0
        while True:
            step: tuple[int, int] | None = await self._breaker.call(
                "cache", partial(self._scan_unlink, cursor, pattern), None
            )
            if step is None:
                return deleted
            cursor, found = step
            deleted += found
            if not cursor:
                return deleted

    async def _scan_unlink(self, cursor: int, pattern: str) -> tuple[int, int]:
        cursor, keys = await self._client.scan(cursor=cursor, match=pattern, count=DELETE_BATCH)
        return int(cursor), int(await self._client.unlink(*keys)) if keys else 0


def _glob_escape(text: str) -> str:
    """`text` as a literal in a Redis MATCH pattern."""
    return "".join("\\" + ch if ch in "*?[]\\" else ch for ch in text)
