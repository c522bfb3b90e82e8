"""The purge job and its resume cron: an unfinished purge (its job lost with a worker, or never queued) is
queued again by `resume_purges` and runs to its end; a second run of a finished purge does nothing."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, insert, select

from api.response_cache import tenant_entries_prefix
from processors.registry import default_registry
from storage.cache import MemoryCache
from storage.db import create_engine
from storage.jobs import InProcessJobQueue
from storage.purges import PurgeStore
from storage.tables import audit_log, usage_counters, utcnow
from storage.tenants import TenantStore
from storage.usage import UsageCounters
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


async def test_purge_sweeps_late_usage_and_the_tenants_cached_responses(migrated_db_url: str) -> None:
    engine = create_engine(migrated_db_url)
    cache = MemoryCache()
    ctx: dict[str, Any] = {
        "engine": engine,
        "registry": default_registry(),
        "settings": settings_for(migrated_db_url),
        "cache": cache,
    }
    hour = utcnow().replace(minute=0, second=0, microsecond=0)
    try:
        await TenantStore(engine).create("gone", "Gone", "pubnet", {"customer": {}})
        await TenantStore(engine).create("kept", "Kept", "pubnet", {"customer": {}})
        await cache.set(tenant_entries_prefix("gone") + "abc", b"body", ttl_seconds=60)
        await cache.set(tenant_entries_prefix("kept") + "abc", b"body", ttl_seconds=60)
        buffered = UsageCounters(engine, flush_seconds=60)
        buffered.record("gone", None, "rest")  # a replica's tally, not yet flushed at the deletion
        buffered.record("kept", None, "rest")
        assert await PurgeStore(engine).start("gone", "admin") is not None
        # A flush that read the tenant row before the deletion committed, written after the usage step:
        await PurgeStore(engine).complete_step("gone", "usage_counters")
        async with engine.begin() as conn:
            await conn.execute(
                insert(usage_counters).values(tenant_id="gone", key_id="", bucket=hour, kind="rest", count=3)
            )
        record = await purge_tenant(ctx, "gone")
        assert record["status"] == "done" and record["progress"]["cached_responses"] == 1
        await buffered.flush()  # after the purge: the deleted tenant's tally is dropped
        async with engine.connect() as conn:
            left = (await conn.execute(select(usage_counters.c.tenant_id, usage_counters.c.count))).all()
        assert [tuple(row) for row in left] == [("kept", 1)]
        assert await cache.get(tenant_entries_prefix("gone") + "abc") is None
        assert await cache.get(tenant_entries_prefix("kept") + "abc") == b"body"
    finally:
        await engine.dispose()
