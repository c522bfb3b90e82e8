"""Job functions: `async def name(ctx, *args, **kwargs)`, run by arq workers or the in-process runner.

`ctx` always holds:
- `settings`: core.settings.Settings
- `registry`: the processors.registry.Registry the service runs
- `engine`: the SQLAlchemy AsyncEngine of the hot store
- `jobs`: a storage.jobs.JobQueue, to enqueue follow-up jobs the same way in both modes
- `pubsub`: a storage.pubsub.PubSub, to publish events after commit
- `cold_store`: the storage.cold.store.ColdStore of `OBSRVR_COLD_URL` (archival writes there)
- `outbox`: the services.webhooks.recorder.OutboxRecorder ingest jobs record webhook messages with
- `job_id`, `job_try`, `enqueue_time`: about the current run (arq also adds `score` and `redis`, which jobs
  should not rely on).

Jobs must be idempotent: they are retried, and deterministic job ids can still run twice once the
earlier result has expired.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any


async def maintain_partitions(ctx: dict[str, Any]) -> dict[str, int]:
    """Create the monthly partitions of every partitioned table `partitions_months_ahead` months ahead.

    Returns what `storage.partitions.ensure_partitions_ahead` reports per table. Safe to run any number of
    times: it creates only what is missing.
    """
    from storage.partitions import ensure_partitions_ahead

    return await ensure_partitions_ahead(ctx["engine"], ctx["settings"].partitions_months_ahead)


async def purge_tenant(ctx: dict[str, Any], tenant_id: str) -> dict[str, Any]:
    """Run (or resume) the started purge of `tenant_id` to its end (`services.tenant_purge`). Safe to repeat: a
    finished purge is not run again, and a purge running elsewhere (its lease taken) is left to that run."""
    from api.response_cache import tenant_entries_prefix
    from services.tenant_purge import PurgeBusy, run_purge

    cache = ctx.get("cache")  # the Redis cache (a worker), or the serve process's memory (the embedded mode)

    async def forget_responses(tenant: str) -> int:
        return await cache.delete_prefix(tenant_entries_prefix(tenant)) if cache is not None else 0

    try:
        record = await run_purge(
            ctx["engine"], ctx["registry"], ctx["settings"], tenant_id, forget_responses=forget_responses
        )
    except PurgeBusy:
        return {"skipped": "running elsewhere"}
    return record.as_dict() if record is not None else {"skipped": "no purge of this tenant"}


async def resume_purges(ctx: dict[str, Any]) -> list[str]:
    """Cron: enqueue every unfinished purge again (its job died with a worker, or was never queued: the queue
    was down when the tenant was deleted). A purge still running holds its lease, so a duplicate returns at
    once. Returns the tenant ids enqueued."""
    import time

    from services.tenant_purge import PURGE_JOB, purge_job_id
    from storage.purges import PurgeStore

    window = int(time.time()) // 60  # one enqueue per tenant and minute, however many workers run the cron
    resumed = []
    for tenant_id in await PurgeStore(ctx["engine"]).unfinished():
        if await ctx["jobs"].enqueue(PURGE_JOB, tenant_id, job_id=purge_job_id(tenant_id, f"resume{window}")):
            resumed.append(tenant_id)
    return resumed


def _ingest_jobs() -> dict[str, Callable[..., Awaitable[Any]]]:
    from workers.ingest_jobs import backfill_range, ensure_live_tails, live_tail, resume_backfills

    return {
        "backfill_range": backfill_range,
        "live_tail": live_tail,
        "ensure_live_tails": ensure_live_tails,
        "resume_backfills": resume_backfills,
    }


def _archive_jobs() -> dict[str, Callable[..., Awaitable[Any]]]:
    from workers.archive_jobs import archive_tenant, schedule_archives

    return {"archive_tenant": archive_tenant, "schedule_archives": schedule_archives}


def _webhook_jobs() -> dict[str, Callable[..., Awaitable[Any]]]:
    from workers.webhook_jobs import webhook_jobs

    return webhook_jobs()


# Name -> function. The name is the arq function name, so it must not change while jobs are queued.
JOBS: dict[str, Callable[..., Awaitable[Any]]] = {
    "maintain_partitions": maintain_partitions,
    "purge_tenant": purge_tenant,
    "resume_purges": resume_purges,
    **_ingest_jobs(),
    **_archive_jobs(),
    **_webhook_jobs(),
}
