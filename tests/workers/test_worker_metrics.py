"""A real arq worker with `OBSRVR_WORKER_METRICS_PORT`: its own ingestion counters on its own port while it
runs (behind `OBSRVR_METRICS_TOKEN` when that is set), nothing once it stops; without the setting it opens no
port."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import httpx
import pytest
from arq.connections import RedisSettings, create_pool
from arq.worker import Worker
from prometheus_client.parser import text_string_to_metric_families

from core.tenant_config import parse_tenant_config
from ledgers.samples import ensure_sample_datastore
from processors.registry import default_registry
from storage.db import create_engine
from storage.jobs import ArqJobQueue
from storage.tenants import TenantStore
from tests.conftest import REDIS_URL
from tests.workers.test_arq_worker import settings_for
from workers.worker import worker_settings

pytestmark = pytest.mark.filterwarnings("ignore:Call to deprecated close:DeprecationWarning")
TYPES = ["TokenTransferProcessor"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def add_tenant(url: str, tenant_id: str) -> None:
    document = {
        "customer": {
            "id": tenant_id,
            "name": tenant_id,
            "network": "pubnet",
            "processors": [{"type": t} for t in TYPES],
        }
    }
    config = parse_tenant_config(document, default_registry().catalogue())
    engine = create_engine(url)
    try:
        await TenantStore(engine).create(tenant_id, tenant_id, "pubnet", config.to_document())
    finally:
        await engine.dispose()


async def test_worker_serves_its_ingestion_counters(
    migrated_pg: str, redis_prefix: str, arq_cleanup: None, tmp_path: Path
) -> None:
    pg_url = migrated_pg
    await add_tenant(pg_url, "sample-w")
    info = ensure_sample_datastore(tmp_path / "samples")
    port = free_port()
    settings = settings_for(
        pg_url,
        redis_prefix,
        pubnet_source=str(tmp_path / "samples"),
        decode_processes=1,
        worker_metrics_port=port,
        metrics_token="scrape-token",
    )
    pool = await create_pool(RedisSettings.from_dsn(REDIS_URL), default_queue_name=settings.queue_name)
    queue = ArqJobQueue(pool, settings.queue_name)
    url = f"http://127.0.0.1:{port}/metrics"
    try:
        args = ("sample-w", info.first_ledger, info.last_ledger, TYPES)
        assert await queue.enqueue("backfill_range", *args, job_id="samples")
        worker_ctx: dict[str, Any] = {}
        worker = Worker(
            **worker_settings(settings, burst=True),
            burst=True,
            handle_signals=False,
            poll_delay=0.05,
            ctx=worker_ctx,
        )
        try:
            await worker.async_run()
            assert worker.jobs_failed == 0
            async with httpx.AsyncClient() as client:
                refused = await client.get(url)  # the port asks for the metrics token, like /metrics
                assert refused.status_code == 401 and "scrape-token" not in refused.text
                scraped = await client.get(url, headers={"Authorization": "Bearer scrape-token"})
                assert scraped.status_code == 200  # still up: the worker has not shut down yet
                text = scraped.text
        finally:
            await worker.close()
        samples = {
            (s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text)
            for s in family.samples
        }
        ledgers = info.last_ledger - info.first_ledger + 1
        assert samples[("obsrvr_worker_ledgers_total", (("network", "pubnet"),))] == ledgers
        assert (
            samples[("obsrvr_worker_rows_total", (("network", "pubnet"), ("table", "token_transfers")))] > 0
        )
        assert samples[("obsrvr_worker_batch_seconds_count", (("network", "pubnet"),))] >= 1
        with pytest.raises(httpx.ConnectError):  # stopped with the worker
            async with httpx.AsyncClient() as client:
                await client.get(url)
    finally:
        await pool.aclose(close_connection_pool=True)


async def test_no_port_without_the_setting(sqlite_url: str, redis_prefix: str) -> None:
    from workers.metrics import serve_worker_metrics

    assert serve_worker_metrics(settings_for(sqlite_url, redis_prefix)) == (None, None)


async def test_a_port_in_use_is_a_clear_error(sqlite_url: str, redis_prefix: str) -> None:
    from core.errors import ConfigError
    from workers.metrics import serve_worker_metrics

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = int(taken.getsockname()[1])
        with pytest.raises(
            ConfigError, match=f"OBSRVR_WORKER_METRICS_PORT: cannot listen on 127.0.0.1:{port}"
        ):
            serve_worker_metrics(settings_for(sqlite_url, redis_prefix, worker_metrics_port=port))
