"""Archival jobs: `schedule_archives` (a cron every minute: enqueues the tenants whose `archive_schedule` is
due, under one deterministic id per tenant and scheduled time) and `archive_tenant` (one run, to completion).

Both run unchanged on an arq worker and in the embedded mode's in-process runner (`JobWiring.periodic` runs the
schedule there); `obsrvr-flow archive` calls `services.archiving.archive_tenant` directly.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from services.archiving import (
    ARCHIVE_JOB,
    ArchiveRunning,
    due_tenants,
    parse_before,
    scheduled_job_id,
)
from services.archiving import (
    archive_tenant as archive_tenant_now,
)
from storage.tenants import TenantStore

log = logging.getLogger(__name__)

__all__ = ["archive_tenant", "schedule_archives"]


async def archive_tenant(
    ctx: dict[str, Any], tenant_id: str, processor: str | None = None, before: str | None = None
) -> dict[str, Any]:
    """Archive one tenant now (`processor` only, rows before `before`: a ledger number or an ISO time; default
    the retention cut-off). A tenant deleted meanwhile, or a run already in progress, is skipped."""
    record = await TenantStore(ctx["engine"]).get(tenant_id)
    if record is None:
        log.info("archive of tenant %s skipped: the tenant no longer exists", tenant_id)
        return {"tenant_id": tenant_id, "skipped": "tenant_not_found"}
    settings = ctx["settings"]
    try:
        report = await archive_tenant_now(
            ctx["engine"],
            ctx["cold_store"],
            ctx["registry"],
            record,
            processor=processor,
            cut=parse_before(before) if before is not None else None,
            max_file_rows=settings.archive_max_file_rows,
            delete_batch_rows=settings.archive_delete_batch_rows,
            cache_dir=settings.cold_cache_dir,
        )
    except ArchiveRunning:
        log.info("archive of tenant %s skipped: another run holds its lease", tenant_id)
        return {"tenant_id": tenant_id, "skipped": "archive_running"}
    return report.as_dict()


async def schedule_archives(ctx: dict[str, Any], now: datetime | None = None) -> list[str]:
    """Enqueue `archive_tenant` for every tenant whose schedule is due; the ids of the jobs enqueued now."""
    records = await TenantStore(ctx["engine"]).list()
    enqueued = []
    for tenant_id, fire in due_tenants(records, ctx["registry"], now or datetime.now(UTC)).items():
        job_id = scheduled_job_id(tenant_id, fire)
        if await ctx["jobs"].enqueue(ARCHIVE_JOB, tenant_id, job_id=job_id):
            enqueued.append(job_id)
    if enqueued:
        log.info("scheduled archive runs: %s", ", ".join(enqueued))
    return enqueued
