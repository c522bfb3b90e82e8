"""Ingestion throughput on the 20 mainnet ledgers 63092982-63093001 (ledgers per second).

Prints, in one run:
- stellar-sdk decode alone (`LedgerCloseMeta.from_xdr_bytes`, the collector as Python leaves it): the baseline;
- the whole pipeline (read, decode, every processor that extracts, per-tenant select, write to PostgreSQL with
  checkpoints) in one process, and with a pool of 2 processes;
and each pipeline figure as a ratio of the baseline. The pool is started (its processes spawned and the pipeline
imported in each) before the clock starts, as a worker keeps one pool for all its jobs; that start-up time is
printed beside the figure. The database is a fresh PostgreSQL database created and dropped by the script
(OBSRVR_BENCH_PG_ADMIN_URL, default postgresql://root@127.0.0.1:5432/postgres).

    .venv/bin/python bench/ingest.py [--repeat 2]
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, bench/ comes first on sys.path and bench/processors.py would shadow the `processors` package.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse  # noqa: E402
import asyncio  # noqa: E402
import gzip  # noqa: E402
import os  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from collections.abc import AsyncIterator  # noqa: E402

import asyncpg  # noqa: E402
from sqlalchemy import func, select  # noqa: E402
from stellar_sdk import xdr  # noqa: E402

from core.settings import Network  # noqa: E402
from core.tenant_config import parse_tenant_config  # noqa: E402
from ingest.engine import IngestEngine, plan_tenants  # noqa: E402
from ingest.stream import ingest_stream, new_pool, warm_pool  # noqa: E402
from processors.registry import default_registry  # noqa: E402
from storage import migrate  # noqa: E402
from storage.db import create_engine  # noqa: E402
from storage.tenants import TenantStore  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
LEDGERS = ROOT.parent / "shared" / "ledgers" / "wallet-backend"
SEQUENCES = range(63092982, 63093002)
ADMIN_URL = os.environ.get("OBSRVR_BENCH_PG_ADMIN_URL", "postgresql://root@127.0.0.1:5432/postgres")


def load() -> list[tuple[int, bytes]]:
    return [(seq, gzip.decompress((LEDGERS / f"ledger-{seq}.xdr.gz").read_bytes())) for seq in SEQUENCES]


def decode_rate(raws: list[tuple[int, bytes]]) -> float:
    started = time.perf_counter()
    for _, raw in raws:
        xdr.LedgerCloseMeta.from_xdr_bytes(raw)
    return len(raws) / (time.perf_counter() - started)


async def pipeline_rate(raws: list[tuple[int, bytes]], processes: int) -> tuple[float, int, float]:
    name = f"obsrvr_bench_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(ADMIN_URL)
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1) + f"/{name}"
    engine = create_engine(url)
    try:
        await migrate.upgrade(engine)
        document = {
            "customer": {
                "id": "bench",
                "name": "bench",
                "network": "pubnet",
                "processors": [
                    {"type": p.type_name, "config": {}} for p in default_registry().catalogue().values()
                ],
            }
        }
        config = parse_tenant_config(document, default_registry().catalogue())
        await TenantStore(engine).create("bench", "bench", "pubnet", config.to_document())
        plans = plan_tenants([config], default_registry().catalogue(), Network.pubnet)

        async def stream() -> AsyncIterator[tuple[int, bytes]]:
            for item in raws:
                yield item

        pool = new_pool(processes) if processes > 1 else None
        try:
            started = time.perf_counter()
            if pool is not None:
                await warm_pool(pool, processes)
            startup = time.perf_counter() - started
            started = time.perf_counter()
            await ingest_stream(stream(), IngestEngine(engine, Network.pubnet, plans=plans), executor=pool)
            elapsed = time.perf_counter() - started
        finally:
            if pool is not None:
                pool.shutdown(wait=True)
        rows = 0
        async with engine.connect() as conn:
            for table in (t for p in default_registry().catalogue().values() for t in p.tables):
                rows += int((await conn.execute(select(func.count()).select_from(table))).scalar_one())
        return len(raws) / elapsed, rows, startup
    finally:
        await engine.dispose()
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=2, help="runs of each measurement; the best is printed")
    args = parser.parse_args()
    if not LEDGERS.is_dir():
        raise SystemExit(f"the ledger corpus is not at {LEDGERS}")
    raws = load()
    extracting = [
        p.name
        for p in default_registry().catalogue().values()
        if p.extract is not None or p.after_write is not None
    ]
    print(
        f"{len(raws)} ledgers, {sum(len(r) for _, r in raws) / 1e6:.1f} MB of XDR; processors: {', '.join(extracting)}"
    )
    baseline = max(decode_rate(raws) for _ in range(args.repeat))
    print(f"stellar-sdk decode alone        {baseline:6.2f} ledgers/s   1.00x")
    for processes in (1, 2):
        best, rows, startup = max(asyncio.run(pipeline_rate(raws, processes)) for _ in range(args.repeat))
        label = f"pipeline, {processes} process{'es' if processes > 1 else ''}"
        extra = ""
        if processes > 1:
            cold = len(raws) / (len(raws) / best + startup)
            extra = f"; pool start-up {startup:.1f} s not timed, with it {cold:.2f} ledgers/s {cold / baseline:.2f}x"
        print(f"{label:<31} {best:6.2f} ledgers/s   {best / baseline:.2f}x   ({rows} rows{extra})")


if __name__ == "__main__":
    main()
