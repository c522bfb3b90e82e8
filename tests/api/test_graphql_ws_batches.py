"""Rows encoded once per group of subscribers with the same results (`api.graphql_ws.batches`,
`operations.encoded_batch`): the frames spliced with each operation's id are exactly the WebSocket frames the
`websockets` library makes of the same messages, and subscribers share a batch only within the same readable
processors (the per-field scope check's outcome), executed on real mainnet rows."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest
from websockets.frames import Frame, Opcode

from api.graphql_ws.batches import EncodedBatch
from api.graphql_ws.operations import BATCHES, encoded_batch
from tests.schema.test_subscriptions import TRANSFERS_DOC, Live, all_schema, start
from tests.schema.test_subscriptions import live as live  # the fixture, used by name

HEADS = [b'{"id":"1","type":"next","payload":', b'{"id":"' + b"f" * 36 + b'","type":"data","payload":']


def _websockets_frames(messages: list[bytes]) -> bytes:
    return b"".join(Frame(Opcode.TEXT, m).serialize(mask=False, extensions=[]) for m in messages)


@pytest.mark.parametrize("sizes", [[1], [40, 80, 84, 85, 86, 200], [65_400, 65_497, 65_498, 70_000], []])
def test_spliced_frames_are_the_frames_websockets_makes(sizes: list[int]) -> None:
    payloads = [orjson.dumps({"data": "x" * size}) for size in sizes]  # around the 126 and 65,536 lengths
    batch = EncodedBatch(payloads, tuple(str(n) for n in range(len(sizes))))
    for _ in range(2):  # the second time from the kept layouts
        for head in HEADS:
            messages = batch.messages(head)
            assert [orjson.loads(m)["payload"] for m in messages] == [orjson.loads(p) for p in payloads]
            assert batch.frames(head) == _websockets_frames(messages)


async def _rows(stream: Any, count: int) -> list[Any]:
    rows: list[Any] = []
    while len(rows) < count:
        rows += await stream.next_rows()
    return rows[:count]


@pytest.fixture
async def streams(live: Live) -> AsyncIterator[list[Any]]:
    schema = all_schema()
    after = live.ids[1050]
    opened = [
        await start(schema, live.context(), TRANSFERS_DOC, after=after),
        await start(schema, live.context(), TRANSFERS_DOC, after=after),
        await start(schema, live.context(scopes=("read:token_transfers",)), TRANSFERS_DOC, after=after),
    ]
    try:
        yield opened
    finally:
        for stream in opened:
            await stream.aclose()


async def test_subscribers_with_the_same_results_share_one_batch_within_their_scopes(
    live: Live,
    streams: list[Any],
) -> None:
    before = BATCHES.executions
    rows = [await _rows(stream, 5) for stream in streams]
    assert rows[0] == rows[1] == rows[2] and [r["id"] for r in rows[0]] == live.ids[1051:1056]
    first, same, narrower = [
        await encoded_batch(stream, stream_rows, "req")
        for stream, stream_rows in zip(streams, rows, strict=True)
    ]
    assert same is first  # executed and encoded once for both
    assert narrower is not first  # another set of readable processors: its own execution
    assert BATCHES.executions - before == 2
    assert first.row_ids == tuple(live.ids[1051:1056])
    for batch in (first, narrower):
        bodies = [orjson.loads(p) for p in batch.payloads]
        assert [b["extensions"]["id"] for b in bodies] == live.ids[1051:1056]
        assert [b["data"]["onTokenTransfer"]["id"] for b in bodies] == live.ids[1051:1056]
    assert not any("errors" in orjson.loads(p) for p in first.payloads)
