"""Request latency through outages, on real processes: `obsrvr-flow serve` on a private PostgreSQL cluster and a
private redis-server (tests/servers.py; the shared servers are never touched).

Usage: ``.venv/bin/python bench/outages.py [--requests N]`` (default 200 per phase).

Phases, each N sequential `GET /api/v1/{tenant}/token-transfers?limit=1` from one client:
- ``baseline``: everything up;
- ``redis stopped``: refused connections (the breaker skips Redis after the first);
- ``redis hung``: SIGSTOPped redis-server (each probe, one per breaker period, waits for the socket timeout);
- ``postgres stopped``: the 503 `database_unavailable` answers;
and the seconds from a server's return to the first request served normally (``recovery``).
Prints p50/p99/max in ms, the statuses seen, and each phase's p50 relative to the baseline's.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx
import yaml

from tests.api.helpers import ACME_YAML, migrate_db
from tests.servers import PrivatePostgres, PrivateRedis, free_port

ADMIN_TOKEN = "bench-outages-admin-token"  # noqa: S105 - a private server of this run


def phase(
    client: httpx.Client, path: str, headers: dict[str, str], n: int
) -> tuple[list[float], Counter[int]]:
    times, statuses = [], Counter[int]()
    for _ in range(n):
        began = time.perf_counter()
        statuses[client.get(path, headers=headers).status_code] += 1
        times.append((time.perf_counter() - began) * 1000)
    return times, statuses


def until(
    client: httpx.Client, path: str, headers: dict[str, str], status: int, timeout: float = 60
) -> float:
    began = time.monotonic()
    while time.monotonic() - began < timeout:
        try:
            if client.get(path, headers=headers).status_code == status:
                return time.monotonic() - began
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise SystemExit(f"no {status} within {timeout} s")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200)
    n = parser.parse_args().requests
    redis, pg = PrivateRedis(), PrivatePostgres()
    server = None
    logs = tempfile.mkdtemp(prefix="obsrvr-bench-")
    try:
        redis.start()
        pg.start()
        import asyncpg

        async def create() -> None:
            conn = await asyncpg.connect(pg.admin_url)
            await conn.execute('CREATE DATABASE "bench"')
            await conn.close()

        asyncio.run(create())
        migrate_db(pg.database_url("bench"))
        port = free_port()
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("OBSRVR_")},
            "OBSRVR_DATABASE_URL": pg.database_url("bench"),
            "OBSRVR_REDIS_URL": redis.url,
            "OBSRVR_KEY_PEPPER": "bench-pepper",
            "OBSRVR_ADMIN_TOKEN": ADMIN_TOKEN,
            "OBSRVR_LOG_LEVEL": "ERROR",
        }
        log = Path(logs) / "serve.log"
        with log.open("wb") as out:
            server = subprocess.Popen(  # noqa: S603 - our own CLI
                [sys.executable, "-m", "obsrvr_flow", "serve", "--port", str(port)],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60)
        until(client, "/readyz", {}, 200)
        doc = yaml.safe_load(ACME_YAML)
        doc["customer"]["id"] = "bench"
        doc["customer"]["api"]["rate_limit_per_minute"] = 1_000_000
        created = client.post(
            "/admin/tenants",
            content=yaml.safe_dump(doc),
            headers={"Authorization": f"Bearer {ADMIN_TOKEN}", "Content-Type": "application/yaml"},
        )
        headers = {"Authorization": f"Bearer {created.json()['api_key']['secret']}"}
        path = "/api/v1/bench/token-transfers?limit=1"
        phase(client, path, headers, 20)  # warm-up
        results: dict[str, tuple[list[float], Counter[int]]] = {"baseline": phase(client, path, headers, n)}
        recovery: dict[str, float] = {}

        redis.stop()
        results["redis stopped"] = phase(client, path, headers, n)
        redis.start()
        recovery["redis"] = _ready_again(client)
        assert redis.process is not None
        os.kill(redis.process.pid, signal.SIGSTOP)
        try:
            results["redis hung"] = phase(client, path, headers, n)
        finally:
            os.kill(redis.process.pid, signal.SIGCONT)
        _ready_again(client)

        pg.stop()
        results["postgres stopped"] = phase(client, path, headers, n)
        pg.start()
        recovery["postgres"] = until(client, path, headers, 200)
        client.close()
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
        pg.close()
        redis.close()
        shutil.rmtree(logs, ignore_errors=True)

    base = statistics.median(results["baseline"][0])
    print(f"{'phase':<18}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}{'p50/base':>10}  statuses")
    for name, (times, statuses) in results.items():
        p50, p99 = statistics.median(times), percentile(times, 0.99)
        print(f"{name:<18}{p50:>9.1f}{p99:>9.1f}{max(times):>9.1f}{p50 / base:>10.2f}  {dict(statuses)}")
    for name, seconds in recovery.items():
        print(f"recovery after {name} is back: {seconds:.2f} s to the first normal answer")


def _ready_again(client: httpx.Client) -> float:
    began = time.monotonic()
    while time.monotonic() - began < 60:
        if client.get("/readyz").json().get("status") == "ready":
            return time.monotonic() - began
        time.sleep(0.05)
    raise SystemExit("not ready again within 60 s")


if __name__ == "__main__":
    main()
