"""GraphQL subscriptions: latency from a ledger's commit to its rows reaching N WebSocket subscribers, and memory
per idle subscription.

In one run, with real processes: a fresh PostgreSQL database (migrated by `obsrvr-flow migrate`), Redis under a
random key prefix, one `obsrvr-flow serve` process (one uvicorn worker: one core), and `--subscribers`
graphql-transport-ws clients (the `websockets` library) in this process, all on one tenant and one filter
(`--filter`: by default transfers of at least 10,000 units, ~30 a ledger; one group, matched and executed once
per row).

1. Baseline, in the same run (the machine is shared: only ratios to it mean something): `--baseline-subscribers`
   (10) subscribers, and the first `--baseline-ledgers` (5) of the 20 real mainnet ledgers (../shared/ledgers)
   committed one every `--ledger-seconds` seconds, by the real `IngestEngine` with the publisher hook (as an
   ingest process or worker commits them); a commit hook stamps each ledger's commit. Every subscriber stamps
   each row it receives (same host clock): p50/p99 of receipt minus commit, and the server's CPU per delivery.
   The server's CPU per second while idle (measured for 5 s before each phase, nothing committed: keep-alive
   pings, the resync) is subtracted from its CPU during the phase for the CPU per delivery.
2. Memory: the server's RSS with the baseline subscribers connected, and again once the others (N in all) are
   connected, acknowledged and subscribed ("now": they get the rest of the ledgers) and idle; the difference
   divided by the added subscriptions.
3. Latency at N: the other ledgers, the same way. Prints p50/p99/max over every (row, subscriber) of receipt time
   minus its ledger's commit time, checks that every subscriber got every row of its ledgers once, in id order,
   the CPU time the server and this process (the clients, which share the machine's cores with the server)
   spent meanwhile, and the N figures' ratios to the baseline's. Clients do not negotiate permessage-deflate
   unless `--deflate` is given.
The database and the Redis keys are removed at the end (OBSRVR_BENCH_PG_ADMIN_URL, OBSRVR_BENCH_REDIS_URL).

    .venv/bin/python bench/subscriptions.py [--subscribers 1000] [--ledger-seconds 5] [--filter min-amount]
        [--baseline-subscribers 10] [--baseline-ledgers 5]
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, bench/ comes first on sys.path and bench/processors.py would shadow the `processors` package.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import argparse  # noqa: E402
import asyncio  # noqa: E402
import base64  # noqa: E402
import os  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from datetime import UTC, datetime  # noqa: E402
from typing import Any  # noqa: E402

import asyncpg  # noqa: E402
import httpx  # noqa: E402
import orjson  # noqa: E402
import websockets  # noqa: E402
from redis.asyncio import Redis  # noqa: E402
from sqlalchemy import insert, text  # noqa: E402

from core.ids import OrderKey  # noqa: E402
from core.settings import Network  # noqa: E402
from core.tenant_config import parse_tenant_config  # noqa: E402
from ingest.engine import CommittedBatch, IngestEngine, plan_tenants  # noqa: E402
from ingest.publish import publisher  # noqa: E402
from processors.registry import default_registry  # noqa: E402
from storage.api_keys import ApiKeyStore  # noqa: E402
from storage.db import create_engine  # noqa: E402
from storage.pubsub import RedisPubSub  # noqa: E402
from storage.tables import tenants  # noqa: E402
from tests import corpus  # noqa: E402
from tests.servers import CLI, drop_redis_keys, free_port, spawn_cli, stop_process  # noqa: E402

ADMIN_URL = os.environ.get("OBSRVR_BENCH_PG_ADMIN_URL", "postgresql://root@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("OBSRVR_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
LEDGERS = Path(__file__).resolve().parents[2] / "shared" / "ledgers"
TENANT = "benchsubs"
PEPPER = "bench-pepper"
MIN_AMOUNT = "100000000000"  # 10,000 units of a 7-decimal asset
SUBSCRIPTION = (
    "subscription ($filter: TokenTransferFilter) { onTokenTransfer(filter: $filter) "
    "{ id eventType from to amount assetCode }}"
)


def subscription_filter(spec: str) -> tuple[dict[str, Any] | None, str, dict[str, Any]]:
    """`--filter`: the GraphQL filter, the SQL condition of the rows it selects, and its parameters."""
    kind, _, value = spec.partition("=")
    if kind == "all":
        return None, "TRUE", {}
    if kind == "min-amount":
        return {"minAmount": MIN_AMOUNT}, "amount_raw >= :m", {"m": int(MIN_AMOUNT)}
    if kind == "asset" and value:
        return {"assetCode": value}, "asset_code = :v", {"v": value}
    if kind == "account" and value:
        return {"accounts": [value]}, '("from" = :v OR "to" = :v)', {"v": value}
    raise SystemExit(f"--filter: all, min-amount, asset=<code> or account=<address>, not {spec!r}")


@dataclass
class Phase:
    """One phase's figures: deliveries to `subscribers` of the `rows` of its ledgers."""

    subscribers: int
    rows: int
    complete: int
    latencies: list[float]
    server_cpu: float
    client_cpu: float
    seconds: float
    idle_cpu_rate: float
    """Server CPU seconds per second with the same subscribers connected and nothing committed (keep-alive
    pings, the resync, the event loop): subtracted from `server_cpu` for the CPU of the deliveries."""

    def _at(self, share: float) -> float:
        return self.latencies[min(len(self.latencies) - 1, round(share * (len(self.latencies) - 1)))]

    @property
    def p50(self) -> float:
        return statistics.median(self.latencies)

    @property
    def p99(self) -> float:
        return self._at(0.99)

    @property
    def cpu_per_delivery(self) -> float:
        busy = max(0.0, self.server_cpu - self.idle_cpu_rate * self.seconds)
        return busy / max(1, len(self.latencies))


def tenant_document(subscribers: int) -> dict[str, Any]:
    processor = {"type": "TokenTransferProcessor", "config": {}}
    api = {
        "rate_limit_per_minute": 1_000_000,
        "concurrent_requests": 1000,
        "max_websocket_connections": subscribers + 10,
    }
    return {
        "customer": {"id": TENANT, "name": TENANT, "network": "pubnet", "processors": [processor], "api": api}
    }


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise SystemExit(f"no VmRSS for process {pid}")


def _frame(payload: bytes, opcode: int = 0x1) -> bytes:
    """A masked client frame (RFC 6455 5.2)."""
    mask = os.urandom(4)
    size = len(payload)
    if size < 126:
        head = bytes([0x80 | opcode, 0x80 | size])
    elif size < 65536:
        head = bytes([0x80 | opcode, 0x80 | 126]) + size.to_bytes(2, "big")
    else:
        head = bytes([0x80 | opcode, 0x80 | 127]) + size.to_bytes(8, "big")
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return head + mask + masked


class Subscriber:
    """One graphql-transport-ws connection with one subscription; stamps each row it receives.

    A minimal WebSocket client (handshake, frames, pongs): the `websockets` library spends more CPU per message
    than the server does delivering it, and the clients share the machine's cores with the server. The rows
    arriving in one read are stamped with that read's time. With `--deflate` the `websockets` client is used,
    negotiating permessage-deflate as browsers do."""

    def __init__(self, url: str, key: str, compression: str | None, filter_: dict[str, Any] | None) -> None:
        self.filter = filter_
        self.url = url
        self.key = key
        self.compression = compression
        self.received: list[tuple[str, float]] = []
        self.subscribed = asyncio.Event()
        self.error: BaseException | None = None

    def _messages(self) -> list[bytes]:
        init = {"type": "connection_init", "payload": {"Authorization": f"Bearer {self.key}"}}
        payload = {"query": SUBSCRIPTION, "variables": {"filter": self.filter}}
        # A random operation id per subscriber, as graphql-ws clients make them (UUIDs): nothing shared by accident.
        subscribe = {"id": str(uuid.uuid4()), "type": "subscribe", "payload": payload}
        return [orjson.dumps(init), orjson.dumps(subscribe)]

    def _handle(self, message: dict[str, Any], at: float) -> None:
        if message["type"] == "next":
            self.received.append((message["payload"]["extensions"]["id"], at))
        elif message["type"] in ("error", "complete"):
            raise RuntimeError(f"subscription ended: {message}")

    async def run(self, wanted: asyncio.Event) -> None:
        try:
            if self.compression is not None:
                await self._run_websockets(wanted)
            else:
                await self._run_raw(wanted)
        except BaseException as exc:  # reported by the run, never swallowed
            self.error = exc
            self.subscribed.set()

    async def _run_websockets(self, wanted: asyncio.Event) -> None:
        async with websockets.connect(
            self.url,
            subprotocols=["graphql-transport-ws"],  # type: ignore[list-item]
            compression=self.compression,
        ) as ws:
            init, subscribe = self._messages()
            await ws.send(init.decode())
            assert orjson.loads(await ws.recv())["type"] == "connection_ack"
            await ws.send(subscribe.decode())
            self.subscribed.set()
            while not wanted.is_set():
                message = orjson.loads(await ws.recv())
                if message["type"] == "ping":
                    await ws.send('{"type":"pong"}')
                self._handle(message, time.time())

    async def _run_raw(self, wanted: asyncio.Event) -> None:
        host, _, rest = self.url.removeprefix("ws://").partition("/")
        hostname, _, port = host.partition(":")
        reader, writer = await asyncio.open_connection(hostname, int(port))
        try:
            key = base64.b64encode(os.urandom(16)).decode()
            writer.write(
                f"GET /{rest} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                "Sec-WebSocket-Protocol: graphql-transport-ws\r\n\r\n".encode()
            )
            response = await reader.readuntil(b"\r\n\r\n")
            if not response.startswith(b"HTTP/1.1 101"):
                raise RuntimeError(response.decode(errors="replace"))
            init, subscribe = self._messages()
            writer.write(_frame(init))
            buffer = b""
            acked = False
            while not wanted.is_set():
                chunk = await reader.read(262_144)
                if not chunk:
                    raise RuntimeError("the server closed the connection")
                at = time.time()
                buffer += chunk
                offset = 0
                while len(buffer) - offset >= 2:
                    opcode, size, start = buffer[offset] & 0x0F, buffer[offset + 1] & 0x7F, offset + 2
                    if size == 126:
                        size, start = int.from_bytes(buffer[start : start + 2], "big"), start + 2
                    elif size == 127:
                        size, start = int.from_bytes(buffer[start : start + 8], "big"), start + 8
                    if len(buffer) < start + size:
                        break
                    payload, offset = buffer[start : start + size], start + size
                    if opcode == 0x9:  # a WebSocket ping: pong with its payload
                        writer.write(_frame(payload, 0xA))
                    elif opcode == 0x8:
                        raise RuntimeError(f"closed: {payload!r}")
                    elif opcode == 0x1:
                        message = orjson.loads(payload)
                        if message["type"] == "connection_ack" and not acked:
                            acked = True
                            writer.write(_frame(subscribe))
                            self.subscribed.set()
                        elif message["type"] == "ping":
                            writer.write(_frame(b'{"type":"pong"}'))
                        else:
                            self._handle(message, at)
                buffer = buffer[offset:]
        finally:
            writer.close()


async def connect_all(
    url: str,
    key: str,
    count: int,
    wanted: asyncio.Event,
    compression: str | None,
    filter_: dict[str, Any] | None,
) -> tuple[list[Subscriber], list[Any]]:
    subscribers = [Subscriber(url, key, compression, filter_) for _ in range(count)]
    tasks = []
    for start in range(0, count, 50):  # in waves, so the server's accept queue never overflows
        wave = subscribers[start : start + 50]
        tasks += [asyncio.create_task(s.run(wanted)) for s in wave]
        await asyncio.gather(*(s.subscribed.wait() for s in wave))
    failed = [s.error for s in subscribers if s.error is not None]
    if failed:
        raise SystemExit(f"{len(failed)} subscribers failed to start: {failed[0]!r}")
    return subscribers, tasks


async def run(args: argparse.Namespace) -> None:
    graphql_filter, condition, parameters = subscription_filter(args.filter)
    name = f"obsrvr_bench_{uuid.uuid4().hex[:8]}"
    prefix = f"obsrvr-bench:{uuid.uuid4().hex[:8]}:"
    admin = await asyncpg.connect(ADMIN_URL)
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1) + f"/{name}"
    clean = {k: v for k, v in os.environ.items() if not k.startswith("OBSRVR_")}
    env = {
        **clean,
        "OBSRVR_DATABASE_URL": url,
        "OBSRVR_REDIS_URL": REDIS_URL,
        "OBSRVR_REDIS_PREFIX": prefix,
        "OBSRVR_QUEUE_NAME": f"{prefix}queue",
        "OBSRVR_KEY_PEPPER": PEPPER,
        "OBSRVR_LOG_LEVEL": "WARNING",
        "OBSRVR_AUDIT_FLUSH_SECONDS": "1",
    }
    port = free_port()
    server = None
    engine = create_engine(url)
    redis = Redis.from_url(REDIS_URL)
    tasks: list[Any] = []
    print(f"load average at the start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    try:
        done = await asyncio.to_thread(
            subprocess.run, [*CLI, "migrate"], env=env, capture_output=True, text=True, timeout=120
        )
        if done.returncode != 0:
            raise SystemExit(done.stderr)
        document = tenant_document(args.subscribers)
        now = datetime.now(UTC)
        async with engine.begin() as conn:
            await conn.execute(
                insert(tenants).values(
                    id=TENANT, name=TENANT, network="pubnet", config=document, created_at=now, updated_at=now
                )
            )
        key = (await ApiKeyStore(engine, PEPPER).create(TENANT)).secret
        registry = default_registry()
        plans = plan_tenants(
            [parse_tenant_config(document, registry.catalogue())], registry.catalogue(), Network.pubnet
        )
        results = await asyncio.to_thread(corpus.tenant_results, LEDGERS, corpus.MAINNET_20, plans)

        server = spawn_cli(["serve", "--host", "127.0.0.1", "--port", str(port)], env)
        server_pid = server.pid
        async with httpx.AsyncClient() as http:
            for _ in range(300):
                try:
                    if (await http.get(f"http://127.0.0.1:{port}/readyz")).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.1)
        ws_url = f"ws://127.0.0.1:{port}/api/v1/{TENANT}/graphql"
        wanted = asyncio.Event()
        commits: dict[int, float] = {}

        async def stamp(batch: CommittedBatch) -> None:
            commits[batch.last_ledger] = time.time()

        ingest = IngestEngine(
            engine,
            Network.pubnet,
            hooks=[publisher(RedisPubSub(redis, prefix + "pubsub:")), stamp],
            plans=plans,
        )

        async def stored_ids() -> list[str]:
            async with engine.connect() as conn:
                query = f"SELECT id FROM token_transfers WHERE tenant_id = :t AND {condition} ORDER BY id"
                return [row[0] for row in await conn.execute(text(query), {"t": TENANT, **parameters})]

        async def idle_cpu_rate(seconds: float) -> float:
            """The server's CPU per second while nothing is committed."""
            cpu, started = cpu_seconds(server_pid), time.monotonic()
            await asyncio.sleep(seconds)
            return (cpu_seconds(server_pid) - cpu) / (time.monotonic() - started)

        async def deliver(
            ledgers: list[Any], watching: list[Subscriber], known: int, idle_rate: float
        ) -> Phase:
            """Commit `ledgers`, wait until every subscriber of `watching` has their rows; the figures."""
            marks = [len(s.received) for s in watching]
            server_cpu, client_cpu, started = cpu_seconds(server_pid), time.process_time(), time.monotonic()
            for result in ledgers:
                await ingest.write_batch([result])
                await asyncio.sleep(args.ledger_seconds)
            expected = (await stored_ids())[known:]
            deadline = time.monotonic() + 120

            def behind() -> bool:
                late = any(len(s.received) - m < len(expected) for s, m in zip(watching, marks, strict=True))
                return late and time.monotonic() < deadline

            while behind():  # noqa: ASYNC110 - polling the subscribers' progress, a bench's wait
                await asyncio.sleep(0.2)
            got = [[r for r, _ in s.received[m:]] for s, m in zip(watching, marks, strict=True)]
            return Phase(
                subscribers=len(watching),
                rows=len(expected),
                complete=sum(1 for rows in got if rows == expected),
                latencies=sorted(
                    at - commits[OrderKey.from_id(row_id).ledger_sequence]
                    for s, m in zip(watching, marks, strict=True)
                    for row_id, at in s.received[m:]
                ),
                server_cpu=cpu_seconds(server_pid) - server_cpu,
                client_cpu=time.process_time() - client_cpu,
                seconds=time.monotonic() - started,
                idle_cpu_rate=idle_rate,
            )

        # The baseline subscribers first: the schema, the hub's channel and the code paths are warm for the rest.
        base_count = max(1, min(args.baseline_subscribers, args.subscribers - 1))
        first, first_tasks = await connect_all(
            ws_url, key, base_count, wanted, args.compression, graphql_filter
        )
        tasks = first_tasks
        await asyncio.sleep(2)
        baseline = await deliver(results[: args.baseline_ledgers], first, 0, await idle_cpu_rate(5))
        known = baseline.rows
        await asyncio.sleep(2)  # past the router's one-second latest-ledger cache: the others start "now"
        rss_before = rss_bytes(server_pid)
        rest, rest_tasks = await connect_all(
            ws_url, key, args.subscribers - base_count, wanted, args.compression, graphql_filter
        )
        subscribers, tasks = first + rest, first_tasks + rest_tasks
        await asyncio.sleep(3)  # idle: every subscription registered, nothing committed
        per_subscription = (rss_bytes(server_pid) - rss_before) / max(1, len(rest))
        loaded = await deliver(results[args.baseline_ledgers :], subscribers, known, await idle_cpu_rate(5))
        wanted.set()
        await asyncio.gather(*tasks, return_exceptions=True)
    finally:
        for task in tasks:
            task.cancel()
        if server is not None:
            server.terminate()
            stop_process(server, timeout=20)
        await redis.aclose()
        await engine.dispose()
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
        await drop_redis_keys(REDIS_URL, prefix)
    ledgers = len(results) - args.baseline_ledgers
    print(
        f"{args.subscribers} subscribers, one server process, {loaded.rows} rows in {ledgers} ledgers, "
        f"one every {args.ledger_seconds:g} s, filter {args.filter}"
    )
    print(f"subscribers with every row once and in order: {loaded.complete}/{args.subscribers}")
    print(
        f"commit -> client receipt over {len(loaded.latencies)} deliveries: p50 {loaded.p50 * 1000:.0f} ms, "
        f"p99 {loaded.p99 * 1000:.0f} ms, max {loaded.latencies[-1] * 1000:.0f} ms"
    )
    print(
        f"CPU while committing and delivering ({loaded.seconds:.1f} s): server {loaded.server_cpu:.1f} s, "
        f"this process (the {args.subscribers} clients and the ingest) {loaded.client_cpu:.1f} s"
    )
    print(f"memory per idle subscription (server RSS delta / N): {per_subscription / 1024:.1f} KiB")
    print(
        f"baseline (same run): {baseline.subscribers} subscribers, {baseline.rows} rows in {args.baseline_ledgers} "
        f"ledgers, {baseline.complete}/{baseline.subscribers} complete; p50 {baseline.p50 * 1000:.0f} ms, "
        f"p99 {baseline.p99 * 1000:.0f} ms; server CPU per delivery {baseline.cpu_per_delivery * 1e6:.1f} us "
        f"(idle {baseline.idle_cpu_rate:.3f} CPU s/s subtracted)"
    )
    print(
        f"at {args.subscribers}: server CPU per delivery {loaded.cpu_per_delivery * 1e6:.1f} us (idle "
        f"{loaded.idle_cpu_rate:.3f} CPU s/s subtracted; {loaded.server_cpu / max(1, len(loaded.latencies)) * 1e6:.1f}"
        f" us not); ratios to the "
        f"baseline: p50 x{loaded.p50 / baseline.p50:.2f}, p99 x{loaded.p99 / baseline.p99:.2f}, "
        f"CPU per delivery x{loaded.cpu_per_delivery / baseline.cpu_per_delivery:.2f}"
    )
    print(f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--subscribers", type=int, default=1000, help="concurrent WebSocket subscribers")
    parser.add_argument(
        "--ledger-seconds",
        type=float,
        default=5.0,
        help="seconds between committed ledgers (5: Stellar's cadence)",
    )
    parser.add_argument(
        "--filter",
        default="min-amount",
        help="what every subscriber watches: all (every transfer), min-amount (>= 10,000 units, ~30 a ledger), "
        "asset=<code> or account=<address> (a wallet's view)",
    )
    parser.add_argument(
        "--deflate",
        dest="compression",
        action="store_const",
        const="deflate",
        default=None,
        help="use the websockets library and negotiate permessage-deflate, as browsers do (by default a minimal "
        "client without compression)",
    )
    parser.add_argument(
        "--baseline-subscribers", type=int, default=10, help="subscribers of the baseline measured first"
    )
    parser.add_argument(
        "--baseline-ledgers", type=int, default=5, help="ledgers (of the 20) committed for the baseline"
    )
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
