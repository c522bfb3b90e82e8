"""GraphQL subscriptions: latency from a ledger's commit to its rows reaching N WebSocket subscribers, and memory
per idle subscription.

In one run, with real processes: a fresh PostgreSQL database (migrated by `obsrvr-flow migrate`), Redis under a
random key prefix, one `obsrvr-flow serve` process (one uvicorn worker: one core), and `--subscribers`
graphql-transport-ws clients spread over `--client-processes` (4) processes of their own, all on one tenant and
one filter (`--filter`: by default transfers of at least 10,000 units, ~30 a ledger; one group, matched and
executed once per row). Each client is a plain non-blocking socket (the handshake, frame parsing, pongs and,
with `--deflate`, permessage-deflate done by hand: `RawSubscriber`) read by its process's selector loop, which
takes a row's id from the end of its message without parsing the rest. The issue's "1,000 on one core": the server
is pinned to one core (`--server-cores`, by default the first available) and this process (the ingest) and the
client processes to the others, so the clients do not take the server's core (PostgreSQL, Redis and the machine's
other processes are not pinned); the client processes also run at `--client-nice` (10) so that the ingest comes
first on theirs.

What each latency figure means (both over every (row, subscriber), against the ledger's commit time, stamped on
the same host clock by a commit hook that runs before the rows are published):

- **socket arrival**: the kernel's receive timestamp of the read that brought the row (`SO_TIMESTAMPNS`, taken
  when the segment reached the client's socket). Client-side lag (its process waiting for a core, its Python) is
  not in it. On TCP the timestamp is the newest segment's of the read, so a row that came earlier in the same
  read is stamped late, never early. This is the figure to hold against the issue's aim.
- **client receipt**: the time the client process read the row (`time.time()` after `recvmsg`): socket arrival
  plus the client's own queueing, what the earlier form of this bench measured.

Phases:

1. Baseline, in the same run (the machine is shared: only ratios to it mean something): `--baseline-subscribers`
   (10) subscribers, and the first `--baseline-ledgers` (5) of the 20 real mainnet ledgers (../shared/ledgers)
   committed one every `--ledger-seconds` seconds, by the real `IngestEngine` with the publisher hook (as an
   ingest process or worker commits them): p50/p99 of both figures, and the server's CPU per delivery. The
   server's CPU per second while idle (measured for 5 s before each phase, nothing committed: keep-alive pings,
   the resync) is subtracted from its CPU during the phase for the CPU per delivery.
2. Memory: the server's RSS with the baseline subscribers connected, and again once the others (N in all) are
   connected, acknowledged and subscribed ("now": they get the rest of the ledgers) and idle; the difference
   divided by the added subscriptions.
3. Latency at N: the other ledgers, the same way. Prints p50/p99/max of both figures, checks that every
   subscriber got every row of its ledgers once, in id order, the CPU time the server, the client processes and
   this process (the ingest) spent meanwhile, and the N figures' ratios to the baseline's.

`--profile PATH` runs the server under cProfile (CPU time) switched on for phase 3 only and prints its top
functions (the profiler's overhead distorts that run's figures). The database and the Redis keys are removed at
the end (OBSRVR_BENCH_PG_ADMIN_URL, OBSRVR_BENCH_REDIS_URL).

    .venv/bin/python bench/subscriptions.py [--subscribers 1000] [--ledger-seconds 5] [--filter min-amount]
        [--baseline-subscribers 10] [--baseline-ledgers 5] [--client-processes 4] [--client-nice 10]
        [--server-cores 0|none] [--deflate] [--profile PATH]
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
import contextlib  # noqa: E402
import multiprocessing  # noqa: E402
import os  # noqa: E402
import pstats  # noqa: E402
import selectors  # noqa: E402
import signal  # noqa: E402
import socket  # noqa: E402
import statistics  # noqa: E402
import struct  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
import zlib  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from datetime import UTC, datetime  # noqa: E402
from multiprocessing.connection import Connection  # noqa: E402
from typing import Any  # noqa: E402

import asyncpg  # noqa: E402
import httpx  # noqa: E402
import orjson  # noqa: E402
from redis.asyncio import Redis  # noqa: E402
from sqlalchemy import insert, text  # noqa: E402

from core.ids import OrderKey  # noqa: E402
from core.settings import Network  # noqa: E402
from core.tenant_config import parse_tenant_config  # noqa: E402
from ingest.collector import tune_for_ingestion  # noqa: E402
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


def _at(latencies: list[float], share: float) -> float:
    return latencies[min(len(latencies) - 1, round(share * (len(latencies) - 1)))]


@dataclass
class Phase:
    """One phase's figures: deliveries to `subscribers` of the `rows` of its ledgers."""

    subscribers: int
    rows: int
    complete: int
    arrivals: list[float]
    """Sorted, of every (row, subscriber): the kernel's receive time of the row at the client's socket minus its
    ledger's commit time."""
    receipts: list[float]
    """Sorted, the same deliveries: the time the client process read the row minus the commit time."""
    by_ledger: dict[int, tuple[int, float, float, float]]
    """Per ledger: its rows, and the first, median and last socket arrival of its deliveries (after the commit):
    the first says how long the commit took to reach the server's writes (publish, pub/sub, matching, encoding),
    the spread after it how long the server took to write to every subscriber."""
    server_cpu: float
    client_cpu: float
    ingest_cpu: float
    seconds: float
    idle_cpu_rate: float
    """Server CPU seconds per second with the same subscribers connected and nothing committed (keep-alive
    pings, the resync, the event loop): subtracted from `server_cpu` for the CPU of the deliveries."""

    @property
    def deliveries(self) -> int:
        return len(self.receipts)

    def figures(self, which: str) -> tuple[float, float, float]:
        """p50, p99 and max of `arrivals` or `receipts`."""
        latencies = self.arrivals if which == "arrivals" else self.receipts
        return statistics.median(latencies), _at(latencies, 0.99), latencies[-1]

    @property
    def cpu_per_delivery(self) -> float:
        busy = max(0.0, self.server_cpu - self.idle_cpu_rate * self.seconds)
        return busy / max(1, self.deliveries)


def ledger_spread(
    deliveries: list[tuple[int, float, float]], commits: dict[int, float]
) -> dict[int, tuple[int, float, float, float]]:
    """`Phase.by_ledger` of (ledger, socket arrival, receipt) deliveries."""
    arrivals: dict[int, list[float]] = {}
    for ledger, arrived, _ in deliveries:
        arrivals.setdefault(ledger, []).append(arrived - commits[ledger])
    spread = {}
    for ledger, times in arrivals.items():
        times.sort()
        spread[ledger] = (len(times), times[0], statistics.median(times), times[-1])
    return spread


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


def pin(pid: int, cores: set[int]) -> None:
    """Every thread of `pid` (and of its child processes) onto `cores`; threads they start later inherit it."""
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(ProcessLookupError):  # a thread that just ended
            os.sched_setaffinity(int(task.name), cores)
        with contextlib.suppress(FileNotFoundError):
            for child in (task / "children").read_text().split():
                pin(int(child), cores)


def core_split(spec: str | None) -> tuple[set[int], set[int]] | None:
    """`--server-cores`: the server's cores, and the others (the clients' and the ingest's); None: no pinning."""
    available = sorted(os.sched_getaffinity(0))
    if spec == "none" or len(available) < 2:
        return None
    server = {int(core) for core in spec.split(",")} if spec else {available[0]}
    clients = set(available) - server
    if not server <= set(available) or not clients:
        raise SystemExit(f"--server-cores {spec}: leave at least one of {available} to the clients")
    return server, clients


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise SystemExit(f"no VmRSS for process {pid}")


SO_TIMESTAMPNS = 35
"""Linux's socket option (and control message type) for the kernel's receive timestamp (a `struct timespec`);
Python's `socket` module does not name it."""
TIMESPEC = struct.Struct("@qq")
READ_BYTES = 262_144
ROW_ID_MARK = b'"extensions":{"id":"'
ROW_ID_TAIL = 96
"""A row's message ends with its id: the last this many bytes hold the marker and the id."""
NEXT_HEAD = b',"type":"next","payload":'
HEAD_BYTES = 200
"""A message's head (its operation id, of at most 128 characters, then its type) lies within this many bytes."""


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


class RawSubscriber:
    """One graphql-transport-ws connection with one subscription, on a plain socket: the handshake, frames,
    pongs and (with `--deflate`) permessage-deflate done here.

    Rows are stamped twice: with the kernel's receive timestamp of the read that brought them (`SO_TIMESTAMPNS`,
    taken when the segment reached the socket: no client-side lag in it; on TCP it is the newest segment's of
    the read, so an earlier row of the same read is stamped late, never early) and with the time this process
    read them (`time.time()` after `recvmsg`: that plus the client's own scheduling and Python)."""

    def __init__(self, url: str, key: str, filter_: dict[str, Any] | None, deflate: bool) -> None:
        host, _, rest = url.removeprefix("ws://").partition("/")
        hostname, _, port = host.partition(":")
        self.received: list[tuple[str, float, float]] = []
        """(row id, kernel receive time, application receipt time) of every row since the last `collect`."""
        self.unstamped = 0
        """Reads that came without a kernel timestamp (their rows carry the application time twice)."""
        self._buffer = b""
        self._inflate: Any = None
        self._fresh_inflate = False
        sock = socket.create_connection((hostname, int(port)), timeout=60)
        self.sock = sock
        sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        extensions = "Sec-WebSocket-Extensions: permessage-deflate\r\n" if deflate else ""
        sock.sendall(
            f"GET /{rest} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {base64.b64encode(os.urandom(16)).decode()}\r\nSec-WebSocket-Version: 13\r\n"
            f"Sec-WebSocket-Protocol: graphql-transport-ws\r\n{extensions}\r\n".encode()
        )
        response = b""
        while b"\r\n\r\n" not in response:
            chunk = sock.recv(4096)
            if not chunk:
                raise RuntimeError("the server closed the connection during the handshake")
            response += chunk
        head, _, self._buffer = response.partition(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 101"):
            raise RuntimeError(head.decode(errors="replace"))
        accepted = head.lower()
        if b"permessage-deflate" in accepted:
            self._fresh_inflate = b"server_no_context_takeover" in accepted
            self._inflate = zlib.decompressobj(-zlib.MAX_WBITS)
        init = {"type": "connection_init", "payload": {"Authorization": f"Bearer {key}"}}
        sock.sendall(_frame(orjson.dumps(init)))
        while True:  # blocking until connection_ack
            messages = self._parse(sock.recv(READ_BYTES), 0.0, 0.0)
            if any(message.get("type") == "connection_ack" for message in messages):
                break
        # A random operation id per subscriber, as graphql-ws clients make them (UUIDs): nothing shared by accident.
        payload = {"query": SUBSCRIPTION, "variables": {"filter": filter_}}
        sock.sendall(_frame(orjson.dumps({"id": str(uuid.uuid4()), "type": "subscribe", "payload": payload})))
        sock.setblocking(False)

    def read(self) -> None:
        """What the socket has (called when it is readable)."""
        try:
            data, ancillary, _, _ = self.sock.recvmsg(READ_BYTES, socket.CMSG_SPACE(TIMESPEC.size))
        except BlockingIOError:
            return
        at = time.time()
        arrived: float | None = None
        for level, option, value in ancillary:
            if level == socket.SOL_SOCKET and option == SO_TIMESTAMPNS and len(value) >= TIMESPEC.size:
                seconds, nanoseconds = TIMESPEC.unpack_from(value)
                arrived = seconds + nanoseconds / 1e9
        if arrived is None:
            self.unstamped += 1
            arrived = at
        if not data:
            raise RuntimeError("the server closed the connection")
        for message in self._parse(data, arrived, at):
            kind = message.get("type")
            if kind == "ping":
                self.sock.sendall(_frame(b'{"type":"pong"}'))
            elif kind in ("error", "complete"):
                raise RuntimeError(f"subscription ended: {message}")

    def _parse(self, data: bytes, arrived: float, at: float) -> list[dict[str, Any]]:
        """Complete frames of the buffer: rows recorded, control frames answered; the other messages returned."""
        if not data:
            raise RuntimeError("the server closed the connection")
        buffer = self._buffer + data if self._buffer else data
        offset = 0
        others: list[dict[str, Any]] = []
        while len(buffer) - offset >= 2:
            first, size, start = buffer[offset], buffer[offset + 1] & 0x7F, offset + 2
            if size == 126:
                size, start = int.from_bytes(buffer[start : start + 2], "big"), start + 2
            elif size == 127:
                size, start = int.from_bytes(buffer[start : start + 8], "big"), start + 8
            if len(buffer) < start + size:
                break
            payload, offset, opcode = buffer[start : start + size], start + size, first & 0x0F
            if opcode == 0x9:  # a WebSocket ping: pong with its payload
                self.sock.sendall(_frame(payload, 0xA))
            elif opcode == 0x8:
                raise RuntimeError(f"closed: {payload!r}")
            elif opcode == 0x1:
                if first & 0x40:  # RSV1: a compressed message (never fragmented by this server)
                    if self._fresh_inflate:
                        self._inflate = zlib.decompressobj(-zlib.MAX_WBITS)
                    payload = self._inflate.decompress(payload + b"\x00\x00\xff\xff")
                # A row's message ends with its id (`"extensions":{"id":"..."}}}`, as the server encodes it):
                # read it there, not by parsing the whole message (the clients' Python is not what is measured).
                marker = payload.rfind(ROW_ID_MARK, -ROW_ID_TAIL) if payload.endswith(b'"}}}') else -1
                if marker >= 0 and payload.find(NEXT_HEAD, 0, HEAD_BYTES) >= 0:
                    self.received.append((payload[marker + len(ROW_ID_MARK) : -4].decode(), arrived, at))
                else:
                    others.append(orjson.loads(payload))
        self._buffer = buffer[offset:]
        return others

    def collect(self) -> list[tuple[str, float, float]]:
        rows, self.received = self.received, []
        return rows


def client_process(
    control: Connection, url: str, key: str, filter_: dict[str, Any] | None, deflate: bool, nice: int
) -> None:
    """A process of subscribers, commanded over `control`: ("connect", n) opens n more (answers their indexes in
    this process), ("collect",) hands over and forgets what each received, ("stop",) ends."""
    if nice:
        os.nice(nice)
    selector = selectors.DefaultSelector()
    selector.register(control.fileno(), selectors.EVENT_READ, None)
    subscribers: list[RawSubscriber] = []
    while True:
        for event, _ in selector.select(timeout=1.0):
            subscriber = event.data
            if subscriber is not None:
                try:
                    subscriber.read()
                except Exception as exc:  # reported at the next command, never swallowed
                    control.send(("error", repr(exc)))
                    return
                continue
            command = control.recv()
            if command[0] == "connect":
                try:
                    opened = [RawSubscriber(url, key, filter_, deflate) for _ in range(command[1])]
                except Exception as exc:
                    control.send(("error", repr(exc)))
                    return
                for new in opened:
                    selector.register(new.sock, selectors.EVENT_READ, new)
                control.send(("connected", list(range(len(subscribers), len(subscribers) + len(opened)))))
                subscribers += opened
            elif command[0] == "collect":
                control.send(
                    ("rows", [s.collect() for s in subscribers], sum(s.unstamped for s in subscribers))
                )
            else:
                control.send(("stopped",))
                return


class ClientPool:
    """The subscriber processes: subscribers opened round-robin across them; rows gathered by subscriber."""

    def __init__(self, processes: int, url: str, key: str, filter_: Any, deflate: bool, nice: int) -> None:
        context = multiprocessing.get_context("spawn")  # not a fork of a process running an event loop
        self._controls: list[Connection] = []
        self.processes: list[Any] = []
        for _ in range(processes):
            ours, theirs = context.Pipe()
            process = context.Process(
                target=client_process, args=(theirs, url, key, filter_, deflate, nice), daemon=True
            )
            process.start()
            self._controls.append(ours)
            self.processes.append(process)
        self.received: dict[tuple[int, int], list[tuple[str, float, float]]] = {}
        self._unstamped = [0] * processes

    @property
    def unstamped(self) -> int:
        """Reads without a kernel timestamp, in every process (their rows carry the application time)."""
        return sum(self._unstamped)

    def _ask(self, index: int, command: tuple[Any, ...]) -> Any:
        self._controls[index].send(command)
        answer = self._controls[index].recv()
        if answer[0] == "error":
            raise SystemExit(f"subscriber process {index}: {answer[1]}")
        return answer

    async def connect(self, count: int) -> list[tuple[int, int]]:
        """`count` more subscribers, acknowledged and subscribed: their handles."""
        shares = [
            count // len(self._controls) + (i < count % len(self._controls))
            for i in range(len(self._controls))
        ]

        def one(index: int) -> list[tuple[int, int]]:
            return [(index, i) for i in self._ask(index, ("connect", shares[index]))[1]]

        opened = await asyncio.gather(*(asyncio.to_thread(one, i) for i, n in enumerate(shares) if n))
        handles = [handle for part in opened for handle in part]
        for handle in handles:
            self.received[handle] = []
        return handles

    async def collect(self) -> None:
        def one(index: int) -> None:
            _, rows, unstamped = self._ask(index, ("collect",))
            for i, got in enumerate(rows):
                self.received.setdefault((index, i), []).extend(got)
            self._unstamped[index] = unstamped

        await asyncio.gather(*(asyncio.to_thread(one, i) for i in range(len(self._controls))))

    def cpu_seconds(self) -> float:
        return sum(cpu_seconds(process.pid) for process in self.processes)

    def stop(self) -> None:
        for control, process in zip(self._controls, self.processes, strict=True):
            with contextlib.suppress(Exception):
                control.send(("stop",))
            process.join(timeout=10)
            if process.is_alive():
                process.kill()


PROFILED_SERVE = """
import cProfile, runpy, signal, sys, time
path = sys.argv[1]
profile = cProfile.Profile(time.process_time)  # CPU time: other processes preempting it do not count
def dump(*_):
    profile.disable()
    profile.dump_stats(path)
signal.signal(signal.SIGUSR1, lambda *_: profile.enable())
signal.signal(signal.SIGUSR2, dump)
sys.argv = ["obsrvr-flow", *sys.argv[2:]]
runpy.run_module("obsrvr_flow", run_name="__main__")
"""
"""`--profile`: `obsrvr-flow serve` under cProfile, enabled by SIGUSR1 and written out by SIGUSR2 (the signal
handlers run on the main thread, the event loop's)."""


def spawn_server(port: int, env: dict[str, str], profile: Path | None) -> subprocess.Popen[bytes]:
    serve = ["serve", "--host", "127.0.0.1", "--port", str(port)]
    if profile is None:
        return spawn_cli(serve, env)
    return subprocess.Popen(  # noqa: S603 - our own CLI
        [sys.executable, "-c", PROFILED_SERVE, str(profile), *serve],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


async def run(args: argparse.Namespace, cores: tuple[set[int], set[int]] | None) -> None:
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
    pool: ClientPool | None = None
    engine = create_engine(url)
    redis = Redis.from_url(REDIS_URL)
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
        # This process stands in for `obsrvr-flow ingest`, which tunes its collector so (its heap, the decoded
        # ledgers among it, out of full collections): otherwise this process's own full collection, falling
        # between a commit's stamp and its publish, delayed one ledger's rows for every subscriber.
        tune_for_ingestion()

        server = spawn_server(port, env, args.profile)
        server_pid = server.pid
        if cores is not None:
            pin(server_pid, cores[0])
        async with httpx.AsyncClient() as http:
            for _ in range(300):
                try:
                    if (await http.get(f"http://127.0.0.1:{port}/readyz")).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.1)
        if cores is not None:  # again: the threads it started while starting up
            pin(server_pid, cores[0])
        ws_url = f"ws://127.0.0.1:{port}/api/v1/{TENANT}/graphql"
        pool = ClientPool(
            args.client_processes, ws_url, key, graphql_filter, args.compression is not None, args.client_nice
        )
        commits: dict[int, float] = {}

        async def stamp(batch: CommittedBatch) -> None:
            commits[batch.last_ledger] = time.time()

        ingest = IngestEngine(
            engine,
            Network.pubnet,
            # The commit is stamped before the rows are published (the hooks run in order, after the commit).
            hooks=[stamp, publisher(RedisPubSub(redis, prefix + "pubsub:"))],
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
            ledgers: list[Any], watching: list[tuple[int, int]], known: int, idle_rate: float
        ) -> Phase:
            """Commit `ledgers`, wait until every subscriber of `watching` has their rows; the figures."""
            assert pool is not None
            await pool.collect()
            marks = [len(pool.received[h]) for h in watching]
            server_cpu, client_cpu = cpu_seconds(server_pid), pool.cpu_seconds()
            ingest_cpu, started = time.process_time(), time.monotonic()
            for result in ledgers:
                await ingest.write_batch([result])
                await asyncio.sleep(args.ledger_seconds)
            expected = (await stored_ids())[known:]
            deadline = time.monotonic() + 120
            while True:
                await pool.collect()
                late = any(
                    len(pool.received[h]) - m < len(expected) for h, m in zip(watching, marks, strict=True)
                )
                if not late or time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.2)
            server_cpu, client_cpu = cpu_seconds(server_pid) - server_cpu, pool.cpu_seconds() - client_cpu
            seconds, ingest_cpu = time.monotonic() - started, time.process_time() - ingest_cpu
            got = [pool.received[h][m:] for h, m in zip(watching, marks, strict=True)]
            deliveries = [
                (OrderKey.from_id(row_id).ledger_sequence, a, r) for rows in got for row_id, a, r in rows
            ]
            return Phase(
                subscribers=len(watching),
                rows=len(expected),
                complete=sum(1 for rows in got if [row_id for row_id, _, _ in rows] == expected),
                arrivals=sorted(arrived - commits[ledger] for ledger, arrived, _ in deliveries),
                receipts=sorted(read - commits[ledger] for ledger, _, read in deliveries),
                by_ledger=ledger_spread(deliveries, commits),
                server_cpu=server_cpu,
                client_cpu=client_cpu,
                ingest_cpu=ingest_cpu,
                seconds=seconds,
                idle_cpu_rate=idle_rate,
            )

        # The baseline subscribers first: the schema, the hub's channel and the code paths are warm for the rest.
        base_count = max(1, min(args.baseline_subscribers, args.subscribers - 1))
        first = await pool.connect(base_count)
        await asyncio.sleep(2)
        baseline = await deliver(results[: args.baseline_ledgers], first, 0, await idle_cpu_rate(5))
        known = baseline.rows
        await asyncio.sleep(2)  # past the router's one-second latest-ledger cache: the others start "now"
        rss_before = rss_bytes(server_pid)
        subscribers = first + await pool.connect(args.subscribers - base_count)
        await asyncio.sleep(3)  # idle: every subscription registered, nothing committed
        per_subscription = (rss_bytes(server_pid) - rss_before) / max(1, args.subscribers - base_count)
        idle_rate = await idle_cpu_rate(5)
        if args.profile is not None:
            os.kill(server_pid, signal.SIGUSR1)
        loaded = await deliver(results[args.baseline_ledgers :], subscribers, known, idle_rate)
        if args.profile is not None:
            os.kill(server_pid, signal.SIGUSR2)
            await asyncio.sleep(3)
    finally:
        if pool is not None:
            pool.stop()
        if server is not None:
            server.terminate()
            stop_process(server, timeout=20)
        await redis.aclose()
        await engine.dispose()
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
        await drop_redis_keys(REDIS_URL, prefix)
    report(args, baseline, loaded, per_subscription, pool.unstamped, cores)
    if args.profile is not None:
        stats = pstats.Stats(str(args.profile))
        stats.sort_stats("tottime").print_stats(30)
        stats.sort_stats("cumulative").print_stats(40)


def report(
    args: argparse.Namespace,
    baseline: Phase,
    loaded: Phase,
    per_subscription: float,
    unstamped: int,
    cores: tuple[set[int], set[int]] | None,
) -> None:
    ledgers = len(corpus.MAINNET_20) - args.baseline_ledgers
    if cores is None:
        print("cores: not pinned (the server, the clients and the ingest share them)")
    else:
        print(
            f"cores: server on {sorted(cores[0])}, the clients and the ingest on {sorted(cores[1])} "
            "(PostgreSQL, Redis and other processes of the machine not pinned)"
        )
    print(
        f"{args.subscribers} subscribers in {args.client_processes} client processes (nice {args.client_nice}), "
        f"one server process, {loaded.rows} rows in {ledgers} ledgers, one every {args.ledger_seconds:g} s, "
        f"filter {args.filter}{' (profiled: figures distorted)' if args.profile else ''}"
    )
    print(f"subscribers with every row once and in order: {loaded.complete}/{args.subscribers}")
    for which, label in (
        ("arrivals", "socket arrival (kernel receive timestamp)"),
        ("receipts", "client receipt"),
    ):
        p50, p99, worst = loaded.figures(which)
        print(
            f"commit -> {label} over {loaded.deliveries} deliveries: p50 {p50 * 1000:.0f} ms, "
            f"p99 {p99 * 1000:.0f} ms, max {worst * 1000:.0f} ms"
        )
    slowest = sorted(loaded.by_ledger.items(), key=lambda item: item[1][3], reverse=True)[:3]
    print(
        "slowest ledgers (deliveries: first / median / last socket arrival): "
        + "; ".join(
            f"{ledger} ({n}): {first * 1000:.0f} / {median * 1000:.0f} / {last * 1000:.0f} ms"
            for ledger, (n, first, median, last) in slowest
        )
    )
    if unstamped:
        print(f"reads without a kernel timestamp (their rows stamped at receipt): {unstamped}")
    print(
        f"CPU while committing and delivering ({loaded.seconds:.1f} s): server {loaded.server_cpu:.1f} s, "
        f"the {args.subscribers} clients {loaded.client_cpu:.1f} s, this process (the ingest) {loaded.ingest_cpu:.1f} s"
    )
    print(f"memory per idle subscription (server RSS delta / N): {per_subscription / 1024:.1f} KiB")
    base_arrival, base_receipt = baseline.figures("arrivals"), baseline.figures("receipts")
    print(
        f"baseline (same run): {baseline.subscribers} subscribers, {baseline.rows} rows in {args.baseline_ledgers} "
        f"ledgers, {baseline.complete}/{baseline.subscribers} complete; socket arrival p50 "
        f"{base_arrival[0] * 1000:.0f} ms, p99 {base_arrival[1] * 1000:.0f} ms; client receipt p50 "
        f"{base_receipt[0] * 1000:.0f} ms, p99 {base_receipt[1] * 1000:.0f} ms; server CPU per delivery "
        f"{baseline.cpu_per_delivery * 1e6:.1f} us (idle {baseline.idle_cpu_rate:.3f} CPU s/s subtracted)"
    )
    arrival, receipt = loaded.figures("arrivals"), loaded.figures("receipts")
    # Net of idle, a 10-subscriber phase on a busy machine can come out at zero: then there is no ratio.
    cpu_ratio = (
        f"x{loaded.cpu_per_delivery / baseline.cpu_per_delivery:.2f}"
        if baseline.cpu_per_delivery > 0
        else "n/a (the baseline's is 0 net of idle)"
    )
    print(
        f"at {args.subscribers}: server CPU per delivery {loaded.cpu_per_delivery * 1e6:.1f} us (idle "
        f"{loaded.idle_cpu_rate:.3f} CPU s/s subtracted; {loaded.server_cpu / max(1, loaded.deliveries) * 1e6:.1f}"
        f" us not); ratios to the baseline: socket arrival p50 x{arrival[0] / base_arrival[0]:.2f}, "
        f"p99 x{arrival[1] / base_arrival[1]:.2f}; client receipt p50 x{receipt[0] / base_receipt[0]:.2f}, "
        f"p99 x{receipt[1] / base_receipt[1]:.2f}; CPU per delivery {cpu_ratio}"
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
        help="negotiate permessage-deflate, as browsers do (by default no compression)",
    )
    parser.add_argument(
        "--client-processes", type=int, default=4, help="processes the subscribers are spread over"
    )
    parser.add_argument(
        "--client-nice",
        type=int,
        default=10,
        help="niceness of the client processes (0: none): the server comes first for the cores, as if the "
        "clients ran on other machines",
    )
    parser.add_argument(
        "--profile",
        type=Path,
        default=None,
        help="run the server under cProfile during the phase at N and print its top functions (figures distorted)",
    )
    parser.add_argument(
        "--server-cores",
        default=None,
        help="cores the server is pinned to, e.g. 0 (default: the first available); the clients and the ingest "
        "get the others; none: no pinning",
    )
    parser.add_argument(
        "--baseline-subscribers", type=int, default=10, help="subscribers of the baseline measured first"
    )
    parser.add_argument(
        "--baseline-ledgers", type=int, default=5, help="ledgers (of the 20) committed for the baseline"
    )
    args = parser.parse_args()
    cores = core_split(args.server_cores)
    if cores is not None:
        # This process (the ingest, its publisher) and what it starts from here (the client processes, threads)
        # on the clients' cores; the server is moved to its own once spawned (`pin`).
        os.sched_setaffinity(0, cores[1])
    asyncio.run(run(args, cores))


if __name__ == "__main__":
    main()
