"""A connection's send buffer: messages waiting for the socket, bounded in number and in bytes.

Producers (the operations' pumps, the protocol replies) wait while it is full, so a client that reads slowly
slows down what is read for it: a catch-up reads its next page only when there is room, and a live subscriber
stops taking rows from the hub (whose bounded queue then sends it back to catching up through the stores:
nothing piles up in the hub). A row that waits for room longer than `stall_seconds` with no message written
meanwhile raises `Stalled`: the client does not read, and the connection closes it as a slow consumer (4408,
with the id to resume from). Memory per connection is bounded by the two limits (one message larger than the
byte limit still goes, alone). An item may carry several messages (`Outgoing.count`: a subscription's rows of
one ledger, handed over together); the bound counts messages, not items.
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass
from typing import Any


@dataclass(slots=True)
class Outgoing:
    """One message, or a batch of messages of one operation, with the operation and (last) row it carries (for
    the resume id of a slow consumer)."""

    data: bytes
    """The message; or, framed for the wire, the batch's messages (when the server takes frames as they are)."""
    operation: Any = None
    """The `connection.Operation` the message belongs to (skipped once the client stopped it)."""
    row_id: str | None = None
    messages: list[bytes] | None = None
    """A batch's messages, when the server frames them itself (`data` is then empty)."""
    count: int = 1
    """Messages in the item (what the buffer's message bound counts)."""

    @property
    def size(self) -> int:
        if self.messages is None:
            return len(self.data)
        return sum(len(message) for message in self.messages)


class Stalled(Exception):
    """Nothing was written for `stall_seconds` while a row waited for room in the send buffer."""


class Outbox:
    def __init__(self, max_messages: int, max_bytes: int) -> None:
        self.max_messages = max_messages
        self.max_bytes = max_bytes
        self._items: deque[Outgoing] = deque()
        self._bytes = 0
        self._count = 0
        self._ready = asyncio.Event()
        self._space = asyncio.Event()
        self._unfinished = 0
        self._idle: asyncio.Future[None] | None = None
        """Made by `drained` only (a slow consumer's close): not one more Event per connection."""

    def _full_for(self, count: int, size: int) -> bool:
        if not self._items:
            return False
        return self._count + count > self.max_messages or self._bytes + size > self.max_bytes

    async def put(self, item: Outgoing, stall_seconds: float | None = None) -> None:
        """Queue `item`, waiting while the buffer is full; with `stall_seconds`, raise `Stalled` when no queued
        message was taken for writing during that long a wait."""
        size = item.size
        while self._full_for(item.count, size):
            self._space.clear()
            try:
                await asyncio.wait_for(self._space.wait(), stall_seconds)
            except TimeoutError:
                raise Stalled from None
        self.put_nowait(item)

    def put_nowait(self, item: Outgoing) -> None:
        """Queue `item` whatever the bound (for a keep-alive, queued only when nothing else is)."""
        size = item.size
        self._items.append(item)
        self._bytes += size
        self._count += item.count
        self._unfinished += 1
        self._ready.set()

    async def get(self) -> Outgoing:
        while not self._items:
            self._ready.clear()
            await self._ready.wait()
        item = self._items.popleft()
        self._bytes -= item.size
        self._count -= item.count
        self._space.set()
        return item

    async def get_all(self) -> list[Outgoing]:
        """Every queued item (waiting for one): a writer hands them to the server in one send. Each is `done`
        once written."""
        while not self._items:
            self._ready.clear()
            await self._ready.wait()
        items = list(self._items)
        self._items.clear()
        self._bytes = self._count = 0
        self._space.set()
        return items

    def done(self) -> None:
        """The item last taken by `get` is written (or dropped)."""
        self._unfinished -= 1
        if self._unfinished <= 0:
            self._unfinished = 0
            if self._idle is not None and not self._idle.done():
                self._idle.set_result(None)

    async def drained(self) -> None:
        """Wait until every queued item is written."""
        if self._unfinished <= 0:
            return
        if self._idle is None or self._idle.done():
            self._idle = asyncio.get_running_loop().create_future()
        await asyncio.shield(self._idle)  # a timed-out wait must not cancel the future another waiter shares

    def __len__(self) -> int:
        return len(self._items)

    @property
    def busy(self) -> bool:
        """Items are queued, or taken and not yet `done` (being written)."""
        return bool(self._items) or self._unfinished > 0
