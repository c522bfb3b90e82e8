"""Requests-per-minute limits on the `limits` library (moving window).

The moving window is exact: a key that made `per_minute` hits in the last 60 seconds is refused until the
oldest of them leaves the window, with no burst at a fixed-window boundary. With Redis every API replica
counts in the same window, which is the point of running the limiter there.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from limits import RateLimitItemPerMinute
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter


@dataclass(frozen=True)
class RateDecision:
    """The outcome of one hit: whether it is allowed and what to put in the `X-RateLimit-*` headers.

    `reset_after_seconds` is how long until the oldest hit in the window expires, i.e. until a refused
    key may send one more request.
    """

    allowed: bool
    limit: int
    remaining: int
    reset_after_seconds: float


class RateLimiter:
    """A per-key, per-minute request limit. Build with `RateLimiter.memory()` or `RateLimiter.redis(...)`."""

    def __init__(self, storage: Storage, *, owned_pool: Any = None) -> None:
        self._storage = storage
        self._strategy = MovingWindowRateLimiter(storage)
        self._owned_pool = owned_pool

    @classmethod
    def memory(cls) -> RateLimiter:
        """Counts in this process only (the embedded mode, or tests)."""
        return cls(MemoryStorage())

    @classmethod
    def redis(cls, url: str, prefix: str) -> RateLimiter:
        """Counts in Redis at `url`, keys under `prefix` (limits adds ':' and its own key).

        Nothing connects until the first hit.
        """
        from redis.asyncio import ConnectionPool

        uri = _limits_uri(url)
        # Our own pool, so that close() can release it: limits' storage has no close of its own.
        pool = ConnectionPool.from_url(url)
        options: dict[str, Any] = {"connection_pool": pool}
        storage = RedisStorage(uri, implementation="redispy", key_prefix=prefix, **options)
        return cls(storage, owned_pool=pool)

    async def hit(self, key: str, per_minute: int) -> RateDecision:
        """Count one request for `key` against `per_minute`; a refused request is not counted."""
        if per_minute < 1:
            raise ValueError("per_minute must be at least 1")
        item = RateLimitItemPerMinute(per_minute)
        allowed = await self._strategy.hit(item, key)
        reset_at, remaining = await self._strategy.get_window_stats(item, key)
        return RateDecision(
            allowed=allowed,
            limit=per_minute,
            remaining=max(0, remaining),
            reset_after_seconds=max(0.0, reset_at - time.time()),
        )

    async def close(self) -> None:
        if self._owned_pool is not None:
            await self._owned_pool.aclose()
            self._owned_pool = None
        elif isinstance(self._storage, MemoryStorage):
            # MemoryStorage keeps a background expiry task; cancel it rather than leave it to __del__.
            timer = self._storage.timer
            if timer is not None and not timer.done():
                timer.cancel()


def _limits_uri(url: str) -> str:
    """`limits` names its async Redis storages `async+redis://`, `async+rediss://`, `async+redis+unix://`."""
    if url.startswith("unix://"):
        return "async+redis+unix://" + url.removeprefix("unix://")
    if url.startswith(("redis://", "rediss://")):
        return "async+" + url
    raise ValueError(f"not a Redis URL: {url.split('://', 1)[0]}://...")
