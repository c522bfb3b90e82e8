"""Cold pages against hot pages: walking the token transfers of the 20 mainnet ledgers page by page through the
REST route and the GraphQL connection, from the cold tier (everything archived) and, as the baseline measured in
the same run, from the hot store (nothing archived).

One load of the 20 mainnet ledgers (63092982-63093001, the tests' loader `tests.mainnet_data`) into a fresh
PostgreSQL database; a copy of it (`CREATE DATABASE ... TEMPLATE`) has every ledger of the `full-tenant` archived
(`services.archiving.archive_tenant`) into a temporary cold folder. Two apps (the whole service app, in this
process behind httpx's ASGI transport, no sockets) serve the two databases. Each round walks the first `--pages`
pages of `--limit` rows (REST `?limit=&cursor=`, GraphQL `first:/after:`) on one app then the other, so load from
elsewhere on the machine hits both alike. Prints per page: wall ms p50/p99, CPU ms (process time, DuckDB's
threads included) mean, and the ratios cold / hot, with the load average. Databases and folder are removed at the
end (OBSRVR_BENCH_PG_ADMIN_URL, default postgresql://root@127.0.0.1:5432/postgres).

    .venv/bin/python bench/cold_reads.py [--limit 10] [--pages 100] [--rounds 3] [--profile cold-rest.prof]
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
import shutil  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from collections.abc import Awaitable, Callable  # noqa: E402
from contextlib import AsyncExitStack  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from typing import Any  # noqa: E402

import asyncpg  # noqa: E402
import httpx  # noqa: E402

from obsrvr_flow.wiring import build_app  # noqa: E402
from processors.token_transfers.table import token_transfers  # noqa: E402
from resolvers.row_types import camel  # noqa: E402
from storage.cold.archival import ArchiveCut  # noqa: E402
from tests.api.helpers import settings_for  # noqa: E402
from tests.mainnet_data import FULL, LAST, _load  # noqa: E402
from tests.services.tiers import archive, document, reconfigure  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
ADMIN_URL = os.environ.get("OBSRVR_BENCH_PG_ADMIN_URL", "postgresql://root@127.0.0.1:5432/postgres")
SELECTION = " ".join(camel(c.name) for c in token_transfers.columns if c.name != "tenant_id")
GRAPHQL = (
    "query($first: Int!, $after: String) { tokenTransfers(first: $first, after: $after) "
    f"{{ edges {{ node {{ {SELECTION} }} }} pageInfo {{ hasNextPage endCursor }} }} }}"
)


@dataclass
class Walk:
    """Every page of one listing from one app: per-page wall seconds, the CPU seconds of the walks, the ids."""

    wall: list[float] = field(default_factory=list)
    cpu: float = 0.0
    ids: list[str] = field(default_factory=list)


Page = Callable[[str | None], Awaitable[tuple[list[str], str | None]]]


def rest_pages(client: httpx.AsyncClient, headers: dict[str, str], limit: int) -> Page:
    async def page(cursor: str | None) -> tuple[list[str], str | None]:
        params: dict[str, Any] = {"limit": limit, **({"cursor": cursor} if cursor else {})}
        response = await client.get(f"/api/v1/{FULL}/token-transfers", params=params, headers=headers)
        response.raise_for_status()
        body = response.json()
        return [row["id"] for row in body["data"]], body["metadata"]["next_cursor"]

    return page


def graphql_pages(client: httpx.AsyncClient, headers: dict[str, str], limit: int) -> Page:
    async def page(cursor: str | None) -> tuple[list[str], str | None]:
        variables = {"first": limit, "after": cursor}
        response = await client.post(
            f"/api/v1/{FULL}/graphql", json={"query": GRAPHQL, "variables": variables}, headers=headers
        )
        response.raise_for_status()
        body = response.json()
        assert "errors" not in body, body["errors"]  # a fast error is not a fast page
        connection = body["data"]["tokenTransfers"]
        info = connection["pageInfo"]
        return [e["node"]["id"] for e in connection["edges"]], info["endCursor"] if info[
            "hasNextPage"
        ] else None

    return page


async def walk(page: Page, pages: int, into: Walk) -> None:
    """The first `pages` pages (fewer when the listing ends), one request at a time."""
    ids: list[str] = []
    cursor: str | None = None
    cpu = time.process_time()
    for _ in range(pages):
        started = time.perf_counter()
        got, cursor = await page(cursor)
        into.wall.append(time.perf_counter() - started)
        ids += got
        if cursor is None:
            break
    into.cpu += time.process_time() - cpu
    into.ids = ids


def ms(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))] * 1000


async def create_database(admin: asyncpg.Connection, name: str, template: str | None = None) -> str:
    await admin.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
    return ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1) + f"/{name}"


async def archive_everything(url: str, cold: Path) -> int:
    """Every ledger of the full tenant's history tables into the cold folder; the rows archived."""
    report = await archive(settings_for(url, cold_url=str(cold)), FULL, ArchiveCut(before_ledger=LAST + 1))
    return sum(t.rows for t in report.tables)


async def measure(args: argparse.Namespace, hot_url: str, cold_url: str, folder: Path, secret: str) -> None:
    headers = {"Authorization": f"Bearer {secret}"}
    # Responses are never cached (the tenant's cache TTL is 0): every page is read from its tier.
    apps = {
        "hot": build_app(settings_for(hot_url, cold_url=str(folder / "empty"))),
        "cold": build_app(settings_for(cold_url, cold_url=str(folder / "cold"))),
    }
    walks: dict[tuple[str, str], Walk] = {}
    profiler = cProfile.Profile() if args.profile else None
    async with AsyncExitStack() as stack:
        clients = {}
        for tier, app in apps.items():
            await stack.enter_async_context(app.router.lifespan_context(app))
            clients[tier] = await stack.enter_async_context(
                httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench", timeout=60)
            )
        listings = {
            "REST": lambda c: rest_pages(c, headers, args.limit),
            "GraphQL": lambda c: graphql_pages(c, headers, args.limit),
        }
        for api, make in listings.items():  # warm-up: schemas, pools, caches; also checks both tiers agree
            warm = {tier: Walk() for tier in apps}
            for tier, client in clients.items():
                await walk(make(client), args.pages, warm[tier])
            assert warm["hot"].ids == warm["cold"].ids and warm["hot"].ids, f"{api}: tiers differ"
        for _ in range(args.rounds):
            for api, make in listings.items():
                for tier, client in clients.items():
                    into = walks.setdefault((api, tier), Walk())
                    if profiler is not None and tier == "cold" and api == "REST":
                        profiler.enable()
                        await walk(make(client), args.pages, into)
                        profiler.disable()
                    else:
                        await walk(make(client), args.pages, into)
    load = os.getloadavg()
    print(
        f"the first {args.pages} pages of {args.limit} token transfers (ledgers 63092982-{LAST} archived), "
        f"{args.rounds} rounds "
        f"(tiers alternated); load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"
    )
    for api in listings:
        hot, cold = walks[(api, "hot")], walks[(api, "cold")]
        for tier, w in (("hot", hot), ("cold", cold)):
            print(
                f"  {api:<8} {tier:<5} {len(w.wall):5d} pages   p50 {ms(w.wall, 0.5):7.2f} ms   "
                f"p99 {ms(w.wall, 0.99):7.2f} ms   CPU {w.cpu / len(w.wall) * 1000:7.2f} ms/page"
            )
        print(
            f"  {api:<8} cold/hot  p50 {ms(cold.wall, 0.5) / ms(hot.wall, 0.5):5.2f}x   "
            f"p99 {ms(cold.wall, 0.99) / ms(hot.wall, 0.99):5.2f}x   "
            f"CPU {(cold.cpu / len(cold.wall)) / (hot.cpu / len(hot.wall)):5.2f}x"
        )
    if profiler is not None:
        profiler.dump_stats(args.profile)
        print(f"cProfile of the cold REST walks: {args.profile}")


async def run(args: argparse.Namespace) -> None:
    suffix = uuid.uuid4().hex[:8]
    hot_name, cold_name = f"obsrvr_bench_coldreads_hot_{suffix}", f"obsrvr_bench_coldreads_cold_{suffix}"
    folder = Path(tempfile.mkdtemp(prefix="obsrvr-bench-cold-reads-"))
    admin = await asyncpg.connect(ADMIN_URL)
    try:
        hot_url = await create_database(admin, hot_name)
        keys = await _load(hot_url, ROOT.parent / "shared" / "ledgers", settings_for(hot_url).pepper)
        await reconfigure(hot_url, document(FULL))  # every processor, responses never cached (cache TTL 0)
        cold_url = await create_database(admin, cold_name, template=hot_name)
        archived = await archive_everything(cold_url, folder / "cold")
        print(f"archived {archived} rows of {FULL} (every history table, ledgers through {LAST})", flush=True)
        await measure(args, hot_url, cold_url, folder, keys["full"])
    finally:
        for name in (hot_name, cold_name):
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
        shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=10, help="rows per page")
    parser.add_argument("--pages", type=int, default=100, help="pages walked from the first, per walk")
    parser.add_argument("--rounds", type=int, default=3, help="walks of every page per listing and tier")
    parser.add_argument("--profile", metavar="FILE", help="write a cProfile of the cold REST walks to FILE")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
