"""Live rows written to the socket by the subscription hub itself (`operations.WriteThrough`,
`Connection.write_through`), the operation's task staying parked: every row once and in id order, and none
written once a slow consumer's close has fixed its resume id.

Real store (mainnet ledgers, PostgreSQL), real `IngestEngine` commits through the real publisher hook, the real
hub, schema, operation pump (`operations.stream_rows`) and `Connection`. What stands in is only the server's
side of the socket (uvicorn's protocol under `obsrvr-flow serve`): `ServerSocket` records the frames its
synchronous `write_now` takes and can hold a close frame, so the tests drive the code paths in a fixed order
rather than relying on timing."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import orjson
import pytest

from api.graphql_ws.connection import Connection, Operation
from api.graphql_ws.messages import FRAMES_EXTENSION, TRANSPORT_WS, WRITE_NOW
from api.graphql_ws.operations import stream_rows
from core.settings import Settings
from resolvers.context import RequestContext
from services.subscriptions import SubscriptionHub
from storage.pubsub import MemoryPubSub
from tests.mainnet_data import FULL
from tests.schema.test_subscriptions import TRANSFERS_DOC, Scoped, all_schema, start
from tests.services.subscriptions.conftest import KEPT, Ledgers, until
from tests.services.subscriptions.conftest import pg_ledgers as pg_ledgers  # the fixture, used by name


@dataclass
class ServerSocket:
    """The server's side of one WebSocket as `Connection` sees it (uvicorn's protocol under `serve`): raw frames
    written in the call by `write_now`, and a close that waits for `release` (the close frame going out)."""

    frames: list[bytes] = field(default_factory=list)
    sent: list[dict[str, Any]] = field(default_factory=list)
    close_reason: str | None = None
    release: asyncio.Event = field(default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        extension = {"raw": True, WRITE_NOW: self.write_now}
        self.scope: dict[str, Any] = {"type": "websocket", "extensions": {FRAMES_EXTENSION: extension}}

    def write_now(self, data: bytes) -> bool:
        self.frames.append(data)
        return True

    async def send(self, message: dict[str, Any]) -> None:
        self.sent.append(message)

    async def close(self, code: int, reason: str) -> None:
        self.close_reason = reason
        await self.release.wait()

    def row_ids(self) -> list[str]:
        """The ``extensions.id`` of every ``next`` message in the frames written, in order."""
        data = b"".join(self.frames)
        ids: list[str] = []
        while data:
            size, start = data[1] & 0x7F, 2
            if size == 126:
                size, start = int.from_bytes(data[2:4], "big"), 4
            elif size == 127:
                size, start = int.from_bytes(data[2:10], "big"), 10
            message = orjson.loads(data[start : start + size])
            assert message["id"] == "1" and message["type"] == "next"
            ids.append(message["payload"]["extensions"]["id"])
            data = data[start + size :]
        return ids


@dataclass
class Subscribed:
    hub: SubscriptionHub
    pubsub: MemoryPubSub
    socket: ServerSocket
    conn: Connection
    operation: Operation


@contextlib.asynccontextmanager
async def pumped(
    pg_ledgers: Ledgers, hub: SubscriptionHub, settings: Settings
) -> AsyncIterator[tuple[ServerSocket, Connection, Operation]]:
    """One graphql-transport-ws subscription of every transfer of the full tenant on `hub`, live from "now" (the
    store holds the ledgers up to `KEPT`), its rows pumped to a `Connection` over a `ServerSocket`."""
    socket = ServerSocket()
    conn = Connection(socket, TRANSPORT_WS, SimpleNamespace(settings=settings))  # type: ignore[arg-type]
    ctx = RequestContext(
        router=pg_ledgers.router,
        tenant_id=FULL,
        network="pubnet",
        principal=Scoped(("read:*",)),  # type: ignore[arg-type]
        configs={},
        request_id="test",
        live=hub,
    )
    started = await start(all_schema(), ctx, TRANSFERS_DOC)
    operation = Operation("1", subscription=True)
    conn.operations[operation.id] = operation
    pump = asyncio.create_task(stream_rows(conn, operation, started, "test"))
    try:
        yield socket, conn, operation
    finally:
        pump.cancel()
        await asyncio.gather(pump, return_exceptions=True)
        await hub.close()


@pytest.fixture
async def subscribed(pg_ledgers: Ledgers) -> AsyncIterator[Subscribed]:
    """`pumped` on a hub of its own."""
    settings = pg_ledgers.settings(subscription_send_buffer_messages=100_000)  # a ledger is ~1,000 rows
    pubsub = MemoryPubSub(max_pending=100_000)
    hub = SubscriptionHub(pubsub, pg_ledgers.router, settings)
    async with pumped(pg_ledgers, hub, settings) as (socket, conn, operation):
        yield Subscribed(hub, pubsub, socket, conn, operation)


async def test_live_rows_are_written_through_by_the_hub_once_and_in_order(
    pg_ledgers: Ledgers, subscribed: Subscribed
) -> None:
    hub, socket = subscribed.hub, subscribed.socket
    for ledger in (KEPT + 1, KEPT + 2, KEPT + 3):
        await until(lambda: hub.parked_subscribers == 1)  # its consumer waits: the hub may write through
        await pg_ledgers.ingest(FULL, ledger, ledger, subscribed.pubsub)
        expected = pg_ledgers.ids(FULL, KEPT + 1, ledger)
        await until(lambda: len(socket.row_ids()) >= len(expected))  # noqa: B023 (awaited in this iteration)
        assert socket.row_ids() == expected
    assert hub.written_through == 3  # every ledger from the dispatch: the operation's task never took a row
    assert subscribed.operation.written == pg_ledgers.ids(FULL, KEPT + 3, KEPT + 3)[-1]
    assert not socket.sent and not subscribed.conn.outbox.busy


async def test_no_row_is_written_through_once_a_slow_consumer_close_fixed_its_resume_id(
    pg_ledgers: Ledgers, subscribed: Subscribed
) -> None:
    hub, socket, conn, operation = subscribed.hub, subscribed.socket, subscribed.conn, subscribed.operation
    await until(lambda: hub.parked_subscribers == 1)
    await pg_ledgers.ingest(FULL, KEPT + 1, KEPT + 1, subscribed.pubsub)
    first = pg_ledgers.ids(FULL, KEPT + 1, KEPT + 1)
    await until(lambda: len(socket.row_ids()) >= len(first))
    await until(lambda: hub.parked_subscribers == 1)
    assert hub.written_through == 1

    # The transport's stall watch closes the client as a slow consumer (as `Connection._stalled` does): the
    # resume id is fixed from what was written, and the close frame is held going out.
    closing = asyncio.create_task(conn.slow_consumer(operation, operation.written or operation.after))
    await until(lambda: socket.close_reason is not None)
    assert socket.close_reason == f"slow_consumer after={first[-1]} id=1"

    # A ledger committed now reaches the hub while the consumer is parked: the hub must not write it through
    # (the client would get those rows again when it resumes after the named id). It offers them to the
    # member instead; the operation's task takes them and queues them behind the close (never written).
    await pg_ledgers.ingest(FULL, KEPT + 2, KEPT + 2, subscribed.pubsub)
    await until(lambda: hub.written_through > 1 or (conn.outbox.busy and hub.parked_subscribers == 1))
    assert hub.written_through == 1
    assert socket.row_ids() == first
    assert operation.written == first[-1]
    assert len(conn.outbox) == 1  # the second ledger's rows, queued behind the close
    socket.release.set()
    await closing
    assert socket.row_ids() == first
