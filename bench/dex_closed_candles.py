"""What recording closed candles (`processors.dex_volume.closing`) adds to ingestion, on PostgreSQL.

The 20 mainnet ledgers 63092982-63093001 are written one ledger a batch (the live tail's shape) for a tenant
with the DEXTradeProcessor and the DEXVolumeProcessor (every pair, every interval), into a fresh database each
time, twice per round: the baseline with `close_candles` replaced by a function closing nothing (the candle
refresh as before this branch), then the real one. Prints, best of the rounds, seconds for the 20 batches and
the ratio real / baseline, and how many closed candles were written. The machine is shared: only the ratio
means something, and the load average is printed with it.

    .venv/bin/python bench/dex_closed_candles.py [--rounds 3]
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
from typing import Any  # noqa: E402

import asyncpg  # noqa: E402
from sqlalchemy import func, select  # noqa: E402

from core.settings import Network  # noqa: E402
from core.tenant_config import parse_tenant_config  # noqa: E402
from ingest.engine import IngestEngine, LedgerResult, TenantPlan, plan_tenants  # noqa: E402
from processors.dex_volume import refresh  # noqa: E402
from processors.dex_volume.table import dex_closed_candles  # noqa: E402
from processors.registry import default_registry  # noqa: E402
from storage import migrate  # noqa: E402
from storage.db import create_engine  # noqa: E402
from tests import corpus  # noqa: E402
from tests.corpus import MAINNET_20  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
LEDGERS = ROOT.parent / "shared" / "ledgers"
ADMIN_URL = os.environ.get("OBSRVR_BENCH_PG_ADMIN_URL", "postgresql://root@127.0.0.1:5432/postgres")
TENANT = "bench-candles"


def inputs() -> tuple[list[LedgerResult], list[TenantPlan]]:
    document = {
        "customer": {
            "id": TENANT,
            "name": TENANT,
            "network": "pubnet",
            "processors": [
                {"type": "DEXTradeProcessor", "enabled": True, "config": {}},
                {"type": "DEXVolumeProcessor", "enabled": True, "config": {}},
            ],
        }
    }
    catalogue = default_registry().catalogue()
    plans = plan_tenants([parse_tenant_config(document, catalogue)], catalogue, Network.pubnet)
    return corpus.tenant_results(LEDGERS, MAINNET_20, plans), plans


async def _closing_nothing(*_args: Any) -> list[dict[str, Any]]:
    return []


async def one_run(closing: bool) -> tuple[float, int]:
    """Seconds to write the 20 ledgers one a batch into a fresh database, and the closed candles stored."""
    ledgers, plans = inputs()
    name = f"obsrvr_bench_closed_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(ADMIN_URL)
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1) + f"/{name}"
    engine = create_engine(url)
    real = refresh.close_candles
    try:
        await migrate.upgrade(engine)
        if not closing:
            refresh.close_candles = _closing_nothing  # type: ignore[assignment]
        writer = IngestEngine(engine, Network.pubnet, plans=plans)
        await writer.write_batch(ledgers[:1])  # partitions and caches warm, outside the clock
        started = time.perf_counter()
        for result in ledgers[1:]:
            await writer.write_batch([result])
        seconds = time.perf_counter() - started
        async with engine.connect() as conn:
            count = (await conn.execute(select(func.count()).select_from(dex_closed_candles))).scalar_one()
        return seconds, int(count)
    finally:
        refresh.close_candles = real
        await engine.dispose()
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def main(rounds: int) -> None:
    print(f"load average before: {os.getloadavg()}")
    best: dict[bool, float] = {}
    closed = 0
    for _ in range(rounds):
        for closing in (False, True):
            seconds, count = await one_run(closing)
            best[closing] = min(best.get(closing, seconds), seconds)
            if closing:
                closed = count
    print(
        f"19 ledgers, one a batch: baseline (no closing) {best[False]:.2f} s, with closing {best[True]:.2f} s"
    )
    print(f"ratio with / without: {best[True] / best[False]:.3f}; closed candles written: {closed}")
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=3)
    asyncio.run(main(parser.parse_args().rounds))
