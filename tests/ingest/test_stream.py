"""The background writer of `ingest_stream` (with a decoding pool): a write that fails is logged where it
fails, so it is never lost behind another exception of the reading side (here a gap), and no checkpoint moves
past unwritten ledgers; the whole ledgers before a gap are written before the gap is raised."""

from __future__ import annotations

import asyncio
import gzip
import logging
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy.exc import DBAPIError

from core.settings import Network
from core.tenant_config import parse_tenant_config
from ingest.engine import IngestEngine, plan_tenants
from ingest.stream import LedgerGap, ingest_stream
from processors.registry import default_registry
from storage.checkpoints import Checkpoints
from storage.db import create_engine
from storage.tenants import TenantStore
from tests.api.helpers import sql

FIRST = 63092982
DOCUMENT = {
    "customer": {
        "id": "writer-w",
        "name": "writer-w",
        "network": "pubnet",
        "processors": [{"type": "TokenTransferProcessor", "config": {}}],
    }
}


def _with_gap(shared_ledgers: Path) -> list[tuple[int, bytes]]:
    return [
        (seq, gzip.decompress((shared_ledgers / "wallet-backend" / f"ledger-{seq}.xdr.gz").read_bytes()))
        for seq in (*range(FIRST, FIRST + 6), FIRST + 7)  # FIRST + 6 is missing: a gap
    ]


async def _tenant_engine(url: str) -> IngestEngine:
    engine = create_engine(url)
    config = parse_tenant_config(DOCUMENT, default_registry().catalogue())
    await TenantStore(engine).create("writer-w", "writer-w", "pubnet", config.to_document())
    plans = plan_tenants([config], default_registry().catalogue(), Network.pubnet)
    return IngestEngine(engine, Network.pubnet, plans=plans)


def test_a_failed_background_write_is_logged_when_the_reader_fails_too(
    migrated_pg: str, shared_ledgers: Path, caplog: pytest.LogCaptureFixture
) -> None:
    raws = _with_gap(shared_ledgers)

    async def run() -> None:
        ingest = await _tenant_engine(migrated_pg)
        engine = ingest.engine
        try:
            async with engine.begin() as conn:  # the writes will fail: their table is gone
                await conn.exec_driver_sql("DROP TABLE token_transfers CASCADE")

            async def ledgers() -> AsyncIterator[tuple[int, bytes]]:
                for item in raws:
                    yield item
                    await asyncio.sleep(0.2)  # let the writer of the first batch start (and fail)

            with ThreadPoolExecutor(2) as pool:
                # Which surfaces first, the write's failure or the gap, depends on timing; either way the
                # write's failure is in the log.
                with pytest.raises((LedgerGap, DBAPIError)):
                    await ingest_stream(ledgers(), ingest, checkpoint="w", batch_size=1, executor=pool)
            assert await Checkpoints(engine).get("w") is None  # nothing was written, nothing claimed
        finally:
            await engine.dispose()

    with caplog.at_level(logging.ERROR, logger="ingest.stream"):
        asyncio.run(run())
    failures = [r for r in caplog.records if r.getMessage() == "writing a batch failed"]
    assert failures and failures[0].exc_info is not None
    assert "token_transfers" in str(failures[0].exc_info[1])
    assert sql(migrated_pg, "SELECT count(*) FROM checkpoints WHERE name = 'w'") == [(0,)]


def test_the_ledgers_before_a_gap_are_written_then_the_gap_is_raised(
    migrated_pg: str, shared_ledgers: Path
) -> None:
    """A batch larger than what comes before the gap: its six whole ledgers are committed (the checkpoint says
    so), then `LedgerGap` is raised; nothing decoded is thrown away."""

    async def run() -> int | None:
        ingest = await _tenant_engine(migrated_pg)
        try:

            async def ledgers() -> AsyncIterator[tuple[int, bytes]]:
                for item in _with_gap(shared_ledgers):
                    yield item

            with pytest.raises(LedgerGap, match=f"ledger {FIRST + 6} is missing"):
                await ingest_stream(ledgers(), ingest, checkpoint="gap", batch_size=50)
            return await Checkpoints(ingest.engine).get("gap")
        finally:
            await ingest.engine.dispose()

    assert asyncio.run(run()) == FIRST + 5
