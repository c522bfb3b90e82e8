"""The cyclic garbage collector's full collections in a process serving subscriptions: right after a fan-out.

A serving process holds every connection's objects (uvicorn's protocol, the scope, the tasks, the operation's
stream: ~55 KiB per idle subscription), and a full collection walks them all with the event loop stopped: at
1,000 subscribers ~140 ms on an idle machine, ~1 s at load 8 (`bench/subscriptions.py`: the ledger whose fan-out
met one had every subscriber's rows that much later, which was the run's p99). CPython starts one when enough
objects survived younger collections, whenever that is, and a fan-out, which allocates the most, is where it
tends to land. The start-up heap is already out of its reach (`obsrvr_flow.wiring.freeze_heap_after_startup`);
the connections cannot be (a frozen cycle is never freed).

So while the hub has channels open, `QuietCollector` raises the oldest generation's threshold (CPython then never
starts a full collection itself; the young and middle ones, milliseconds each, run as before) and runs the full
collection itself `QUIET_SECONDS` after the last message of a burst (every channel's message of one ledger: the
next ledger is seconds away), once it is due: as many middle collections since the last full one as CPython's own
threshold asks for, and at least `MIN_SECONDS` since it. Should no message come (nothing published), the hub's
resync loop runs it when `OVERDUE_SECONDS` passed, so cyclic garbage is still freed.
"""

from __future__ import annotations

import asyncio
import gc
import time

HELD_THRESHOLD = 1 << 30
"""The oldest generation's threshold while the hub runs full collections (CPython never reaches it)."""
QUIET_SECONDS = 0.25
"""How long after a burst's last message the collection runs: the fan-out's writes have gone out by then."""
MIN_SECONDS = 60.0
"""At most one full collection per this long (each walks every connection's objects)."""
OVERDUE_SECONDS = 300.0
"""With no message to follow, a due full collection runs from the resync loop after this long."""


class QuietCollector:
    """See the module docstring. `hold` when the first channel opens, `release` when the last one closes."""

    def __init__(self, min_seconds: float = MIN_SECONDS, overdue_seconds: float = OVERDUE_SECONDS) -> None:
        self.min_seconds = min_seconds
        self.overdue_seconds = overdue_seconds
        self.collections = 0
        """Full collections run here (for tests and metrics)."""
        self._threshold: int | None = None
        """CPython's oldest-generation threshold before `hold` (None: not holding)."""
        self._last = time.monotonic()
        """When this collector last ran a full collection (or was made): not reset by `hold`, so that channels
        closing and reopening within `min_seconds` do not keep putting the next one off."""
        self._timer: asyncio.TimerHandle | None = None

    @property
    def holding(self) -> bool:
        return self._threshold is not None

    def hold(self) -> None:
        if self._threshold is not None:
            return
        young, middle, old = gc.get_threshold()
        self._threshold = old
        gc.set_threshold(young, middle, HELD_THRESHOLD)

    def release(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._threshold is None:
            return
        young, middle, old = gc.get_threshold()
        if (
            old == HELD_THRESHOLD
        ):  # not changed meanwhile (an ingestion's tuning in the same process keeps its own)
            gc.set_threshold(young, middle, self._threshold)
        self._threshold = None

    def due(self, now: float) -> bool:
        threshold = self._threshold
        return (
            threshold is not None
            and gc.isenabled()
            and gc.get_count()[2] >= threshold
            and now - self._last >= self.min_seconds
        )

    def after_message(self) -> None:
        """A message was dispatched: the collection, when due, runs `QUIET_SECONDS` after the burst's last."""
        if self._threshold is None:
            return
        if self._timer is not None:
            self._timer.cancel()
        self._timer = asyncio.get_running_loop().call_later(QUIET_SECONDS, self._quiet)

    def overdue(self) -> None:
        """From the resync loop: the collection, when due and no message brought it for `overdue_seconds`."""
        now = time.monotonic()
        if self.due(now) and now - self._last >= self.overdue_seconds:
            self._collect(now)

    def _quiet(self) -> None:
        self._timer = None
        now = time.monotonic()
        if self.due(now):
            self._collect(now)

    def _collect(self, now: float) -> None:
        gc.collect()
        self.collections += 1
        self._last = now
