"""Subscriptions end to end with independent clients (`gql`'s WebSocket transport, and the `websockets` library
where a close reason is read): real `obsrvr-flow serve` processes behind the shared Redis (under a prefix of this
module's own), the 20 real mainnet ledgers committed by this process's `IngestEngine` with the publisher hook,
as an ingest process or worker commits them.

Each test has tenants of its own on the module's database and servers, so they do not see each other's rows:
- every stored transfer reaches each subscriber exactly once and in id order, on two replicas, in both
  protocols, and nothing of it reaches another tenant's subscriber;
- ``after:`` the 1,000th transfer gives the 1,001st on, then the live ones, while the ingest commits during the
  catch-up;
- a reader behind a burst larger than its buffers gets every row and stays open (the hub's fallback to catch-up);
- a client that stops reading is closed 4408 with the id to resume from, whether its buffers fill (a burst) or
  rows trickle in and uvicorn's keep-alive gives up on it first; resuming from that id loses nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import socket
import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import websockets
from gql import Client, gql
from gql.transport.websockets import WebsocketsTransport
from sqlalchemy import text

from core.ids import OrderKey
from core.settings import Network
from core.tenant_config import parse_tenant_config
from ingest.engine import IngestEngine, plan_tenants
from ingest.publish import publisher
from processors.registry import default_registry
from storage.api_keys import ApiKeyStore
from storage.db import create_engine
from storage.pubsub import RedisPubSub
from storage.tenants import TenantStore
from tests import corpus
from tests.api.helpers import set_tip
from tests.conftest import REDIS_URL, pg_database, pg_database_url
from tests.mainnet_data import FIRST, require_corpus, tenant_document
from tests.servers import drop_redis_keys, free_port, spawn_cli, stop_process, wait_until

TYPES = ["TokenTransferProcessor"]
TENANTS = ("ws-all", "ws-other", "ws-after", "ws-slow", "ws-stall", "ws-trickle")
SUBSCRIPTION = "subscription ($after: String) { onTokenTransfer(after: $after) { id amount assetCode } }"
USDC_SUBSCRIPTION = (
    'subscription ($after: String) { onTokenTransfer(after: $after, filter: {assetCode: "USDC"}) '
    "{ id amount assetCode } }"
)
START = OrderKey(0).id  # before every row: the whole history, then live
PEPPER = "graphql-ws-live-pepper"
SLOW_BUFFER = 10
SLOW_SOCKET_BYTES = 16_384


@dataclass
class Stack:
    url: str
    prefix: str
    ports: dict[str, int]
    keys: dict[str, str]
    logs: Path

    def ws(self, replica: str, tenant: str) -> str:
        return f"ws://127.0.0.1:{self.ports[replica]}/api/v1/{tenant}/graphql"

    def output(self) -> str:
        return "\n".join(
            f"--- {p.name}\n{p.read_text(errors='replace')[-3000:]}" for p in self.logs.glob("*.log")
        )


async def _tenants(url: str) -> dict[str, str]:
    engine = create_engine(url)
    try:
        keys = {}
        for tenant_id in TENANTS:
            config = parse_tenant_config(tenant_document(tenant_id, TYPES), default_registry().catalogue())
            await TenantStore(engine).create(tenant_id, tenant_id, "pubnet", config.to_document())
            keys[tenant_id] = (await ApiKeyStore(engine, PEPPER).create(tenant_id)).secret
        return keys
    finally:
        await engine.dispose()


@pytest.fixture(scope="module")
def stack(pg_template: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    require_corpus()
    logs = tmp_path_factory.mktemp("graphql-ws-live")
    prefix = f"obsrvr-test:{uuid.uuid4().hex[:10]}:"
    with pg_database("obsrvr_test_ws", template=pg_template) as name:
        url = pg_database_url(name)
        keys = asyncio.run(_tenants(url))
        # The network's tip before the first ledger committed here: "now" is then before all of them.
        set_tip(url, FIRST - 1)
        clean = {k: v for k, v in os.environ.items() if not k.startswith("OBSRVR_")}
        env = {
            **clean,
            "OBSRVR_DATABASE_URL": url,
            "OBSRVR_REDIS_URL": REDIS_URL,
            "OBSRVR_REDIS_PREFIX": prefix,
            "OBSRVR_QUEUE_NAME": f"{prefix}queue",
            "OBSRVR_KEY_PEPPER": PEPPER,
            "OBSRVR_LOG_LEVEL": "WARNING",
            "OBSRVR_DECODE_PROCESSES": "1",
            # Small pages: a catch-up takes many reads, so commits land while it runs.
            "OBSRVR_SUBSCRIPTION_CATCHUP_PAGE_ROWS": "50",
        }
        ports = {"one": free_port(), "two": free_port(), "slow": free_port()}
        # The slow replica: a send buffer of 10 rows, closed as too slow after 1 s with nothing written; its
        # accepted sockets' send buffers fixed at 16 KiB (32 KiB with the kernel's share); uvicorn's pings every
        # second, failing after 3 s without a pong.
        slow = {
            "OBSRVR_SUBSCRIPTION_SEND_BUFFER_MESSAGES": str(SLOW_BUFFER),
            "OBSRVR_WEBSOCKET_PING_SECONDS": "1",
            "OBSRVR_WEBSOCKET_SOCKET_SEND_BUFFER_BYTES": str(SLOW_SOCKET_BYTES),
        }
        extra = {"slow": slow}
        processes: list[subprocess.Popen[bytes]] = []
        try:
            for replica, port in ports.items():
                args = ["serve", "--host", "127.0.0.1", "--port", str(port)]
                processes.append(spawn_cli(args, {**env, **extra.get(replica, {})}, logs / f"{replica}.log"))
            stack = Stack(url, prefix, ports, keys, logs)
            for port in ports.values():

                def ready(port: int = port) -> bool:
                    try:
                        return httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200
                    except httpx.HTTPError:
                        return False

                wait_until(ready, 60, f"the server on port {port}", every=0.2, details=stack.output)
            yield stack
        finally:
            for process in processes:
                process.terminate()
            for process in processes:
                stop_process(process)
            asyncio.run(drop_redis_keys(REDIS_URL, prefix))


async def stored_ids(stack: Stack, tenant: str, asset_code: str | None = None) -> list[str]:
    """The tenant's stored transfers (of `asset_code` only, if given), as the database has them (an outside
    observer's read)."""
    engine = create_engine(stack.url)
    try:
        async with engine.connect() as conn:
            only = "AND asset_code = :a" if asset_code is not None else ""
            statement = text(f"SELECT id FROM token_transfers WHERE tenant_id = :t {only} ORDER BY id")
            return [row[0] for row in await conn.execute(statement, {"t": tenant, "a": asset_code})]
    finally:
        await engine.dispose()


async def ingest(stack: Stack, tenants: list[str], files: tuple[str, ...]) -> None:
    """Commit `files` for `tenants`, one ledger a transaction, publishing each after commit."""
    from redis.asyncio import Redis

    catalogue = default_registry().catalogue()
    configs = [parse_tenant_config(tenant_document(t, TYPES), catalogue) for t in tenants]
    plans = plan_tenants(configs, catalogue, Network.pubnet)
    results = await asyncio.to_thread(corpus.tenant_results, require_corpus(), files, plans)
    redis = Redis.from_url(REDIS_URL)
    engine = create_engine(stack.url)
    try:
        engine_ = IngestEngine(
            engine,
            Network.pubnet,
            hooks=[publisher(RedisPubSub(redis, stack.prefix + "pubsub:"))],
            plans=plans,
        )
        for result in results:
            await engine_.write_batch([result])
    finally:
        await engine.dispose()
        await redis.aclose()


async def listening(stack: Stack, tenant: str, replicas: int) -> None:
    """Wait until `replicas` servers listen on the tenant's transfers channel (their hubs joined it)."""
    from redis.asyncio import Redis

    redis = Redis.from_url(REDIS_URL)
    channel = f"{stack.prefix}pubsub:rows:{tenant}:token_transfers"
    try:
        while (await redis.pubsub_numsub(channel))[0][1] < replicas:  # noqa: ASYNC110 - another process's state
            await asyncio.sleep(0.05)
    finally:
        await redis.aclose()


class Subscriber:
    """A gql client subscribed to a tenant's transfers, collecting (row id, payload) until told how many."""

    def __init__(self, stack: Stack, replica: str, tenant: str, after: str | None, *, legacy: bool = False):
        protocol = (
            WebsocketsTransport.APOLLO_SUBPROTOCOL if legacy else WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL
        )
        self.transport = WebsocketsTransport(
            url=stack.ws(replica, tenant),
            init_payload={"Authorization": f"Bearer {stack.keys[tenant]}"},
            subprotocols=[protocol],
        )
        self.after = after
        self.ids: list[str] = []
        self.started = asyncio.Event()
        self.enough = asyncio.Event()
        self.wanted: int | None = None

    async def run(self) -> None:
        async with Client(transport=self.transport) as session:
            request = gql(SUBSCRIPTION)
            request.variable_values = {"after": self.after} if self.after is not None else {}
            results = session.subscribe(request, get_execution_result=True)
            self.started.set()
            async for result in results:
                assert result.errors is None, result.errors
                row_id = result.extensions["id"]  # type: ignore[index]
                assert result.data["onTokenTransfer"]["id"] == row_id  # type: ignore[index]
                self.ids.append(row_id)
                if self.wanted is not None and len(self.ids) >= self.wanted:
                    break

    async def collect(self, count: int, task: asyncio.Task[None]) -> list[str]:
        self.wanted = count
        if len(self.ids) < count:
            await asyncio.wait_for(task, 120)  # a guard against hanging, not a timing assertion
        return self.ids


def test_every_transfer_once_in_order_on_two_replicas_and_no_other_tenant(stack: Stack) -> None:
    async def run() -> None:
        now = Subscriber(stack, "one", "ws-all", None)  # graphql-transport-ws, from now
        legacy = Subscriber(stack, "two", "ws-all", START, legacy=True)  # the legacy protocol, from the start
        other = Subscriber(stack, "two", "ws-other", START)
        tasks = {s: asyncio.create_task(s.run()) for s in (now, legacy, other)}
        await listening(stack, "ws-all", 2)
        await listening(stack, "ws-other", 1)
        await ingest(stack, ["ws-all"], corpus.MAINNET_20)
        # The other tenant's own rows, of the last ledger only: nothing of ws-all's may come before them.
        await ingest(stack, ["ws-other"], corpus.MAINNET_20[-1:])
        expected = await stored_ids(stack, "ws-all")
        assert len(expected) > 1000
        assert await now.collect(len(expected), tasks[now]) == expected
        assert await legacy.collect(len(expected), tasks[legacy]) == expected
        own = await stored_ids(stack, "ws-other")
        assert own and await other.collect(len(own), tasks[other]) == own

    asyncio.run(run())


def test_after_the_1000th_transfer_catches_up_then_goes_live(stack: Stack) -> None:
    async def run() -> None:
        await ingest(stack, ["ws-after"], corpus.MAINNET_20[:10])
        before = await stored_ids(stack, "ws-after")
        assert len(before) > 1000
        subscriber = Subscriber(stack, "one", "ws-after", before[999])
        task = asyncio.create_task(subscriber.run())
        await subscriber.started.wait()
        # The rest is committed while the catch-up reads its pages of 50 rows.
        await ingest(stack, ["ws-after"], corpus.MAINNET_20[10:])
        expected = await stored_ids(stack, "ws-after")
        assert await subscriber.collect(len(expected) - 1000, task) == expected[1000:]

    asyncio.run(run())


async def _read_until_closed(
    url: str,
    key: str,
    after: str,
    count: int | asyncio.Future[int] | None = None,
    query: str = SUBSCRIPTION,
) -> tuple[list[str], Any]:
    """A raw graphql-transport-ws client: subscribe after `after`, read row ids until `count` (known now or
    later) or the close."""
    ids: list[str] = []
    async with websockets.connect(url, subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
        await ws.send(
            orjson.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {key}"}})
        )
        assert orjson.loads(await ws.recv()) == {"type": "connection_ack"}
        payload = {"query": query, "variables": {"after": after}}
        await ws.send(orjson.dumps({"id": "1", "type": "subscribe", "payload": payload}))
        try:
            while True:
                try:
                    # Not blocking on recv() alone: every row may have arrived before `count` was known (the
                    # ingest still running when the last one was pushed), and then no frame comes to check it on.
                    frame = await asyncio.wait_for(ws.recv(), 0.5)
                except TimeoutError:
                    frame = None
                if frame is not None:
                    message = orjson.loads(frame)
                    if message["type"] == "next":
                        ids.append(message["payload"]["extensions"]["id"])
                target = count.result() if isinstance(count, asyncio.Future) and count.done() else count
                if isinstance(target, int) and len(ids) >= target:
                    return ids, None
        except websockets.ConnectionClosedOK:
            return ids, ws.close_code
        except websockets.ConnectionClosedError as closed:
            return ids, closed.rcvd


def test_a_reader_behind_a_burst_larger_than_its_buffers_gets_every_row_and_stays_open(stack: Stack) -> None:
    """The slow replica's send buffer (and so the hub's live queue) holds 10 rows; each committed ledger brings
    hundreds in one message. The hub sends the subscriber back to catching up instead of ending it: a client
    that reads gets every row once, in order, and is not closed."""

    async def run() -> None:
        url, key = stack.ws("slow", "ws-slow"), stack.keys["ws-slow"]
        count: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        reader = asyncio.create_task(_read_until_closed(url, key, START, count))
        await listening(stack, "ws-slow", 1)
        await ingest(stack, ["ws-slow"], corpus.MAINNET_20[:5])
        expected = await stored_ids(stack, "ws-slow")
        count.set_result(len(expected))
        ids, closed = await asyncio.wait_for(reader, 120)
        assert closed is None and len(expected) > 100 * SLOW_BUFFER
        assert ids == expected

    asyncio.run(run())


@contextlib.asynccontextmanager
async def _reader_that_will_stop(
    url: str, key: str, query: str, first: int, sock: socket.socket | None = None
) -> AsyncIterator[tuple[Any, list[str]]]:
    """A `websockets` client subscribed from the start with `query`, having read `first` rows. max_queue=1: the
    library stops reading the socket as soon as one message waits for recv(); no client pings (their pongs
    would wait behind the rows too); no permessage-deflate (rows compress ~5x: buffers fill slower)."""
    async with websockets.connect(
        url,
        sock=sock,
        subprotocols=["graphql-transport-ws"],  # type: ignore[list-item]
        max_queue=1,
        ping_interval=None,
        compression=None,
    ) as ws:
        await ws.send(
            orjson.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {key}"}})
        )
        assert orjson.loads(await ws.recv()) == {"type": "connection_ack"}
        payload = {"query": query, "variables": {"after": START}}
        await ws.send(orjson.dumps({"id": "1", "type": "subscribe", "payload": payload}))
        ids: list[str] = []
        while len(ids) < first:
            message = orjson.loads(await asyncio.wait_for(ws.recv(), 60))
            if message["type"] == "ping":  # the server's keep-alive while nothing is committed yet
                continue
            assert message["type"] == "next", message
            ids.append(message["payload"]["extensions"]["id"])
        yield ws, ids


async def _read_on_until_closed(ws: Any, ids: list[str]) -> Any:
    """Read again: the rows into `ids` until the server's close frame (returned; None if it closed cleanly)."""
    try:
        async for frame in ws:
            message = orjson.loads(frame)
            if message["type"] != "ping":
                assert message["type"] == "next", message
                ids.append(message["payload"]["extensions"]["id"])
    except websockets.ConnectionClosedError as error:
        return error.rcvd
    return None


def _slow_consumer_resume_id(stack: Stack, ws: Any, closed: Any, ids: list[str], expected: list[str]) -> str:
    """The close is 4408 naming the last row the client got, every row up to it received in order."""
    assert closed is not None, (
        f"closed with {ws.close_code} {ws.close_reason!r} after {len(ids)} rows\n{stack.output()}"
    )
    assert closed.code == 4408, closed
    match = re.fullmatch(r"slow_consumer after=(\S+) id=1", closed.reason)
    assert match, closed.reason
    resume = match.group(1)
    assert ids == expected[: len(ids)] and ids[-1] == resume
    return resume


def _stopped_reader_socket(port: int) -> socket.socket:
    """A client socket with a 4 KiB receive buffer (set before connecting, so the window stays small)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    sock.setblocking(False)
    return sock


def test_a_client_that_stops_reading_is_closed_with_its_resume_id_and_loses_nothing_on_reconnect(
    stack: Stack,
) -> None:
    """A client subscribed from the start of 10 stored ledgers reads 10 rows, then stops reading for 8 s while
    10 more ledgers are committed (~10,000 rows in all):
    the server's writer blocks once the (bounded) socket buffers are full and the connection is closed with
    4408 and the id to resume from, before uvicorn's keep-alive (pings every second, 3 s to answer: the client
    answers none while it does not read) would close it with 1011. Reading again, the client gets every row up
    to that id, then the close; resubscribing with `after: <id>` it gets every later row, each once, in order."""

    async def run() -> None:
        url, key = stack.ws("slow", "ws-stall"), stack.keys["ws-stall"]
        # Half the ledgers stored first: the catch-up fills the socket buffers the moment the client stops
        # reading, whatever the pace of the commits on a loaded machine (live rows alone may trickle in slower
        # than uvicorn's keep-alive gives up: that case is the trickle test's).
        await ingest(stack, ["ws-stall"], corpus.MAINNET_20[:10])
        sock = _stopped_reader_socket(stack.ports["slow"])
        async with _reader_that_will_stop(url, key, SUBSCRIPTION, 10, sock) as (ws, ids):
            # The client stops reading for 8 s while the other ledgers are committed: by then
            # uvicorn's keep-alive (1 s + 3 s) would have closed it (1011) had the slow-consumer close not come
            # first. Not much longer: the server cuts a peer still not reading 60 s after its close frame.
            ingesting = asyncio.create_task(ingest(stack, ["ws-stall"], corpus.MAINNET_20[10:]))
            await asyncio.sleep(8)
            closed = await _read_on_until_closed(ws, ids)
        await asyncio.wait_for(ingesting, 300)
        expected = await stored_ids(stack, "ws-stall")
        resume = _slow_consumer_resume_id(stack, ws, closed, ids, expected)
        # Closed long before the end (the socket buffers hold a few hundred rows).
        assert len(ids) < len(expected) // 2
        rest, closed_again = await asyncio.wait_for(
            _read_until_closed(url, key, resume, len(expected) - len(ids)), 120
        )
        assert closed_again is None
        assert ids + rest == expected

    asyncio.run(run())


def test_a_client_that_stops_reading_while_rows_trickle_is_closed_with_its_resume_id(stack: Stack) -> None:
    """A client of USDC transfers (a few dozen a ledger) reads 5 rows, then stops reading while one ledger a
    second is committed: a trickle its socket buffers absorb, so the server's writer never waits. uvicorn's
    keep-alive (pings every second, 3 s to answer) gives up first; the connection is then closed 4408 with the
    id to resume from (before, 1011 and no id). Reading again, the client gets every row up to that id, then the
    close; resubscribing with `after: <id>` it gets every later USDC row, each once, in order."""

    async def run() -> None:
        url, key = stack.ws("slow", "ws-trickle"), stack.keys["ws-trickle"]
        await ingest(stack, ["ws-trickle"], corpus.MAINNET_20[:2])
        # The kernel's default socket buffers (hundreds of KiB): the trickle never fills them.
        async with _reader_that_will_stop(url, key, USDC_SUBSCRIPTION, 5) as (ws, ids):

            async def trickle() -> None:
                for name in corpus.MAINNET_20[2:12]:
                    await ingest(stack, ["ws-trickle"], (name,))
                    await asyncio.sleep(1)

            # Not reading for 8 s: the keep-alive gives up after 1 + 3 s.
            ingesting = asyncio.create_task(trickle())
            await asyncio.sleep(8)
            closed = await _read_on_until_closed(ws, ids)
        await asyncio.wait_for(ingesting, 300)
        expected = await stored_ids(stack, "ws-trickle", "USDC")
        resume = _slow_consumer_resume_id(stack, ws, closed, ids, expected)
        assert 5 <= len(ids) < len(expected)
        rest, closed_again = await asyncio.wait_for(
            _read_until_closed(url, key, resume, len(expected) - len(ids), USDC_SUBSCRIPTION), 120
        )
        assert closed_again is None
        assert ids + rest == expected

    asyncio.run(run())
