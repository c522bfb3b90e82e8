"""Requests-per-minute limits on the `limits` library (moving window).

The moving window is exact: a key that made `per_minute` hits in the last 60 seconds is refused until the
oldest of them leaves the window, with no burst at a fixed-window boundary. With Redis every API replica
counts in the same window, which is the point of running the limiter there.

While Redis is unreachable (`storage.redis_breaker`) the Redis limiter counts in this process instead (the
embedded mode's limiter): each replica then allows the tenant's full limit on its own, which is the price of
serving reads through the outage. When Redis answers again, the shared window is used again. That fallback
counts in a sliding window of two fixed-minute counters (limits' sliding window counter) rather than the moving
window, which keeps one entry per hit: a tenant allowed a million requests a minute would otherwise hold tens of
megabytes per replica through an outage. It is approximate (the previous minute's count weighted by how much of
it is still in the window), which is good enough while Redis is down.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from limits import RateLimitItemPerMinute
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter, SlidingWindowCounterRateLimiter

from storage.redis_breaker import REDIS_TIMEOUT_SECONDS, RedisBreaker


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

    def __init__(
        self,
        storage: Storage,
        *,
        owned_pool: Any = None,
        breaker: RedisBreaker | None = None,
        counters: bool = False,
    ) -> None:
        self._storage = storage
        # `counters`: a sliding window of two counters per key (constant memory, approximate) instead of the
        # exact moving window (one entry per hit in the last minute).
        self._strategy: MovingWindowRateLimiter | SlidingWindowCounterRateLimiter = (
            SlidingWindowCounterRateLimiter(storage) if counters else MovingWindowRateLimiter(storage)
        )
        self._owned_pool = owned_pool
        # With Redis: the breaker it goes through, and the in-process limiter used while Redis is unreachable.
        self._breaker = breaker
        self._fallback = RateLimiter.memory(counters=True) if breaker is not None else None

    @classmethod
    def memory(cls, *, counters: bool = False) -> RateLimiter:
        """Counts in this process only (the embedded mode, tests, or the Redis limiter's fallback, which counts
        with `counters`)."""
        return cls(MemoryStorage(), counters=counters)

    @classmethod
    def redis(cls, url: str, prefix: str, breaker: RedisBreaker | None = None) -> RateLimiter:
        """Counts in Redis at `url`, keys under `prefix` (limits adds ':' and its own key), or in this process
        while `breaker` says Redis is unreachable.

        Nothing connects until the first hit.
        """
        from redis.asyncio import ConnectionPool

        uri = _limits_uri(url)
        # Our own pool, so that close() can release it: limits' storage has no close of its own.
        pool = ConnectionPool.from_url(
            url, socket_connect_timeout=REDIS_TIMEOUT_SECONDS, socket_timeout=REDIS_TIMEOUT_SECONDS
        )
        options: dict[str, Any] = {"connection_pool": pool}
        storage = RedisStorage(uri, implementation="redispy", key_prefix=prefix, **options)
        return cls(storage, owned_pool=pool, breaker=breaker if breaker is not None else RedisBreaker())

    async def hit(self, key: str, per_minute: int) -> RateDecision:
        """Count one request for `key` against `per_minute`; a refused request is not counted."""
        if per_minute < 1:
            raise ValueError("per_minute must be at least 1")
        if self._breaker is None or self._fallback is None:
            return await self._hit(key, per_minute)
        decision = await self._breaker.call("rate_limiter", lambda: self._hit(key, per_minute), None)
        return decision if decision is not None else await self._fallback.hit(key, per_minute)

    async def _hit(self, key: str, per_minute: int) -> RateDecision:
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
        if self._fallback is not None:
            await self._fallback.close()
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
