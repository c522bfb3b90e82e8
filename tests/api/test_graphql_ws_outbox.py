"""The WebSocket send buffer (`api.graphql_ws.outbox`): bounded in messages, and a row that waits for room with
nothing written meanwhile is `Stalled` (the connection then closes the client 4408 as a slow consumer), while
one whose buffer keeps draining waits as long as it takes."""

from __future__ import annotations

import asyncio

import pytest

from api.graphql_ws.outbox import Outbox, Outgoing, Stalled


async def test_a_row_waiting_while_nothing_is_written_is_stalled() -> None:
    outbox = Outbox(max_messages=2, max_bytes=1 << 20)
    await outbox.put(Outgoing(b"1"), 0.01)
    await outbox.put(Outgoing(b"2"), 0.01)
    with pytest.raises(Stalled):
        await outbox.put(Outgoing(b"3"), 0.01)  # nobody takes anything: the client does not read
    assert len(outbox) == 2


async def test_a_row_waiting_while_the_buffer_drains_is_queued() -> None:
    outbox = Outbox(max_messages=2, max_bytes=1 << 20)
    written: list[bytes] = []

    async def writer() -> None:
        while len(written) < 50:
            item = await outbox.get()
            written.append(item.data)
            outbox.done()

    task = asyncio.create_task(writer())
    for n in range(50):  # each put waits for room while the writer makes progress: never stalled
        await outbox.put(Outgoing(str(n).encode()), 10)
    await task
    assert written == [str(n).encode() for n in range(50)]
