"""The purge job and its resume cron: an unfinished purge (its job lost with a worker, or never queued) is
queued again by `resume_purges` and runs to its end; a second run of a finished purge does nothing."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, insert, select

from processors.registry import default_registry
from storage.db import create_engine
from storage.jobs import InProcessJobQueue
from storage.purges import PurgeStore
from storage.tables import audit_log, usage_counters, utcnow
from storage.tenants import TenantStore
from tests.api.helpers import settings_for
from workers.jobs import JOBS, purge_tenant, resume_purges


async def test_resume_cron_finishes_an_unfinished_purge(migrated_db_url: str) -> None:
    engine = create_engine(migrated_db_url)
    ctx: dict[str, Any] = {
        "engine": engine,
        "registry": default_registry(),
        "settings": settings_for(migrated_db_url, purge_batch_rows=2),
    }
    queue = InProcessJobQueue(JOBS, ctx)
    ctx["jobs"] = queue
    try:
        await TenantStore(engine).create("gone", "Gone", "pubnet", {"customer": {}})
        hour = utcnow().replace(minute=0, second=0, microsecond=0)
        async with engine.begin() as conn:
            await conn.execute(
                insert(usage_counters),
                [
                    {"tenant_id": "gone", "key_id": str(k), "bucket": hour, "kind": "rest", "count": 1}
                    for k in range(5)
                ],
            )
        started = await PurgeStore(engine).start("gone", "admin")  # its job never queued: the queue was down
        assert started is not None and not started.finished
        assert await resume_purges(ctx) == ["gone"]
        await queue.drain()
        record = await PurgeStore(engine).get("gone")
        assert record is not None and record.finished and record.progress["usage_counters"] == 5
        assert await resume_purges(ctx) == []
        assert (await purge_tenant(ctx, "gone"))["status"] == "done"  # a repeated job finds it finished
        async with engine.connect() as conn:
            left = await conn.scalar(select(func.count()).select_from(usage_counters))
            records = await conn.scalar(
                select(func.count()).select_from(audit_log).where(audit_log.c.tenant_id == "gone")
            )
        assert left == 0 and records == 1
    finally:
        await queue.close()
        await engine.dispose()
