"""One subscriber of a group: its position, its live queue and the catch-up buffer in front of it.

A `Member`'s stream is an async generator (`SubscriptionHub` drives it): first the stored rows after its
position read page by page through the query router, then what the group handed it while it read (`buffer`),
then the live rows (`queue`). Every row handed over passes `offer`, which drops a row at or before the member's
tail (the newest id it has read or queued), so nothing comes twice and the order holds across the switch.

A live queue that would overflow (a consumer behind, or one message carrying more rows than the bound: a big
ledger) is dropped and the member goes back to catching up from its position: rows are committed before they
are published, so the router has every dropped row, and the switch back to live is the usual gap-free one.
The hub never ends a stream for slowness; the transport's send buffer decides when a client is too slow.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Sequence
from typing import Any

Row = dict[str, Any]


class Member:
    """A subscriber. `position`: the id of the last row its consumer took; `tail`: the newest id it holds
    (taken, queued or read); `catching_up`: rows go to `buffer` (bounded; discarded when full, the catch-up
    then rereads them) until the catch-up is done, then to `queue` (bounded: what would overflow it sends the
    member back to catching up from `position`, see the module docstring)."""

    def __init__(self, position: str, limit: int) -> None:
        self.position = position
        self.tail = position
        self.limit = limit
        self.catching_up = True
        self.buffer: list[Row] = []
        self.discards = 0
        """How often the catch-up buffer was thrown away (the catch-up reads again after that)."""
        self.queue: deque[Row] = deque()
        self.fallbacks = 0
        """How often the live queue would have overflowed and the member went back to catching up."""
        self.closed = False
        self._waiter: asyncio.Future[None] | None = None
        """Made by `wait` only while the consumer waits: an idle subscriber holds no Event (less per member)."""

    def offer(self, rows: Sequence[Row]) -> None:
        """Rows matched for this member's group, in id order (see the class docstring)."""
        if self.closed:
            return
        if self.catching_up:
            self.buffer.extend(rows)
            if len(self.buffer) > self.limit:
                self.buffer.clear()
                self.discards += 1
            return
        if not rows:
            return
        # Usually every row is new (a message after the last): hand the group's list on without a copy.
        fresh = rows if rows[0]["id"] > self.tail else [row for row in rows if row["id"] > self.tail]
        if not fresh:
            return
        if len(self.queue) + len(fresh) > self.limit:
            # Back to catching up after the last row taken: the queued and offered rows are all in the stores.
            self.queue.clear()
            self.tail = self.position
            self.catching_up = True
            self.fallbacks += 1
        else:
            self.queue.extend(fresh)
            self.tail = fresh[-1]["id"]
        self._wake()

    def go_live(self, caught_up_to: str) -> None:
        """End the catch-up at `caught_up_to` (the last id it read): the buffered rows after it become the
        start of the queue. Synchronous, so no row is handed over between the two steps."""
        self.tail = max(self.tail, caught_up_to)
        self.catching_up = False
        buffered, self.buffer = self.buffer, []
        buffered.sort(key=lambda row: row["id"])
        self.offer(buffered)

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    async def wait(self) -> None:
        """Until rows are offered, the member falls back to catching up, or it is closed."""
        self._waiter = asyncio.get_running_loop().create_future()
        try:
            await self._waiter
        finally:
            self._waiter = None

    def close(self) -> None:
        self.closed = True
        self._wake()

    def take_ready(self) -> list[Row]:
        """Every queued live row at once (empty while catching up): the rest of a ledger after `take`'s row."""
        if self.catching_up or not self.queue:
            return []
        rows = list(self.queue)
        self.queue.clear()
        self.position = rows[-1]["id"]
        return rows

    def take(self) -> Row | None:
        """The next live row, None when there is none yet (or when the member went back to catching up)."""
        if not self.queue:
            return None
        row = self.queue.popleft()
        self.position = row["id"]
        return row
