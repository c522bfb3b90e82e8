"""One subscriber of a group: its position, its live queue and the catch-up buffer in front of it.

A `Member`'s stream is an async generator (`SubscriptionHub` drives it): first the stored rows after its
position read page by page through the query router, then what the group handed it while it read (`buffer`),
then the live rows (`queue`). Every row handed over passes `offer`, which drops a row at or before the member's
tail (the newest id it has read or queued), so nothing comes twice and the order holds across the switch.

A live queue that would overflow (a consumer behind, or one message carrying more rows than the bound: a big
ledger) is dropped and the member goes back to catching up from its position: rows are committed before they
are published, so the router has every dropped row, and the switch back to live is the usual gap-free one.
The hub never ends a stream for slowness; the transport's send buffer decides when a client is too slow.

**Written through.** A member whose consumer registered a `Writer` (the WebSocket transport does) and that is
idle (live, nothing queued, its consumer parked in `wait` with every row it took already handed on) can have a
batch written to its client by the hub itself (`SubscriptionHub`, once per share group): no wake-up, no task
step, no generator chain per member. `idle` says when; `wrote` moves its position and tail past the batch, so
later offers, repairs and the catch-up's switch treat those rows as taken.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Hashable, Sequence
from typing import Any, Protocol

Row = dict[str, Any]


class Writer(Protocol):
    """What writes a member's rows to its client without waking its consumer (the WebSocket transport's
    `api.graphql_ws.operations.WriteThrough`). Members whose writers have the same `share` (not None) get the
    same encoding of a batch: the hub encodes once per share and hands that to each member's `write`."""

    @property
    def share(self) -> Hashable | None: ...

    async def encode(self, rows: list[Row]) -> Any | None:
        """The rows made ready for `write` (None: not shareable; they then go the usual way, per member)."""

    def write(self, encoded: Any) -> bool:
        """Written to the client in this call (True), or nothing done (False: the member is offered the rows)."""


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
        self.writer: Writer | None = None
        """Set by a consumer that lets the hub write its rows through (see the module docstring)."""

    @property
    def parked(self) -> bool:
        """Live, and its consumer waits in `wait` for rows."""
        waiter = self._waiter
        return waiter is not None and not waiter.done() and not self.catching_up and not self.closed

    def idle(self, rows: Sequence[Row]) -> bool:
        """Whether `rows` (new, in id order) may be written through now: a writer, live, nothing queued, and the
        consumer parked in `wait` (so every row it took has been handed on: nothing of it is still in flight
        that these rows could overtake). A member still catching up keeps buffering."""
        # `parked` spelled out: this runs twice per member and message in the hub's fan-out.
        waiter = self._waiter
        return (
            waiter is not None
            and self.writer is not None
            and not waiter.done()
            and not self.catching_up
            and not self.closed
            and not self.queue
            and 0 < len(rows) <= self.limit  # the queue's bound holds for what is written through too
            and rows[0]["id"] > self.tail
        )

    def wrote(self, rows: Sequence[Row]) -> None:
        """`rows` reached the client through the writer: as if taken (the consumer stays parked)."""
        self.position = self.tail = rows[-1]["id"]

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
