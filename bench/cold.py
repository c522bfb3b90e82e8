"""The cold tier against its baselines, on one tenant-month of synthetic token transfers (1,000,000 rows by
default, two per ledger over January 2026, as generated in SQL by bench/query_scale.py's recipe).

(a) Reading the whole month from the cold tier through the query router (`storage.export_rows.iter_tenant_rows`,
    what `obsrvr-flow export` runs) against DuckDB reading the same rows from the one sorted Parquet file
    straight into Python tuples (in file order, no ORDER BY): rows per second, and the ratio router / DuckDB
    (aim >= 0.8x).
(b) A 100-row page (first page and one deep behind a cursor; no filter and an account filter) from the cold
    tier against the same page from the hot store before archival: ms, and the ratio cold / hot.
(c) Bytes: the archive's zstd Parquet against the same rows as snappy Parquet (aim <= 0.75x) and against the
    PostgreSQL table with its indexes.

Runs in a fresh PostgreSQL database (OBSRVR_BENCH_PG_ADMIN_URL, default postgresql://root@127.0.0.1:5432/postgres)
and a temporary cold folder, both removed at the end.

    .venv/bin/python bench/cold.py [--rows 1000000]
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
import shutil  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from collections.abc import Awaitable, Callable  # noqa: E402
from datetime import UTC, datetime  # noqa: E402
from typing import Any  # noqa: E402

import asyncpg  # noqa: E402
import duckdb  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402

from processors.registry import default_registry  # noqa: E402
from storage import migrate  # noqa: E402
from storage.cold.archival import ArchiveCut, archive_table  # noqa: E402
from storage.cold.reader import ColdReader  # noqa: E402
from storage.cold.store import ColdStore  # noqa: E402
from storage.db import create_engine  # noqa: E402
from storage.query import Filter, Query  # noqa: E402
from storage.router import QueryRouter  # noqa: E402

ADMIN_URL = os.environ.get("OBSRVR_BENCH_PG_ADMIN_URL", "postgresql://root@127.0.0.1:5432/postgres")
TENANT = "big"
ACCOUNTS = 20_000
ASSETS = 50
PER_LEDGER = 2  # 1,000,000 rows = 500,000 ledgers of 5 s: 29 days, all in January 2026

GENERATE = f"""
INSERT INTO token_transfers (tenant_id, id, ledger_sequence, transaction_index, operation_index, event_index,
    closed_at, tx_hash, in_successful_tx, event_type, "from", "to", asset, asset_type, amount_raw, amount)
SELECT '{TENANT}',
    lpad((((60000000 + g / {PER_LEDGER}) << 32) | (((g % {PER_LEDGER}) + 1) << 12))::text, 19, '0') || '-0000000000',
    60000000 + g / {PER_LEDGER}, (g % {PER_LEDGER}) + 1, 0, 0,
    timestamptz '2026-01-01' + ((g / {PER_LEDGER}) * 5) * interval '1 second', md5(g::text) || md5(g::text),
    true, 'transfer', 'GA' || lpad((g * 7919 % $2)::text, 54, 'X'), 'GB' || lpad((g * 104729 % $2)::text, 54, 'X'),
    'A' || (g % $3)::text, 'credit_alphanum4', (g * 1000003) % 1000000000000, ((g * 1000003) % 1000000000000)::text
FROM generate_series(0::bigint, $1::bigint - 1) g
"""

HOT_BYTES = """
SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c
WHERE c.oid = 'token_transfers'::regclass
   OR c.oid IN (SELECT inhrelid FROM pg_inherits WHERE inhparent = 'token_transfers'::regclass)
"""


def account(n: int) -> str:
    return "GA" + str(n).rjust(54, "X")


async def mean_ms(read: Callable[[], Awaitable[Any]], repeat: int) -> float:
    await read()  # warm: plans, the OS page cache, DuckDB's metadata cache
    started = time.perf_counter()
    for _ in range(repeat):
        await read()
    return (time.perf_counter() - started) / repeat * 1000


async def deep(router: QueryRouter, query: Query, pages: int) -> Query:
    for _ in range(pages):
        following = (await router.fetch(query)).next_query()
        if following is None:
            break
        query = following
    return query


async def page_cases(router: QueryRouter, base: Query) -> dict[str, Query]:
    account_query = base.replace(filters=(Filter.any_of(("from", "to"), [account(1234)]),))
    return {
        "first page, no filter": base,
        "page 50 deep, no filter": await deep(router, base, 50),
        "first page, account": account_query,
        "first page desc, no filter": base.replace(descending=True),
    }


async def run(rows: int, repeat: int) -> None:
    registry = default_registry()
    table = registry.by_name("token_transfers").tables[0]
    name = f"obsrvr_bench_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(ADMIN_URL)
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    engine = create_engine(url.replace("postgresql://", "postgresql+asyncpg://", 1))
    folder = Path(tempfile.mkdtemp(prefix="obsrvr-bench-cold-"))
    store = ColdStore.open(str(folder / "cold"))
    reader = ColdReader(store, engine, cache_dir=folder / "cache")
    try:
        await migrate.upgrade(engine)
        conn = await asyncpg.connect(url)
        await conn.execute(
            "SELECT obsrvr_ensure_monthly_partitions('token_transfers'::regclass, "
            "'2026-01-01'::timestamptz, '2026-03-01'::timestamptz)"
        )
        started = time.perf_counter()
        await conn.execute(GENERATE, rows, ACCOUNTS, ASSETS)
        await conn.execute("VACUUM ANALYZE token_transfers")
        hot_bytes = int(await conn.fetchval(HOT_BYTES))
        await conn.close()
        print(
            f"{rows:,} token transfers of one tenant-month generated in {time.perf_counter() - started:.1f} s"
        )

        hot_router = QueryRouter(engine)
        base = Query(tenant_id=TENANT, table=table, limit=100)
        cases = await page_cases(hot_router, base)
        hot_ms = {label: await mean_ms(lambda q=q: hot_router.fetch(q), repeat) for label, q in cases.items()}

        started = time.perf_counter()
        moved = await archive_table(
            engine,
            store,
            tenant_id=TENANT,
            processor="token_transfers",
            table=table,
            cut=ArchiveCut(before_time=datetime(2026, 2, 1, tzinfo=UTC)),
        )
        took = time.perf_counter() - started
        print(
            f"archived {moved.rows:,} rows into {len(moved.files)} file(s) and deleted {moved.deleted:,} hot rows "
            f"in {took:.1f} s ({moved.rows / took:,.0f} rows/s)"
        )
        assert len(moved.files) == 1, "the bench compares against one sorted file: raise max_file_rows"
        parquet = store.local_path(moved.files[0])
        assert parquet is not None

        router = QueryRouter(engine, cold=reader)

        # (a) the whole month through the router (what `obsrvr-flow export` runs) vs DuckDB on the file.
        async def through_router() -> int:
            count = 0
            async for page in router.scan(table, TENANT):
                count += len(page)
            return count

        assert await through_router() == rows
        router_ms = await mean_ms(through_router, max(1, repeat // 10))
        columns = ", ".join(f'"{c.name}"' for c in table.columns if c.name != "tenant_id")

        async def duckdb_direct() -> int:
            def read() -> int:
                with duckdb.connect() as db:
                    # The file is sorted by id and DuckDB keeps a file's order: no ORDER BY, the cheapest read.
                    sql = f"SELECT {columns} FROM read_parquet('{parquet}')"
                    return len(db.execute(sql).fetchall())

            return await asyncio.to_thread(read)

        assert await duckdb_direct() == rows
        direct_ms = await mean_ms(duckdb_direct, max(1, repeat // 10))
        print(
            "\n(a) one tenant-month read whole (rows/s; ratio router / DuckDB on one sorted file, aim >= 0.8x)"
        )
        print(f"  DuckDB, one sorted file   {rows / direct_ms * 1000:12,.0f} rows/s   {direct_ms:9.0f} ms")
        print(
            f"  cold through the router   {rows / router_ms * 1000:12,.0f} rows/s   {router_ms:9.0f} ms"
            f"   {direct_ms / router_ms:5.2f}x"
        )

        # (b) a 100-row page: cold now vs hot before archival, the same queries.
        print("\n(b) a 100-row page (ms; ratio cold / hot)")
        for label, query in cases.items():
            page = await router.fetch(query)
            assert page.sources == ("cold",) and len(page.rows) == (
                100 if "account" not in label else len(page.rows)
            )
            cold_ms = await mean_ms(lambda q=query: router.fetch(q), repeat)
            print(
                f"  {label:<28} hot {hot_ms[label]:7.2f}   cold {cold_ms:7.2f}   {cold_ms / hot_ms[label]:6.2f}x"
            )

        # (c) bytes on disk.
        snappy = folder / "snappy.parquet"
        pq.write_table(pq.read_table(parquet), snappy, compression="snappy", row_group_size=100_000)
        zstd_bytes, snappy_bytes = parquet.stat().st_size, snappy.stat().st_size
        groups = pq.ParquetFile(parquet).metadata.num_row_groups
        print(f"\n(c) bytes of {rows:,} rows ({groups} row groups in the archive file)")
        print(f"  PostgreSQL table + indexes {hot_bytes:14,}")
        print(
            f"  Parquet, snappy            {snappy_bytes:14,}   {snappy_bytes / hot_bytes:6.3f}x of PostgreSQL"
        )
        print(
            f"  Parquet, zstd (archive)    {zstd_bytes:14,}   {zstd_bytes / hot_bytes:6.3f}x of PostgreSQL, "
            f"{zstd_bytes / snappy_bytes:5.3f}x of snappy (aim <= 0.75x)"
        )
    finally:
        await reader.close()
        await store.close()
        await engine.dispose()
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
        shutil.rmtree(folder)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    asyncio.run(run(args.rows, args.repeat))


if __name__ == "__main__":
    main()
