"""Closed DEX candles and archival: ledgers archived and then ingested again (`obsrvr-flow ingest`, which the
backfill guard does not stop: it guards planned backfills only) close no candle a second time.

`dex_closed_candles` is a history table but the DEXVolumeProcessor archives nothing, so every closed row stays in
the hot store, where the "already closed" check of `processors.dex_volume.closing` reads. Were the table ever
archived, that check would find nothing hot for an archived candle and record and publish it again; this test
would then fail (the table's rows or the batches' published rows would change)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from core.settings import Network
from core.tenant_config import parse_tenant_config
from ingest.engine import IngestEngine, plan_tenants
from processors.registry import default_registry
from storage.cold.archival import ArchiveCut
from storage.db import create_engine
from tests import corpus
from tests.api.helpers import settings_for, sql
from tests.mainnet_data import FULL, LAST, MainnetData, tenant_document
from tests.services.tiers import archive

CLOSED = "SELECT id, pair, interval, bucket_start FROM dex_closed_candles WHERE tenant_id = :t ORDER BY id"


def test_reingesting_archived_ledgers_closes_no_candle_again(
    mainnet_pg: MainnetData, shared_ledgers: Path, tmp_path: Path
) -> None:
    url = mainnet_pg.url
    closed = sql(url, CLOSED, t=FULL)
    assert closed, "the 20 ledgers close candles"
    cut = ArchiveCut(before_ledger=LAST + 1)
    report = asyncio.run(archive(settings_for(url, cold_url=str(tmp_path / "cold")), FULL, cut))
    archived = {t.table for t in report.tables if t.rows}
    assert "dex_trades" in archived and "dex_closed_candles" not in archived
    assert sql(url, "SELECT count(*) FROM dex_trades WHERE tenant_id = :t", t=FULL)[0][0] == 0
    published = asyncio.run(_reingest(url, shared_ledgers))
    assert sql(url, "SELECT count(*) FROM dex_trades WHERE tenant_id = :t", t=FULL)[0][0] > 0  # written again
    assert published == []
    assert sql(url, CLOSED, t=FULL) == closed


async def _reingest(url: str, ledgers: Path) -> list[dict[str, Any]]:
    """The 20 ledgers ingested again for the tenant, as `obsrvr-flow ingest` does; the closed candles the
    batches would publish."""
    catalogue = default_registry().catalogue()
    config = parse_tenant_config(tenant_document(FULL, [p.type_name for p in catalogue.values()]), catalogue)
    plans = plan_tenants([config], catalogue, Network.pubnet)
    engine = create_engine(url)
    try:
        ingest = IngestEngine(engine, Network.pubnet, plans=plans)
        results = corpus.tenant_results(ledgers, corpus.MAINNET_20, plans)
        published: list[dict[str, Any]] = []
        for start in range(0, len(results), 5):  # as the first ingestion batched them
            batch = await ingest.write_batch(results[start : start + 5])
            published += batch.rows.get(FULL, {}).get("dex_volume", {}).get("dex_closed_candles", [])
        return published
    finally:
        await engine.dispose()
