"""CPU per API request: a REST list page and a GraphQL list query, app only, on PostgreSQL and on SQLite.

In one run: the 20 mainnet ledgers 63092982-63093001 are loaded (the tests' loader: tenants `full-tenant` and
`partial-tenant`) into a fresh PostgreSQL database and a fresh SQLite file, the tenant's response cache turned
off (every answer computed, none replayed); for each, the app (`create_app`, the service's processors, no Redis)
is started in this process and called as an ASGI app directly (no HTTP client, no server), one request after
another, so the process CPU time spent between two requests is the app's. It prints CPU ms per request
(user+sys, `time.process_time`) for each kind and backend: the median of a few rounds, so a burst of load
elsewhere on the machine hits one round, not the figure. The database is dropped at the end
(OBSRVR_BENCH_PG_ADMIN_URL, default postgresql://root@127.0.0.1:5432/postgres).

    .venv/bin/python bench/request_cost.py [--requests 300] [--rounds 5] [--backend postgresql --backend sqlite]
    .venv/bin/python bench/request_cost.py --auth-cache-seconds 0   # as the tests run: key and tenant read
    .venv/bin/python bench/request_cost.py --profile rest           # then a cProfile of that kind's requests
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, bench/ comes first on sys.path and bench/processors.py would shadow the `processors` package.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import argparse  # noqa: E402
import asyncio  # noqa: E402
import cProfile  # noqa: E402
import os  # noqa: E402
import pstats  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from collections.abc import AsyncIterator  # noqa: E402
from contextlib import asynccontextmanager  # noqa: E402
from typing import Any  # noqa: E402

import asyncpg  # noqa: E402
import orjson  # noqa: E402
from starlette.applications import Starlette  # noqa: E402

from api.app import create_app  # noqa: E402
from core.settings import Settings  # noqa: E402

ADMIN_URL = os.environ.get("OBSRVR_BENCH_PG_ADMIN_URL", "postgresql://root@127.0.0.1:5432/postgres")
PEPPER = "bench-pepper"
TENANT = "full-tenant"
REST_PATH = f"/api/v1/{TENANT}/token-transfers"
REST_QUERY = b"limit=10"
GRAPHQL_PATH = f"/api/v1/{TENANT}/graphql"
GRAPHQL_BODY = orjson.dumps(
    {"query": "{ tokenTransfers(first: 10) { edges { cursor node { id ledgerSequence amount asset } } } }"}
)


class Request:
    """One request as an ASGI call: its scope, its body, and what the app answered."""

    def __init__(self, method: str, path: str, key: str, query: bytes = b"", body: bytes = b"") -> None:
        headers = [(b"authorization", f"Bearer {key}".encode()), (b"host", b"bench")]
        if body:
            headers += [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        self.scope: dict[str, Any] = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": query,
            "root_path": "",
            "headers": headers,
            "client": ("127.0.0.1", 40000),
            "server": ("bench", 80),
        }
        self.body = body

    async def send_to(self, app: Starlette) -> None:
        sent = False
        status = 0
        chunks: list[bytes] = []

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if sent:
                await asyncio.sleep(3600)  # the app only waits here for a disconnect
            sent = True
            return {"type": "http.request", "body": self.body, "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await app(dict(self.scope), receive, send)
        body = b"".join(chunks)
        if status != 200 or b'"errors"' in body:  # a fast error is not a fast page
            raise SystemExit(f"{self.scope['path']} answered {status}: {body[:300]!r}")


@asynccontextmanager
async def database(backend: str) -> AsyncIterator[tuple[str, dict[str, str]]]:
    from tests.conftest import SHARED_LEDGERS
    from tests.mainnet_data import _load

    if backend == "sqlite":
        with tempfile.TemporaryDirectory() as folder:
            url = f"sqlite+aiosqlite:///{folder}/bench.db"
            yield url, await _load(url, SHARED_LEDGERS, PEPPER)
        return
    name = f"obsrvr_bench_cost_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(ADMIN_URL)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    try:
        url = ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1) + f"/{name}"
        yield url, await _load(url, SHARED_LEDGERS, PEPPER)
    finally:
        admin = await asyncpg.connect(ADMIN_URL)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


async def cpu_ms(app: Starlette, request: Request, n: int) -> float:
    started = time.process_time()
    for _ in range(n):
        await request.send_to(app)
    return (time.process_time() - started) * 1000 / n


async def without_response_cache(url: str) -> None:
    """The tenant's response cache off (`api.cache_ttl_seconds: 0`): every request is computed, not replayed."""
    from storage.db import create_engine
    from storage.tenants import TenantStore

    engine = create_engine(url)
    try:
        tenants = TenantStore(engine)
        record = await tenants.get(TENANT)
        assert record is not None
        customer = record.config["customer"]
        document = {
            **record.config,
            "customer": {**customer, "api": {**customer["api"], "cache_ttl_seconds": 0}},
        }
        await tenants.update(record.id, record.name, record.network, document)
    finally:
        await engine.dispose()


async def measure(backend: str, args: argparse.Namespace) -> dict[str, float]:
    async with database(backend) as (url, keys):
        await without_response_cache(url)
        settings = Settings(
            database_url=url, key_pepper=PEPPER, redis_url=None, auth_cache_seconds=args.auth_cache_seconds
        )
        app = create_app(settings)
        kinds = {
            "REST  GET token-transfers?limit=10": Request("GET", REST_PATH, keys["full"], query=REST_QUERY),
            "GraphQL tokenTransfers(first: 10)": Request(
                "POST", GRAPHQL_PATH, keys["full"], body=GRAPHQL_BODY
            ),
        }
        figures: dict[str, float] = {}
        async with app.router.lifespan_context(app):
            for request in kinds.values():  # warm-up: pools, caches, compiled statements
                await cpu_ms(app, request, 20)
            rounds: dict[str, list[float]] = {label: [] for label in kinds}
            for _ in range(args.rounds):  # alternate, so load from elsewhere hits both kinds alike
                for label, request in kinds.items():
                    rounds[label].append(await cpu_ms(app, request, args.requests // args.rounds))
            for label, values in rounds.items():
                figures[f"{backend:<10} {label}"] = statistics.median(values)
            if args.profile:
                request = list(kinds.values())[0 if args.profile == "rest" else 1]
                # CPU time, not wall time: waiting on the database would otherwise fill the profile. The
                # process's: on SQLite aiosqlite's thread works while the loop waits, so it shows under `poll`.
                profile = cProfile.Profile(time.process_time)
                profile.enable()
                await cpu_ms(app, request, args.requests)
                profile.disable()
                print(f"--- cProfile, {backend}, {args.profile}, {args.requests} requests")
                pstats.Stats(profile).sort_stats("cumulative").print_stats(args.profile_lines)
                pstats.Stats(profile).sort_stats("tottime").print_stats(args.profile_lines)
        return figures


async def run(args: argparse.Namespace) -> None:
    figures: dict[str, float] = {}
    for backend in args.backend or ["postgresql", "sqlite"]:
        figures.update(await measure(backend, args))
    print(f"CPU per request (user+sys, app only, in-process ASGI), median of {args.rounds} rounds")
    for label, value in figures.items():
        print(f"{label:<48} {value:7.2f} ms")
    print(f"load: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300, help="requests of each kind, over all rounds")
    parser.add_argument("--rounds", type=int, default=5, help="rounds; the median is printed")
    parser.add_argument("--backend", action="append", choices=["postgresql", "sqlite"])
    parser.add_argument(
        "--auth-cache-seconds",
        type=float,
        default=Settings.model_fields["auth_cache_seconds"].default,
        help="the app's key and tenant cache (the tests run with 0: a key and a tenant read per request)",
    )
    parser.add_argument("--profile", choices=["rest", "graphql"], help="then profile this kind")
    parser.add_argument("--profile-lines", type=int, default=40)
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
