"""REST throughput: `GET /api/v1/{tenant}/token-transfers?limit=100` against a raw SQL + orjson baseline.

In one run: a fresh PostgreSQL database gets the 20 mainnet ledgers 63092982-63093001 (the tests' loader:
tenants `full-tenant` and `partial-tenant`), a uvicorn server (a separate process, 1 worker) serves the app with
one extra route, `/bench/raw-token-transfers`, that runs the same page as one hand-written SQL statement and
writes the rows with orjson (no auth, limits, count, envelope or `Latest-Ledger`). The same HTTP client, over the
same transport, sends requests with a fixed concurrency to each for a fixed time; it prints requests per second,
p50 and p99 latency of both and the ratio. The database is dropped at the end
(OBSRVR_BENCH_PG_ADMIN_URL, default postgresql://root@127.0.0.1:5432/postgres).

    .venv/bin/python bench/rest.py [--seconds 5] [--concurrency 8] [--repeat 2]
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, bench/ comes first on sys.path and bench/processors.py would shadow the `processors` package.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import argparse  # noqa: E402
import asyncio  # noqa: E402
import os  # noqa: E402
import socket  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from typing import Any  # noqa: E402

import asyncpg  # noqa: E402
import httpx  # noqa: E402
import orjson  # noqa: E402
from sqlalchemy import text  # noqa: E402
from starlette.applications import Starlette  # noqa: E402
from starlette.requests import Request  # noqa: E402
from starlette.responses import Response  # noqa: E402
from starlette.routing import Route  # noqa: E402

from api.state import app_state  # noqa: E402
from core.settings import Settings  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
ADMIN_URL = os.environ.get("OBSRVR_BENCH_PG_ADMIN_URL", "postgresql://root@127.0.0.1:5432/postgres")
PEPPER = "bench-pepper"
TENANT = "full-tenant"
RAW_SQL = text(
    "SELECT id, ledger_sequence, transaction_index, operation_index, event_index, closed_at, tx_hash, "
    'in_successful_tx, event_type, "from", "to", asset, asset_type, asset_code, asset_issuer, contract_id, '
    "amount_raw, amount, decimals, to_muxed_id, memo, memo_type "
    "FROM token_transfers WHERE tenant_id = :tenant ORDER BY id LIMIT :limit"
)


def settings(database_url: str) -> Settings:
    return Settings(database_url=database_url, key_pepper=PEPPER, redis_url=None)


async def raw_token_transfers(request: Request) -> Response:
    """The baseline: the same page as one SQL statement, amounts as strings, orjson."""
    limit = int(request.query_params.get("limit", "100"))
    async with app_state(request).engine.connect() as conn:
        result = await conn.execute(RAW_SQL, {"tenant": TENANT, "limit": limit})
        rows = [dict(row) for row in result.mappings()]
    for row in rows:
        row["amount_raw"] = str(row["amount_raw"])
    return Response(orjson.dumps({"data": rows}, option=orjson.OPT_UTC_Z), media_type="application/json")


def serve(database_url: str, port: int) -> None:
    import uvicorn

    from obsrvr_flow.wiring import build_app

    app: Starlette = build_app(settings(database_url))
    app.router.routes.insert(0, Route("/bench/raw-token-transfers", raw_token_transfers))
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


async def measure(
    url: str, headers: dict[str, str], seconds: float, concurrency: int
) -> tuple[float, list[float]]:
    latencies: list[float] = []
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(headers=headers, limits=limits, timeout=30) as client:
        for _ in range(concurrency):  # warm-up: connections, caches
            (await client.get(url)).raise_for_status()
        deadline = time.perf_counter() + seconds

        async def worker() -> None:
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                response = await client.get(url)
                latencies.append(time.perf_counter() - started)
                response.raise_for_status()

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return len(latencies) / elapsed, latencies


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[q - 1] * 1000 if len(values) > 1 else values[0] * 1000


async def load_database(name: str) -> tuple[str, dict[str, str]]:
    from tests.conftest import SHARED_LEDGERS
    from tests.mainnet_data import _load

    admin = await asyncpg.connect(ADMIN_URL)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    url = ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1) + f"/{name}"
    return url, await _load(url, SHARED_LEDGERS, PEPPER)


async def drop_database(name: str) -> None:
    admin = await asyncpg.connect(ADMIN_URL)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


def wait_for(port: int, process: subprocess.Popen[Any]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit("the server exited")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit("the server did not start")


async def run(args: argparse.Namespace) -> None:
    name = f"obsrvr_bench_rest_{uuid.uuid4().hex[:8]}"
    url, keys = await load_database(name)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(  # noqa: S603, ASYNC220 - our own script, started once before measuring
        [sys.executable, __file__, "--serve", url, "--port", str(port)], cwd=ROOT
    )
    try:
        wait_for(port, server)
        base = f"http://127.0.0.1:{port}"
        rest = (
            f"{base}/api/v1/{TENANT}/token-transfers?limit=100",
            {"Authorization": f"Bearer {keys['full']}"},
        )
        raw = (f"{base}/bench/raw-token-transfers?limit=100", {})
        best: dict[str, tuple[float, list[float]]] = {}
        for _ in range(args.repeat):
            for label, (target, headers) in (("raw SQL + orjson", raw), ("REST /token-transfers", rest)):
                rate, latencies = await measure(target, headers, args.seconds, args.concurrency)
                if label not in best or rate > best[label][0]:
                    best[label] = (rate, latencies)
        print(
            f"GET ?limit=100 over HTTP (uvicorn, 1 process), concurrency {args.concurrency}, {args.seconds:g} s "
            f"per run, best of {args.repeat}"
        )
        for label, (rate, latencies) in best.items():
            print(
                f"{label:<24} {rate:8.1f} req/s   p50 {percentile(latencies, 50):7.2f} ms   "
                f"p99 {percentile(latencies, 99):7.2f} ms"
            )
        ratio = best["REST /token-transfers"][0] / best["raw SQL + orjson"][0]
        print(f"ratio REST / baseline    {ratio:8.2f}x")
    finally:
        server.terminate()
        server.wait(timeout=30)
        await drop_database(name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="duration of each measurement")
    parser.add_argument("--concurrency", type=int, default=8, help="requests in flight")
    parser.add_argument("--repeat", type=int, default=2, help="runs of each side; the best is printed")
    parser.add_argument("--serve", metavar="DATABASE_URL", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.port)
        return
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
