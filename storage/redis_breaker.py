"""A circuit breaker for Redis, shared by the cache, the rate limiter, pub/sub and the job queue of one process.

Redis may go away while the service runs (it was up at start-up: `open_backends` checks). Each use of Redis goes
through `RedisBreaker.call`: when Redis fails to answer (refused, reset, or silent beyond the client's socket
timeouts), the breaker opens and every use falls back at once (the cache misses and drops writes, the rate
limiter counts in this process, pub/sub publishing is skipped, enqueueing raises `QueueUnavailable`) for
`retry_seconds`; then one call probes Redis again, and its success closes the breaker. So a request never pays
more than one timeout per `retry_seconds` for the whole process, and Redis coming back is noticed without a
restart. The breaker logs on state changes only (not per request) and counts what it did for `/metrics`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import TypeVar

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

log = logging.getLogger("obsrvr_flow.redis")

T = TypeVar("T")

OUTAGE_ERRORS: tuple[type[BaseException], ...] = (
    RedisConnectionError,
    RedisTimeoutError,
    OSError,
    TimeoutError,
)
"""What says Redis is unreachable (a refused or dropped connection, a timeout), as opposed to a command Redis
refused (a `ResponseError`, which is a bug to surface, not an outage to ride out)."""

DEFAULT_RETRY_SECONDS = 3.0
REDIS_TIMEOUT_SECONDS = 1.0
"""Socket connect and read timeout of every Redis client the service builds: a hung Redis fails a call within
this time (and opens the breaker) instead of holding requests."""
CALL_TIMEOUT_SECONDS = 3 * REDIS_TIMEOUT_SECONDS
"""The longest one call through the breaker may take (a connect, a command and a reconnection)."""


class RedisBreaker:
    """Open (Redis skipped) after a failure, for `retry_seconds`; then one call probes again."""

    def __init__(self, retry_seconds: float = DEFAULT_RETRY_SECONDS) -> None:
        self.retry_seconds = retry_seconds
        self.available = True
        self.outages = 0  # times Redis became unreachable
        self.fallbacks: Counter[str] = Counter()  # calls answered without Redis, per component
        self._retry_at = 0.0

    def allows(self) -> bool:
        """Whether a call should try Redis now: always while it is available; once per `retry_seconds` while it
        is not (the caller that gets True is the probe; the others fall back)."""
        if self.available:
            return True
        now = time.monotonic()
        if now < self._retry_at:
            return False
        self._retry_at = now + self.retry_seconds
        return True

    def succeeded(self) -> None:
        if not self.available:
            self.available = True
            log.warning(
                "Redis is reachable again: cache, shared rate limits, pub/sub and the job queue resume"
            )

    def failed(self, component: str, exc: BaseException) -> None:
        self._retry_at = time.monotonic() + self.retry_seconds
        if self.available:
            self.available = False
            self.outages += 1
            log.warning(
                "Redis is unreachable (%s: %s, seen by the %s): the cache is skipped, rate limits count in this "
                "process, pub/sub publishing is skipped and jobs cannot be queued until it answers again "
                "(probed every %.0f s)",
                type(exc).__name__,
                exc,
                component,
                self.retry_seconds,
            )

    async def call(self, component: str, operation: Callable[[], Awaitable[T]], fallback: T) -> T:
        """`await operation()` through the breaker; `fallback` (counted for `component`) when Redis is skipped
        or unreachable."""
        if self.allows():
            try:
                # Also bounded here: not every client has socket timeouts (arq's pool, which the worker's
                # publishing uses, has none).
                async with asyncio.timeout(CALL_TIMEOUT_SECONDS):
                    result = await operation()
            except OUTAGE_ERRORS as exc:
                self.failed(component, exc)
            else:
                self.succeeded()
                return result
        self.fallbacks[component] += 1
        return fallback
