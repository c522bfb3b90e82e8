"""History pages on a large tenant: one token-transfer page (11 rows, as REST's default limit + 1) per filter
kind, over 1,000,000 synthetic rows of one tenant, through the query router (the SQL both APIs run).

Prints the mean time of a page per filter (an account with ~50 rows, an asset with ~20,000, an asset + an
account, a `min_amount` no index serves, and no filter, the baseline) and each as a ratio of the baseline, for
the first page and for a page deep behind a cursor. Rows are generated in SQL (`generate_series`) into a fresh
PostgreSQL database (OBSRVR_BENCH_PG_ADMIN_URL, default postgresql://root@127.0.0.1:5432/postgres), analyzed as
autovacuum would, and dropped at the end.

    .venv/bin/python bench/query_scale.py [--rows 1000000]
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
import time  # noqa: E402
import uuid  # noqa: E402

import asyncpg  # noqa: E402

from processors.registry import default_registry  # noqa: E402
from storage import migrate  # noqa: E402
from storage.db import create_engine  # noqa: E402
from storage.query import Filter, Query  # noqa: E402
from storage.router import QueryRouter  # noqa: E402

ADMIN_URL = os.environ.get("OBSRVR_BENCH_PG_ADMIN_URL", "postgresql://root@127.0.0.1:5432/postgres")
ACCOUNTS = 20_000
ASSETS = 50

GENERATE = """
INSERT INTO token_transfers (tenant_id, id, ledger_sequence, transaction_index, operation_index, event_index,
    closed_at, tx_hash, in_successful_tx, event_type, "from", "to", asset, asset_type, amount_raw, amount)
SELECT 'big', lpad((((60000000 + g / 500) << 32) | (((g % 500) + 1) << 12))::text, 19, '0') || '-0000000000',
    60000000 + g / 500, (g % 500) + 1, 0, 0,
    timestamptz '2026-01-01' + ((g / 500) * 5) * interval '1 second', md5(g::text) || md5(g::text), true,
    'transfer', 'GA' || lpad((g * 7919 % $2)::text, 54, 'X'), 'GB' || lpad((g * 104729 % $2)::text, 54, 'X'),
    'A' || (g % $3)::text, 'credit_alphanum4', g, g::text
FROM generate_series(1::bigint, $1::bigint) g
"""


def account(n: int) -> str:
    return "GA" + str(n).rjust(54, "X")


async def page_ms(router: QueryRouter, query: Query, repeat: int) -> float:
    await router.fetch(query)
    started = time.perf_counter()
    for _ in range(repeat):
        await router.fetch(query)
    return (time.perf_counter() - started) / repeat * 1000


async def deep(router: QueryRouter, query: Query, pages: int) -> Query:
    """The query positioned `pages` pages in."""
    for _ in range(pages):
        following = (await router.fetch(query)).next_query()
        if following is None:
            break
        query = following
    return query


async def run(rows: int, repeat: int) -> None:
    default_registry().catalogue()
    name = f"obsrvr_bench_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(ADMIN_URL)
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    engine = create_engine(url.replace("postgresql://", "postgresql+asyncpg://", 1))
    try:
        await migrate.upgrade(engine)
        conn = await asyncpg.connect(url)
        await conn.execute(
            "SELECT obsrvr_ensure_monthly_partitions('token_transfers'::regclass, "
            "'2026-01-01'::timestamptz, '2026-03-01'::timestamptz)"
        )
        started = time.perf_counter()
        await conn.execute(GENERATE, rows, ACCOUNTS, ASSETS)
        await conn.execute("ANALYZE token_transfers")
        await conn.close()
        print(f"{rows:,} token transfers of one tenant generated in {time.perf_counter() - started:.1f} s")
        router = QueryRouter(engine)
        base = Query(tenant_id="big", table=default_registry().by_name("token_transfers").tables[0], limit=10)
        cases = {
            "no filter (baseline)": base,
            "account (from or to)": base.replace(filters=(Filter.any_of(("from", "to"), [account(1234)]),)),
            "asset": base.replace(filters=(Filter.any_of("asset", ["A7"]),)),
            "asset + account": base.replace(
                filters=(Filter.any_of("asset", ["A7"]), Filter.any_of(("from", "to"), [account(1234)]))
            ),
            "min_amount (no index)": base.replace(filters=(Filter(("amount_raw",), "gte", rows - 5000),)),
        }
        for order in ("asc", "desc"):
            print(f"\n{order}: first page / 20 pages in (ms per page, ratio to the baseline)")
            figures = {}
            for label, query in cases.items():
                query = query.replace(descending=order == "desc")
                first = await page_ms(router, query, repeat)
                later = await page_ms(router, await deep(router, query, 20), repeat)
                figures[label] = (first, later)
            first_base, later_base = figures["no filter (baseline)"]
            for label, (first, later) in figures.items():
                print(
                    f"  {label:<24} {first:7.2f} ms {first / first_base:6.2f}x   "
                    f"{later:7.2f} ms {later / later_base:6.2f}x"
                )
    finally:
        await engine.dispose()
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    asyncio.run(run(args.rows, args.repeat))


if __name__ == "__main__":
    main()
