"""A ledger the fast decoder refuses goes through ingestion anyway: decoded by stellar-sdk, the same rows
written, and counted in ``obsrvr_decoder_fallbacks_total{network, reason}`` when its batch commits."""

from __future__ import annotations

import asyncio
import gzip
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from core.settings import Network, Settings
from core.tenant_config import parse_tenant_config
from ingest.engine import IngestEngine, plan_tenants
from ingest.stream import ingest_stream
from ledgers import skippers
from processors.registry import default_registry
from storage.db import create_engine
from storage.tenants import TenantStore
from tests.api.helpers import sql
from workers.metrics import PrometheusIngestMetrics

FIRST = 63092982


def _ingest(url: str, raws: list[tuple[int, bytes]], decoder: Any, metrics: Any, tenant: str) -> None:
    async def run() -> None:
        engine = create_engine(url)
        try:
            document = {
                "customer": {
                    "id": tenant,
                    "name": tenant,
                    "network": "pubnet",
                    "processors": [{"type": "TokenTransferProcessor", "config": {}}],
                }
            }
            config = parse_tenant_config(document, default_registry().catalogue())
            await TenantStore(engine).create(tenant, tenant, "pubnet", config.to_document())
            plans = plan_tenants([config], default_registry().catalogue(), Network.pubnet)
            ingest = IngestEngine(engine, Network.pubnet, plans=plans, metrics=metrics, decoder=decoder)

            async def ledgers() -> AsyncIterator[tuple[int, bytes]]:
                for item in raws:
                    yield item

            await ingest_stream(ledgers(), ingest, checkpoint=tenant, batch_size=2)
        finally:
            await engine.dispose()

    asyncio.run(run())


def test_refused_ledgers_are_ingested_through_stellar_sdk_and_counted(
    migrated_pg: str, shared_ledgers: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    raws = [
        (seq, gzip.decompress((shared_ledgers / "wallet-backend" / f"ledger-{seq}.xdr.gz").read_bytes()))
        for seq in (FIRST, FIRST + 1)
    ]
    registry = CollectorRegistry()
    metrics = PrometheusIngestMetrics(registry)
    _ingest(migrated_pg, raws, "fast", metrics, "fast-ok")
    assert (
        registry.get_sample_value(
            "obsrvr_decoder_fallbacks_total", {"network": "pubnet", "reason": "unknown_arm"}
        )
        is None
    )

    def refuse(
        b: Any, o: int
    ) -> int:  # the generated skippers made older than stellar-sdk (see tests/ledgers)
        raise skippers.UnknownArm("LedgerCloseMetaExt", 0)

    monkeypatch.setattr(skippers, "skip_LedgerCloseMetaExt", refuse)
    _ingest(migrated_pg, raws, "fast", metrics, "fell-back")
    labels = {"network": "pubnet", "reason": "unknown_arm"}
    assert registry.get_sample_value("obsrvr_decoder_fallbacks_total", labels) == 2
    _ingest(migrated_pg, raws, "sdk", metrics, "sdk-only")  # the sdk decoder never tries, never counts
    assert registry.get_sample_value("obsrvr_decoder_fallbacks_total", labels) == 2
    counts = {
        tenant: sql(migrated_pg, f"SELECT count(*) FROM token_transfers WHERE tenant_id = '{tenant}'")[0][0]
        for tenant in ("fast-ok", "fell-back", "sdk-only")
    }
    assert counts["fast-ok"] > 0 and len(set(counts.values())) == 1, counts


def test_the_decoder_setting_defaults_to_fast(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings().decoder == "fast"
    monkeypatch.setenv("OBSRVR_DECODER", "sdk")
    assert Settings().decoder == "sdk"
