"""GraphQL throughput: a 100-row token-transfer page through the tenant GraphQL endpoint vs. the same rows
fetched with one SQL query and written with orjson from a plain Starlette route, in one run.

Both apps run in this process behind httpx's ASGI transport (no sockets, so the figures are the servers' own
cost): the GraphQL side is the whole service app (auth, allowlist, rate limit and usage middleware, schema
cache, parser/validation cache, router, executor); the baseline is one route doing one `SELECT ... LIMIT 100`
and `orjson.dumps`. Requests run one after another after a warm-up. Prints requests per second, p50 and p99
latency for each, and the ratio of the request rates. The 20 mainnet ledgers are ingested into a fresh
PostgreSQL database (OBSRVR_BENCH_PG_ADMIN_URL, default postgresql://root@127.0.0.1:5432/postgres), dropped at
the end.

    .venv/bin/python bench/graphql.py [--requests 300]
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
import statistics  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from collections.abc import Awaitable, Callable  # noqa: E402
from datetime import datetime  # noqa: E402
from decimal import Decimal  # noqa: E402
from typing import Any  # noqa: E402

import asyncpg  # noqa: E402
import httpx  # noqa: E402
import orjson  # noqa: E402
from sqlalchemy import text  # noqa: E402
from starlette.applications import Starlette  # noqa: E402
from starlette.requests import Request  # noqa: E402
from starlette.responses import Response  # noqa: E402
from starlette.routing import Route  # noqa: E402

from obsrvr_flow.wiring import build_app  # noqa: E402
from processors.token_transfers.table import token_transfers  # noqa: E402
from resolvers.row_types import camel  # noqa: E402
from storage.db import create_engine  # noqa: E402
from tests.api.helpers import settings_for  # noqa: E402
from tests.mainnet_data import FULL, _load  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
ADMIN_URL = os.environ.get("OBSRVR_BENCH_PG_ADMIN_URL", "postgresql://root@127.0.0.1:5432/postgres")
COLUMNS = [c.name for c in token_transfers.columns if c.name != "tenant_id"]
KEYS = [camel(c) for c in COLUMNS]
SELECTION = " ".join(KEYS)
QUERY = f"{{ tokenTransfers(first: 100) {{ edges {{ cursor node {{ {SELECTION} }} }} }} }}"
COLUMN_LIST = ", ".join(f'"{c}"' for c in COLUMNS)
SQL = text(f"SELECT {COLUMN_LIST} FROM token_transfers WHERE tenant_id = :tenant ORDER BY id LIMIT 100")


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def baseline_app(url: str) -> tuple[Starlette, Callable[[], Awaitable[None]]]:
    engine = create_engine(url)

    async def page(request: Request) -> Response:
        async with engine.connect() as conn:
            rows = (await conn.execute(SQL, {"tenant": FULL})).all()
        data = [{k: _plain(v) for k, v in zip(KEYS, row, strict=True)} for row in rows]
        return Response(orjson.dumps({"data": data}), media_type="application/json")

    return Starlette(routes=[Route("/page", page)]), engine.dispose


Send = Callable[[], Awaitable[httpx.Response]]


async def timed(send: Send, n: int, latencies: list[float]) -> float:
    """Send `n` requests one after another; append each latency; return the wall time."""
    started = time.perf_counter()
    for _ in range(n):
        t0 = time.perf_counter()
        response = await send()
        latencies.append(time.perf_counter() - t0)
        response.raise_for_status()
        assert b'"errors"' not in response.content, response.text  # a fast error is not a fast page
    return time.perf_counter() - started


def figures(latencies: list[float], wall: float) -> dict[str, float]:
    ordered = sorted(latencies)
    return {
        "rps": len(ordered) / wall,
        "p50": statistics.median(ordered) * 1000,
        "p99": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000,
    }


async def compare(graphql: Send, baseline: Send, n: int, rounds: int = 6) -> tuple[dict[str, float], ...]:
    """Alternate rounds of both, so load from elsewhere on the machine hits both alike."""
    for send in (graphql, baseline):  # warm-up: caches, pools, executor plans
        await timed(send, 30, [])
    lat_g: list[float] = []
    lat_b: list[float] = []
    wall_g = wall_b = 0.0
    for _ in range(rounds):
        wall_g += await timed(graphql, n // rounds, lat_g)
        wall_b += await timed(baseline, n // rounds, lat_b)
    return figures(lat_g, wall_g), figures(lat_b, wall_b)


async def run(n: int) -> None:
    name = f"obsrvr_bench_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(ADMIN_URL)
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1) + f"/{name}"
    try:
        settings = settings_for(url, auth_cache_seconds=60, audit_flush_seconds=1)
        keys = await _load(url, ROOT.parent / "shared" / "ledgers", settings.pepper)
        app = build_app(settings)
        plain, dispose = baseline_app(url)
        path = f"/api/v1/{FULL}/graphql"
        headers = {"Authorization": f"Bearer {keys['full']}"}
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench") as gql,
            httpx.AsyncClient(transport=httpx.ASGITransport(app=plain), base_url="http://bench") as raw,
        ):
            first = await gql.post(path, json={"query": QUERY}, headers=headers)
            edges = first.json()["data"]["tokenTransfers"]["edges"]
            rows = (await raw.get("/page")).json()["data"]
            assert len(edges) == 100 and [r["id"] for r in rows] == [e["node"]["id"] for e in edges]
            graphql, baseline = await compare(
                lambda: gql.post(path, json={"query": QUERY}, headers=headers), lambda: raw.get("/page"), n
            )
        await dispose()
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
    print(f"100-row token-transfer page, {len(COLUMNS)} fields per row, {n} sequential requests each")
    for label, numbers in (("GraphQL (service app)", graphql), ("SQL + orjson (plain route)", baseline)):
        print(
            f"  {label:<28} {numbers['rps']:8.1f} req/s   p50 {numbers['p50']:6.2f} ms   "
            f"p99 {numbers['p99']:6.2f} ms"
        )
    print(f"  ratio GraphQL / baseline: {graphql['rps'] / baseline['rps']:.3f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300)
    asyncio.run(run(parser.parse_args().requests))


if __name__ == "__main__":
    main()
