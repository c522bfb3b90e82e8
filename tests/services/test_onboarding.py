"""Scheduling a tenant's backfills while the job queue is down is no failure: the chunks are recorded as queued and
the plan says they wait for the queue; applying the tenant again once it is back enqueues them."""

from __future__ import annotations

from typing import Any

import yaml

from core.settings import Network
from core.tenant_config import parse_tenant_config
from processors.registry import default_registry
from services.onboarding import schedule_backfills
from storage.backfill import BACKFILL_JOB, BackfillStore
from storage.checkpoints import Checkpoints
from storage.db import create_engine
from storage.jobs import InProcessJobQueue, UnreachableJobQueue
from storage.tenants import TenantStore
from tests.api.helpers import ACME_YAML


async def test_backfills_wait_for_the_queue_then_go_on_apply(migrated_sqlite: str) -> None:
    doc = yaml.safe_load(ACME_YAML)
    doc["customer"]["processors"][0]["start_ledger"] = 100
    config = parse_tenant_config(doc, default_registry().catalogue())
    engine = create_engine(migrated_sqlite)
    ran: list[tuple[Any, ...]] = []

    async def backfill(ctx: dict[str, Any], *args: Any) -> None:
        ran.append(args)

    jobs = InProcessJobQueue({BACKFILL_JOB: backfill}, {})
    try:
        async with engine.begin() as conn:
            await Checkpoints(engine).set(conn, "latest:pubnet", Network.pubnet.value, 104)
        await TenantStore(engine).create(config.customer.id, "Acme", "pubnet", config.to_document())
        plan = await schedule_backfills(engine, UnreachableJobQueue("refused"), config, None, 1000)
        step = plan["TokenTransferProcessor"]
        assert (step["status"], step["from"], step["to"], step["jobs"]) == ("queued", 100, 104, 0)
        assert "unreachable" in step["waiting_for_queue"]
        assert (await BackfillStore(engine).summary(config.customer.id))["*"].ranges_total == 1

        # Applied again (nothing changed) with the queue back: the waiting chunk goes to the queue.
        again = await schedule_backfills(engine, jobs, config, config, 1000)
        assert again == {}
        await jobs.drain()
    finally:
        await jobs.close()
        await engine.dispose()
    assert ran == [(config.customer.id, 100, 104, ["TokenTransferProcessor"])]
