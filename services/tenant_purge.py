"""Deleting a tenant: everything of it goes (the seed's GDPR point), in bounded batches, resumable after a crash.

`start_purge` is the first transaction: the tenant row and its keys go at once (access ends when it commits)
and a `tenant_purges` record holds the id until the rest is gone. `run_purge` then works through the steps in
order, each a series of short transactions that move the record's progress with the rows they delete, so a
crash anywhere loses no count and a rerun (the CLI again, or the `resume_purges` cron) continues where the last
committed batch stopped:

1. every table of every processor in the registry that has a `tenant_id` column, enabled for the tenant or not
   (a processor disabled long ago may still hold rows);
2. the tenant's cold files (every object under its `customer_id=` prefix) with their manifest rows and archive
   watermarks;
3. the foundation tables that hold tenant data: usage counters, archive watermarks and the cold manifest
   (anything step 2 left), API keys and backfill ranges (anything the cascade left), the checkpoints of its
   backfill chunks, and its audit rows;
4. a last sweep of the processor tables (a backfill batch written meanwhile) and of `usage_counters` (a
   replica's flush of tallies it buffered before the deletion: a flush drops the tallies of a tenant that no
   longer exists, and one that locked the tenant row first committed before the deletion, see `storage.usage`),
   then the tenant's cached responses (`forget_responses`, given by the caller that can reach the cache);
5. the last transaction deletes the audit rows written meanwhile, writes the one audit record of the deletion
   (tenant id, actor, time, counts: no name, no configuration) and marks the purge done.

Cached responses: the purge job deletes the tenant's entries (the prefix is `api.response_cache`'s) from the
Redis cache in a worker, from the serve process's memory cache in the embedded mode. `obsrvr-flow tenants
delete` in the embedded mode cannot reach that memory: those entries stay there, unreachable (the response cache
keys entries by the tenant's configuration version and creation time, so none is served to a tenant created
later under the id) and expire within `cache_ttl_seconds`. Webhook endpoints go with the tenant row in the
first transaction (foreign key cascade), and with them their outbox messages and delivery log.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy import ColumnElement, Table
from sqlalchemy.ext.asyncio import AsyncEngine

from core.settings import Settings
from processors.registry import Registry
from services.archiving import archive_lease
from storage.backfill import tenant_checkpoint_prefix
from storage.cold.archival import purge_cold
from storage.cold.store import ColdStore
from storage.cold.tables import archive_watermarks, cold_files
from storage.jobs import JobQueue
from storage.leases import try_lease
from storage.purges import PurgeRecord, PurgeStore, count_rows, purge_table_rows
from storage.tables import api_keys, audit_log, backfill_ranges, checkpoints, ingested_ranges, usage_counters

log = logging.getLogger(__name__)

COLD_STEP = "cold_objects"
ARCHIVAL_WAIT_SECONDS = 60.0

# (step, done so far, total known at the step's start; None where it is not known before the step ends)
Progress = Callable[[str, int, int | None], None]
# Deletes the tenant's cached responses; returns how many went.
ForgetResponses = Callable[[str], Awaitable[int]]
CACHE_STEP = "cached_responses"


@dataclass(frozen=True)
class RowStep:
    """One table to empty of the tenant's rows (`where` narrows tables without a `tenant_id` column)."""

    name: str
    table: Table
    where: ColumnElement[bool]


class PurgeBusy(Exception):
    """Another process runs this tenant's purge now (it holds the purge's lease)."""


def purge_lease(tenant_id: str) -> str:
    return f"purge:{tenant_id}"


PURGE_JOB = "purge_tenant"  # the job function (workers.jobs) that runs `run_purge`
RESUME_PURGES_JOB = "resume_purges"  # the cron job that re-queues purges a crash interrupted
RESUME_PURGES_EVERY_SECONDS = 60


def purge_job_id(tenant_id: str, run: str) -> str:
    """The job id of one run of a tenant's purge: `run` is the purge's start (a second DELETE of the same
    deletion queues nothing new, a later deletion of a tenant re-created under the id does) or the resume
    cron's window."""
    return f"purge:{tenant_id}:{run}"


async def queue_purge(jobs: JobQueue, record: PurgeRecord) -> bool:
    """Enqueue the run of a started purge; False when it is queued already. `QueueUnavailable` when the queue
    cannot be reached (the `resume_purges` cron enqueues it once it is back)."""
    run = str(int(record.started_at.timestamp() * 1_000_000)) if record.started_at else "0"
    return await jobs.enqueue(PURGE_JOB, record.tenant_id, job_id=purge_job_id(record.tenant_id, run))


def row_steps(registry: Registry, tenant_id: str) -> tuple[list[RowStep], list[RowStep]]:
    """The tables to purge before the cold step (every processor table with a `tenant_id` column) and after it
    (the foundation tables), in order."""
    seen: set[str] = set()
    processor_steps = []
    for _, table in registry.tables():
        if "tenant_id" in table.c and table.name not in seen:
            seen.add(table.name)
            processor_steps.append(RowStep(table.name, table, table.c.tenant_id == tenant_id))
    foundation = [
        RowStep(t.name, t, t.c.tenant_id == tenant_id)
        for t in (usage_counters, archive_watermarks, cold_files, api_keys, backfill_ranges, ingested_ranges)
    ]
    foundation.append(
        RowStep(
            checkpoints.name,
            checkpoints,
            checkpoints.c.name.startswith(tenant_checkpoint_prefix(tenant_id), autoescape=True),
        )
    )
    foundation.append(RowStep(audit_log.name, audit_log, audit_log.c.tenant_id == tenant_id))
    return processor_steps, foundation


async def start_purge(engine: AsyncEngine, tenant_id: str, actor: str) -> PurgeRecord | None:
    """The purge's first transaction (see the module docstring); None when there is neither such a tenant nor
    an unfinished purge of it."""
    return await PurgeStore(engine).start(tenant_id, actor)


async def run_purge(
    engine: AsyncEngine,
    registry: Registry,
    settings: Settings,
    tenant_id: str,
    *,
    progress: Progress | None = None,
    forget_responses: ForgetResponses | None = None,
) -> PurgeRecord | None:
    """Run (or resume) the started purge of `tenant_id` to its end; returns its final record (None when no purge
    of it was started). `PurgeBusy` when another process is running it. `forget_responses(tenant_id)` deletes
    its cached responses where the caller can reach the cache (see the module docstring)."""
    store = PurgeStore(engine)
    async with try_lease(engine, purge_lease(tenant_id)) as held:
        if not held:
            raise PurgeBusy(f"the purge of tenant '{tenant_id}' is running in another process")
        record = await store.get(tenant_id)
        if record is None or record.finished:
            return record
        before, after = row_steps(registry, tenant_id)
        for step in before:
            await _purge_step(engine, store, tenant_id, step, record, settings.purge_batch_rows, progress)
        if COLD_STEP not in record.completed:
            # An archival of the tenant that started before the deletion may still be writing files: the cold
            # step waits for its lease (none can start now: the tenant row is gone), or a rerun does.
            async with try_lease(
                engine, archive_lease(tenant_id), wait_seconds=ARCHIVAL_WAIT_SECONDS
            ) as archival_done:
                if not archival_done:
                    raise PurgeBusy(
                        f"an archival of tenant '{tenant_id}' is still running; run the purge again"
                    )
                objects = await purge_cold_tier(engine, settings, tenant_id)
            await store.complete_step(tenant_id, COLD_STEP, objects)
            if progress is not None:
                progress(COLD_STEP, objects, objects)
        for step in after:
            await _purge_step(engine, store, tenant_id, step, record, settings.purge_batch_rows, progress)
        # A backfill chunk that was running when the tenant was deleted may have written a batch after its
        # table's step, and a replica's usage flush may have written counters after theirs: one more pass (an
        # indexed look-up per table when, as usual, nothing is left).
        for step in [*before, *(s for s in after if s.table is usage_counters)]:
            await purge_table_rows(
                engine,
                tenant_id,
                step.table,
                step=step.name,
                where=step.where,
                batch_rows=settings.purge_batch_rows,
            )
        if forget_responses is not None and CACHE_STEP not in record.completed:
            forgotten = await forget_responses(tenant_id)
            await store.complete_step(tenant_id, CACHE_STEP, forgotten)
        final = await store.get(tenant_id)
        assert final is not None
        done = await store.finish(tenant_id, {"deleted": dict(final.progress)})
        log.info("tenant %s purged: %s", tenant_id, final.progress)
        return done


async def _purge_step(
    engine: AsyncEngine,
    store: PurgeStore,
    tenant_id: str,
    step: RowStep,
    record: PurgeRecord,
    batch_rows: int,
    progress: Progress | None,
) -> None:
    if step.name in record.completed:
        return
    already = record.progress.get(step.name, 0)
    total = already + await count_rows(engine, step.table, step.where)
    if progress is not None:
        progress(step.name, already, total)

    async def on_batch(deleted: int) -> None:
        if progress is not None:
            progress(step.name, already + deleted, total)

    await purge_table_rows(
        engine,
        tenant_id,
        step.table,
        step=step.name,
        where=step.where,
        batch_rows=batch_rows,
        on_batch=on_batch,
    )
    await store.complete_step(tenant_id, step.name)


async def purge_cold_tier(engine: AsyncEngine, settings: Settings, tenant_id: str) -> int:
    """Delete every cold object of the tenant with its manifest rows and watermarks; returns objects deleted.
    An unreachable object store fails the purge here (`ColdStoreUnreachable`): the step is not marked done, so
    the next run (the CLI again, or the resume cron) tries again."""
    store = ColdStore.from_settings(settings)
    try:
        return await purge_cold(engine, store, tenant_id, cache_dir=settings.cold_cache_dir)
    finally:
        await store.close()
