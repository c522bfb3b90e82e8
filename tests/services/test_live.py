"""Moving a network's live start while the job queue is down: the start is stored and the skipped ledgers'
chunks are recorded as queued (the view says they wait for the queue) rather than a 503 after the change; the
`resume_backfills` cron's `requeue_queued` enqueues them once the queue is back."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import yaml

from core.settings import Network
from core.tenant_config import parse_tenant_config
from processors.registry import default_registry
from services.live import set_live_start
from storage.backfill import BACKFILL_JOB, BackfillStore
from storage.checkpoints import Checkpoints, LiveStarts
from storage.db import create_engine
from storage.jobs import InProcessJobQueue, UnreachableJobQueue
from storage.tables import utcnow
from storage.tenants import TenantStore
from tests.api.helpers import ACME_YAML


async def test_a_jump_ahead_with_the_queue_down_records_the_gap(migrated_sqlite: str) -> None:
    registry = default_registry()
    config = parse_tenant_config(yaml.safe_load(ACME_YAML), registry.catalogue())
    tenant = config.customer.id
    engine = create_engine(migrated_sqlite)
    ran: list[tuple[Any, ...]] = []

    async def backfill(ctx: dict[str, Any], *args: Any) -> None:
        ran.append(args)

    jobs = InProcessJobQueue({BACKFILL_JOB: backfill}, {})
    try:
        await TenantStore(engine).create(tenant, "Acme", "pubnet", config.to_document())
        async with engine.begin() as conn:
            await Checkpoints(engine).set(conn, "live:pubnet", Network.pubnet.value, 100)
        view = await set_live_start(
            engine, registry, UnreachableJobQueue("refused"), Network.pubnet, 121, chunk_size=10
        )
        assert view["skipped"] == {"from": 101, "to": 120}
        assert view["backfill"] == {tenant: 2}
        assert "unreachable" in view["waiting_for_queue"]
        assert "2 chunk(s) recorded" in view["warning"]
        assert await LiveStarts(engine).pending("pubnet") == 121
        assert (await BackfillStore(engine).summary(tenant))["*"].ranges_total == 2

        later = utcnow() + timedelta(minutes=1)
        assert len(await BackfillStore(engine).requeue_queued(jobs, older_than_seconds=5, now=later)) == 2
        await jobs.drain()
    finally:
        await jobs.close()
        await engine.dispose()
    types = [entry.type for entry in config.enabled_processors()]
    assert sorted(ran) == [(tenant, 101, 110, types), (tenant, 111, 120, types)]
