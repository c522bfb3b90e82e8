"""A real server process (`obsrvr-flow serve`), two tenants, a victim measuring its latency and an attacker
sending the largest requests the limits allow (and some over them). Shared by tests/api/test_fairness.py and
bench/fairness.py."""

from __future__ import annotations

import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import httpx
import orjson

from tests.api.helpers import ADMIN_TOKEN, tenant_yaml
from tests.servers import free_port

VICTIM_QUERY = "{ tokenTransfers(first: 5) { edges { node { id amount } } } _meta { latestLedger } }"


@dataclass(frozen=True)
class Server:
    host: str
    port: int
    pid: int = 0

    def rss_mb(self) -> float:
        """The server process's resident memory (Linux /proc), in MB."""
        for line in open(f"/proc/{self.pid}/status").read().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        raise RuntimeError("no VmRSS")

    @property
    def base(self) -> str:
        return f"http://{self.host}:{self.port}"


@contextmanager
def serve(database_url: str, **settings: str) -> Iterator[Server]:
    """`obsrvr-flow serve` on a free port with these settings (`OBSRVR_` names without the prefix), ready."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("OBSRVR_")}
    env.update(
        OBSRVR_DATABASE_URL=database_url,
        OBSRVR_KEY_PEPPER="pepper-for-tests",
        OBSRVR_ADMIN_TOKEN=ADMIN_TOKEN,
        OBSRVR_LOG_LEVEL="WARNING",
        **{f"OBSRVR_{k.upper()}": v for k, v in settings.items()},
    )
    log = tempfile.TemporaryFile()
    proc = subprocess.Popen(  # noqa: S603 - our own CLI
        [sys.executable, "-m", "obsrvr_flow", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log,
    )
    try:
        server = Server("127.0.0.1", port, proc.pid)
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{server.base}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                log.seek(0)
                raise RuntimeError(f"serve did not start: {log.read().decode(errors='replace')}")
            time.sleep(0.2)
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def onboard(server: Server, tenant_ids: list[str]) -> dict[str, str]:
    """Create the tenants through the admin API (generous rate limits); returns each one's key."""
    keys = {}
    for tenant_id in tenant_ids:
        response = httpx.post(
            f"{server.base}/admin/tenants",
            content=tenant_yaml(tenant_id, rate_limit_per_minute=1_000_000, concurrent_requests=100),
            headers={"Authorization": f"Bearer {ADMIN_TOKEN}", "Content-Type": "application/yaml"},
            timeout=30,
        )
        assert response.status_code == 201, response.text
        keys[tenant_id] = response.json()["api_key"]["secret"]
    return keys


def victim_document(unique: str, size: int = 3_000) -> str:
    """`VICTIM_QUERY` as a new document of `size` characters (a comment makes it unique and pads it): never
    cached, and over `POOL_CHARS`, so it is validated in the validation process, the queue attackers share."""
    document = f"{VICTIM_QUERY}\n# {unique} "
    return document + "x" * (size - len(document))


def victim(server: Server, tenant_id: str, key: str, requests: int, uncached: bool = False) -> list[float]:
    """Latencies (seconds) of `requests` small GraphQL queries sent one after another on one connection; with
    `uncached`, each a new document (`victim_document`)."""
    latencies = []
    body = orjson.dumps({"query": VICTIM_QUERY})
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    with httpx.Client(base_url=server.base, headers=headers, timeout=30) as client:
        for _ in range(5):  # warm: connection, caches
            client.post(f"/api/v1/{tenant_id}/graphql", content=body)
        for _ in range(requests):
            if uncached:
                body = orjson.dumps({"query": victim_document(uuid.uuid4().hex)})
            started = time.perf_counter()
            response = client.post(f"/api/v1/{tenant_id}/graphql", content=body)
            latencies.append(time.perf_counter() - started)
            assert response.status_code == 200 and "errors" not in response.json(), response.text
    return latencies


def warm(server: Server, key: str, limit: int) -> None:
    """One large document first: the validation pool's process starts on first use (~2 s of imports)."""
    response = httpx.post(
        f"{server.base}/api/v1/attacker/graphql",
        content=padded_body(valid_document("warm-up"), limit),
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
        timeout=60,
    )
    assert response.status_code == 200, response.text[:300]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


def figures(latencies: list[float]) -> str:
    return (
        f"p50 {statistics.median(latencies) * 1000:6.1f} ms  p99 {percentile(latencies, 0.99) * 1000:6.1f} ms  "
        f"max {max(latencies) * 1000:6.1f} ms"
    )


def costly_document(unique: str) -> str:
    """The costliest document to parse and validate that the guards let through to their last check: repeats
    within the limit at every level, which graphql-core's field-merging rule pairs up until its budget runs
    out (~2000 tokens; refused `query_too_complex`). `unique` makes every one a cache miss."""
    edges = ("edges { " + "cursor " * 20 + "} ") * 20
    return f"# {unique}\n{{ " + ("tokenTransfers { " + edges + "} ") * 4 + "}"


def valid_document(unique: str, size: int = 32_767) -> str:
    """The costliest valid document of `size` characters (the guards' limit): twenty copies of two pages with
    their rows' fields (they merge into two pages when executed), padded with a comment; ~45 ms to validate,
    ~10 ms to parse. `unique` makes every one a cache miss."""
    common = "id ledgerSequence closedAt txHash eventType"
    transfers = f"tokenTransfers {{ edges {{ node {{ {common} from to asset amount }} }} }}"
    events = f"contractEvents {{ edges {{ node {{ {common} contractId type topics data }} }} }}"
    document = f"# {unique}\n{{ " + f"{transfers} {events} " * 20 + "}\n#"
    return document + "x" * (size - len(document))


def padded_body(document: str, length: int) -> bytes:
    """A GraphQL request body of exactly `length` bytes: the document and a variable that pads it."""
    body = orjson.dumps({"query": document, "variables": {"pad": ""}})
    pad = length - len(body)
    assert pad >= 0, f"the document alone is {len(body)} bytes"
    return orjson.dumps({"query": document, "variables": {"pad": "x" * pad}})


def _http_head(server: Server, path: str, key: str, extra: str) -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: {server.host}\r\nAuthorization: Bearer {key}\r\n"
        f"Content-Type: application/json\r\n{extra}\r\n"
    ).encode()


def _read_status(sock: socket.socket) -> int:
    data = b""
    while b"\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"closed before a status line: {data!r}")
        data += chunk
    return int(data.split(b" ", 2)[1])


def long_get(server: Server, tenant_id: str, key: str, length: int) -> int:
    """A GraphQL GET whose query string is `length` bytes long, sent at once: the status it gets."""
    padding = "+" * (length - len("query=%7B_meta%7BlatestLedger%7D%7D"))
    with socket.create_connection((server.host, server.port), timeout=30) as sock:
        sock.sendall(
            f"GET /api/v1/{tenant_id}/graphql?query=%7B_meta%7BlatestLedger%7D%7D{padding} HTTP/1.1\r\n"
            f"Host: {server.host}\r\nAuthorization: Bearer {key}\r\n\r\n".encode()
        )
        return _read_status(sock)


def declared_over_limit(server: Server, path: str, key: str, limit: int) -> int:
    """A request declaring a body over the limit, of which nothing is sent: the status it gets (413 comes
    back without the server waiting for the body)."""
    with socket.create_connection((server.host, server.port), timeout=30) as sock:
        sock.sendall(_http_head(server, path, key, f"Content-Length: {limit + 1}\r\n"))
        return _read_status(sock)


def chunked_over_limit(server: Server, path: str, key: str, limit: int, chunk: int = 16_384) -> int:
    """A chunked body sent up to just over the limit and never finished: the status it gets (413 comes back
    without the server waiting for the end of the body)."""
    with socket.create_connection((server.host, server.port), timeout=30) as sock:
        sock.sendall(_http_head(server, path, key, "Transfer-Encoding: chunked\r\n"))
        sent = 0
        while sent <= limit:
            sock.sendall(f"{chunk:x}\r\n".encode() + b" " * chunk + b"\r\n")
            sent += chunk
        return _read_status(sock)


def full_body_over_limit(server: Server, path: str, key: str, size: int) -> int:
    """A body of `size` bytes sent whole, declared: the status it gets."""
    response = httpx.post(
        f"{server.base}{path}",
        content=b" " * size,
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
        timeout=60,
    )
    return response.status_code


def graphql_attack(server: Server, tenant_id: str, key: str, limit: int) -> Callable[[], int]:
    """The largest body the limit allows, holding the costliest document, a new one every time."""
    path = f"/api/v1/{tenant_id}/graphql"
    client = httpx.Client(base_url=server.base, timeout=60)
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}

    def send() -> int:
        body = padded_body(costly_document(uuid.uuid4().hex), limit)
        response = client.post(path, content=body, headers=headers)
        errors = response.json().get("errors", [])
        assert response.status_code == 200 and errors[0]["extensions"]["code"] == "query_too_complex", errors
        return response.status_code

    return send


def valid_graphql_attack(server: Server, tenant_id: str, key: str, limit: int) -> Callable[[], int]:
    """The largest body the limit allows, holding the costliest valid document, a new one every time."""
    path = f"/api/v1/{tenant_id}/graphql"
    client = httpx.Client(base_url=server.base, timeout=60)
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}

    def send() -> int:
        response = client.post(
            path, content=padded_body(valid_document(uuid.uuid4().hex), limit), headers=headers
        )
        if response.status_code == 429:  # more of its new documents in preparation than a tenant may have
            assert response.json()["errors"][0]["extensions"]["code"] == "too_many_concurrent_requests"
            return 429
        assert response.status_code == 200 and "errors" not in response.json(), response.text[:300]
        return response.status_code

    return send


ATTACKS: dict[str, Callable[[Server, str, str, int], Callable[[], int]]] = {
    "graphql": graphql_attack,
    "graphql_valid": valid_graphql_attack,
    "declared": lambda server, tenant, key, limit: (
        lambda: declared_over_limit(server, f"/api/v1/{tenant}/graphql", key, limit)
    ),
    "chunked": lambda server, tenant, key, limit: (
        lambda: chunked_over_limit(server, f"/api/v1/{tenant}/graphql", key, limit)
    ),
    "full": lambda server, tenant, key, limit: (
        lambda: full_body_over_limit(server, f"/api/v1/{tenant}/graphql", key, 4 * limit)
    ),
}
"""Attacks by name: each makes the callable one attacking thread repeats (returning the status it got)."""


def _attack_main(argv: list[str]) -> None:
    """The attacker process: ``port tenant key limit threads kind[,kind...]``; attacks until its stdin closes,
    then prints the statuses it got and the errors it met, as JSON."""
    port, tenant, key, limit, threads, kinds = argv
    server = Server("127.0.0.1", int(port))
    actions = [ATTACKS[kind](server, tenant, key, int(limit)) for kind in kinds.split(",")]
    statuses: Counter[int] = Counter()
    errors: list[str] = []
    stop = threading.Event()
    lock = threading.Lock()

    def run(offset: int) -> None:
        i = offset
        while not stop.is_set():
            try:
                status = actions[i % len(actions)]()
            except Exception as exc:  # reported to the parent, which fails on it
                with lock:
                    errors.append(repr(exc))
            else:
                with lock:
                    statuses[status] += 1
            i += 1

    workers = [threading.Thread(target=run, args=(n,), daemon=True) for n in range(int(threads))]
    for worker in workers:
        worker.start()
    print("started", flush=True)
    sys.stdin.read()
    stop.set()
    for worker in workers:
        worker.join(timeout=60)
    print(
        orjson.dumps({"statuses": {str(k): v for k, v in statuses.items()}, "errors": errors[:10]}).decode()
    )


@dataclass
class Attack:
    """An attacker in a process of its own (so it never shares a GIL with the victim's client), running
    `threads` threads that repeat the named attacks in turn; its statuses and errors once it is over."""

    server: Server
    tenant: str
    key: str
    limit: int
    kinds: list[str]
    threads: int = 2
    statuses: dict[int, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    @contextmanager
    def running(self) -> Iterator[Attack]:
        args = [
            str(self.server.port),
            self.tenant,
            self.key,
            str(self.limit),
            str(self.threads),
            ",".join(self.kinds),
        ]
        proc = subprocess.Popen(  # noqa: S603 - this module
            [sys.executable, "-m", "tests.api.fairness", *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert proc.stdin is not None and proc.stdout is not None
        try:
            assert proc.stdout.readline().strip() == "started"
            time.sleep(0.3)  # under way before the victim starts measuring
            yield self
        finally:
            proc.stdin.close()
            output = proc.stdout.read()
            proc.wait(timeout=60)
        report = orjson.loads(output.strip().splitlines()[-1])
        self.statuses = {int(k): v for k, v in report["statuses"].items()}
        self.errors = report["errors"]


if __name__ == "__main__":
    _attack_main(sys.argv[1:])
