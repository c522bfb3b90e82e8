"""The contract every ledger source honours, and the retry policy they share."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import AsyncGenerator, Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol, TypeVar, runtime_checkable

from .errors import SourceUnavailable

log = logging.getLogger(__name__)

T = TypeVar("T")

# Jitter from a generator of our own: the module's shared one stays untouched (a program's or a test's seeded
# sequence is not shifted by our retries, and Hypothesis does not see it used from another thread mid-draw).
_RNG = random.Random()  # noqa: S311 - jitter, not cryptography


@runtime_checkable
class LedgerSource(Protocol):
    """Where ledgers come from: a galexie datastore, Stellar RPC, or fixture files.

    `ledgers(start, end)` yields `(sequence, raw)` in ascending sequence order, where `raw` is the XDR of
    one `LedgerCloseMeta` (never a batch). `end` is inclusive; `end=None` follows the network's tip,
    polling for new ledgers until the caller stops iterating. Implementations are async generators, so
    close them when leaving early (`async with contextlib.aclosing(source.ledgers(...)) as it:`) to cancel
    any prefetch at once instead of when the generator is garbage collected.
    """

    @property
    def network_passphrase(self) -> str | None:
        """The network passphrase the source declares, or None when it cannot tell (fixture files)."""
        ...

    def ledgers(self, start: int, end: int | None) -> AsyncGenerator[tuple[int, bytes], None]:
        """Yield `(sequence, LedgerCloseMeta XDR)` for `start..end` (inclusive) in order."""
        ...

    async def latest_sequence(self) -> int | None:
        """The newest ledger the source can serve now, or None when finding out is not cheap."""
        ...

    async def close(self) -> None:
        """Release connections and files; the source is unusable afterwards."""
        ...


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with full jitter for transient failures.

    `attempts` counts every try (1 = no retry). The delay before retry `n` (1-based) is uniform in
    `[0, min(max_delay, base_delay * 2**(n-1))]`: jitter keeps many workers that failed together from
    hammering the store together again.
    """

    attempts: int = 6
    base_delay: float = 0.25
    max_delay: float = 20.0

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError("RetryPolicy.attempts must be at least 1")

    def delay(self, retry: int) -> float:
        cap = min(self.max_delay, self.base_delay * (2 ** (retry - 1)))
        return _RNG.uniform(0, cap)


async def retrying(
    call: Callable[[], Awaitable[T]],
    *,
    policy: RetryPolicy,
    transient: tuple[type[BaseException], ...],
    what: str,
) -> T:
    """Run `call`, retrying on `transient` errors with `policy`; anything else propagates at once.

    After the last attempt the error becomes `SourceUnavailable` naming `what` (e.g. the object key), so
    the operator sees which request kept failing, not only the last socket error.
    """
    for attempt in range(1, policy.attempts + 1):
        try:
            return await call()
        except transient as exc:
            if attempt == policy.attempts:
                raise SourceUnavailable(
                    f"{what}: still failing after {policy.attempts} attempts: {_first_line(exc)}"
                ) from exc
            delay = policy.delay(attempt)
            log.warning(
                "%s failed (attempt %d/%d), retrying in %.2fs: %s",
                what,
                attempt,
                policy.attempts,
                delay,
                _first_line(exc),
            )
            await asyncio.sleep(delay)
    raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises


def _first_line(exc: BaseException) -> str:
    # obstore errors carry a multi-line debug dump; the first line says what happened.
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"
