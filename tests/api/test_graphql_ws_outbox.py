"""The WebSocket send buffer (`api.graphql_ws.outbox`): bounded in messages and in bytes, and a row that waits
for room with nothing written meanwhile is `Stalled` (the connection then closes the client 4408 as a slow
consumer), while one whose buffer keeps draining waits as long as it takes."""

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


async def test_a_batch_counts_as_its_messages_against_the_bound() -> None:
    outbox = Outbox(max_messages=4, max_bytes=1 << 20)
    await outbox.put(Outgoing(b"", messages=[b"1", b"2", b"3"], count=3), 0.01)
    await outbox.put(Outgoing(b"4"), 0.01)  # 3 + 1: full
    with pytest.raises(Stalled):
        await outbox.put(Outgoing(b"", messages=[b"5", b"6"], count=2), 0.01)
    assert [item.count for item in await outbox.get_all()] == [3, 1]
    # Alone, a batch over the bound still goes (as one message larger than the byte bound does).
    await outbox.put(Outgoing(b"", messages=[b"x"] * 9, count=9), 0.01)
    assert len(outbox) == 1


async def test_the_buffer_is_bounded_in_bytes_too() -> None:
    outbox = Outbox(max_messages=100, max_bytes=10)
    await outbox.put(Outgoing(b"12345678"), 0.01)
    with pytest.raises(Stalled):  # 8 + 8 bytes: over the byte bound, far under the message bound
        await outbox.put(Outgoing(b"abcdefgh"), 0.01)
    await outbox.put(Outgoing(b"", messages=[b"x", b"y"], count=2), 0.01)  # a batch's bytes: 8 + 2 fit
    assert len(outbox) == 2
    await outbox.get_all()
    await outbox.put(Outgoing(b"z" * 64), 0.01)  # alone, a message larger than the byte bound still goes
    assert len(outbox) == 1


async def test_drained_waits_for_every_taken_item_to_be_written() -> None:
    outbox = Outbox(max_messages=10, max_bytes=1 << 20)
    await asyncio.wait_for(outbox.drained(), 1)  # nothing queued: at once
    await outbox.put(Outgoing(b"1"))
    await outbox.put(Outgoing(b"2"))
    waiting = asyncio.create_task(outbox.drained())
    items = await outbox.get_all()
    outbox.done()
    await asyncio.sleep(0.01)
    assert not waiting.done()  # one of the two still being written
    with pytest.raises(TimeoutError):  # a timed-out waiter leaves the others' wait intact
        await asyncio.wait_for(outbox.drained(), 0.01)
    outbox.done()
    await asyncio.wait_for(waiting, 1)
    assert len(items) == 2


async def test_busy_while_items_are_queued_or_taken_and_not_done() -> None:
    # The connection writes a subscriber's rows from the operation's task only when the outbox is not busy:
    # a row written then must not overtake one queued or still being written.
    outbox = Outbox(max_messages=4, max_bytes=1 << 20)
    assert not outbox.busy
    await outbox.put(Outgoing(b"1"))
    assert outbox.busy  # queued
    await outbox.get_all()
    assert outbox.busy  # taken, not yet written
    outbox.done()
    assert not outbox.busy
