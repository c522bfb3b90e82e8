"""Archival of a tenant's history rows to the cold tier, shared by the job (arq cron or the in-process runner),
the CLI (`obsrvr-flow archive`) and the admin API (which queues the job).

`storage.cold.archival` moves one table (write, verify, watermark, delete) and knows no processor; this module
decides, per tenant, what moves and when: the tables its enabled processors declare in `archive`, the cut-off
(`storage.hot_retention_days` by close time, or an operator's `--before`), the through-ledger frontier (never
past a ledger an unfinished backfill may still write below), the processors' derived-state hooks
(`Processor.on_archive`), and cold retention (`cold_retention_years`: files older are deleted; 0 = rows are
deleted instead of archived). One run per tenant at a time, by a lease, which planning a backfill of the
tenant takes too (`services.backfill_guard`), so the frontier a run reads is final while it runs. See
docs/decisions.md "Archival: schedule, frontier, retention".
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from croniter import CroniterError, croniter
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from core.errors import BadRequest, Conflict, ServiceUnavailable
from core.tenant_config import TenantConfig
from processors.base import Processor
from processors.registry import Registry
from services.tenant_configs import stored_config
from storage.backfill import BackfillStore
from storage.cold.archival import (
    ArchiveCut,
    OnArchived,
    TableArchived,
    archive_table,
    expire_cold_files,
    forget_rows,
)
from storage.cold.store import ColdStore
from storage.leases import try_lease
from storage.query import Row
from storage.tenants import TenantRecord

log = logging.getLogger("obsrvr_flow.archive")

ARCHIVE_JOB = "archive_tenant"
SCHEDULE_JOB = "schedule_archives"
SCHEDULE_EVERY_SECONDS = 60
"""How often the schedule is checked (the arq cron, and the embedded mode's in-process timer)."""
CATCH_UP = timedelta(hours=1)
"""A scheduled run missed by at most this long (workers down at the time) still runs. Not longer than the
queues keep a finished job's id (an hour), so the deterministic id refuses a run that already happened."""
LEASE_WAIT_SECONDS = 5.0


class ArchiveRunning(Conflict):
    """Another archival (or purge) of the tenant holds its lease."""

    code = "archive_running"


@dataclass(frozen=True)
class ArchiveReport:
    """What one run did: per processor table what moved (or, with `cold_retention_years` 0, was deleted:
    no files, `deleted` rows), and how many cold files retention deleted."""

    tenant_id: str
    cut: ArchiveCut
    tables: tuple[TableArchived, ...]
    expired_files: int
    dropped: bool  # cold_retention_years == 0: rows were deleted, not archived

    def as_dict(self) -> dict[str, Any]:
        return {
            "tenant_id": self.tenant_id,
            "cut": {
                "before_time": self.cut.before_time.isoformat() if self.cut.before_time else None,
                "before_ledger": self.cut.before_ledger,
            },
            "dropped": self.dropped,
            "expired_files": self.expired_files,
            "tables": [table_view(t) for t in self.tables],
        }


def table_view(moved: TableArchived) -> dict[str, Any]:
    watermark = moved.watermark
    return {
        "processor": moved.processor,
        "table": moved.table,
        "files": len(moved.files),
        "rows": moved.rows,
        "deleted": moved.deleted,
        "watermark": None
        if watermark is None
        else {
            "last_id": watermark.last_id,
            "last_ledger": watermark.last_ledger,
            "last_closed_at": watermark.last_closed_at.isoformat(),
        },
    }


def archive_lease(tenant_id: str) -> str:
    """The lease one archival of the tenant holds (a purge of the tenant may take it too)."""
    return f"archive:{tenant_id}"


def parse_before(value: str) -> ArchiveCut:
    """`--before` / the admin body's `before`: a ledger number or an ISO-8601 time (UTC when it has no zone).
    `BadRequest` naming it otherwise."""
    text = value.strip()
    if text.isascii() and text.isdigit():
        ledger = int(text)
        if not 1 <= ledger <= 2**32:
            raise BadRequest("before: a ledger number must be from 1 to 4294967296", code="invalid_before")
        return ArchiveCut(before_ledger=ledger)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise BadRequest(
            f"before: {value!r} is neither a ledger number nor an ISO-8601 time (2026-01-31T00:00:00Z)",
            code="invalid_before",
        ) from None
    try:
        instant = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00+01:00 and the like: outside the calendar once in UTC
        raise BadRequest(f"before: {value!r} is outside the calendar in UTC", code="invalid_before") from None
    return ArchiveCut(before_time=instant)


def retention_cut(config: TenantConfig, now: datetime) -> ArchiveCut:
    """Rows closed more than `hot_retention_days` before `now`."""
    return ArchiveCut(before_time=now - timedelta(days=config.customer.storage.hot_retention_days))


def years_before(moment: datetime, years: int) -> datetime:
    """`moment` `years` calendar years earlier (29 February becomes 28 February)."""
    try:
        return moment.replace(year=moment.year - years)
    except ValueError:
        return moment.replace(year=moment.year - years, day=28)


def archived_processors(
    registry: Registry, config: TenantConfig, processor: str | None = None
) -> list[tuple[Processor[Any], BaseModel]]:
    """The tenant's enabled processors that archive a table (only `processor` when named); `BadRequest`
    naming it when it is unknown or not enabled for the tenant."""
    enabled = registry.enabled(config)
    if processor is not None:
        chosen = [(p, c) for p, c in enabled if p.name == processor]
        if not chosen:
            known = {p.name for p in registry}
            why = "is not enabled for this tenant" if processor in known else "is not a processor"
            names = ", ".join(p.name for p, _ in enabled if p.archive) or "none"
            raise BadRequest(
                f"processor: {processor!r} {why} (archiving processors of this tenant: {names})",
                code="invalid_processor",
                details={"parameter": "processor"},
            )
        enabled = tuple(chosen)
    return [(p, c) for p, c in enabled if p.archive]


async def backfill_frontier(engine: AsyncEngine, tenant_id: str, type_name: str) -> int | None:
    """The last ledger that may be archived for the tenant's processor `type_name`: just below the first
    ledger of any backfill chunk filling it that is not done (queued, running, failed, deferred), which may
    still write rows there; None when there is none (every ledger already written is final)."""
    first = await BackfillStore(engine).first_unfinished_ledger(tenant_id, type_name)
    return first - 1 if first is not None else None


def derived_state_hook(
    tenant_id: str, table_name: str, enabled: Sequence[tuple[Processor[Any], BaseModel]]
) -> OnArchived | None:
    """`on_archived` for `archive_table`: every enabled processor with an `on_archive` sees the rows of
    `table_name` leaving the hot store, inside the watermark transaction."""
    hooks = [(p.on_archive, cfg) for p, cfg in enabled if p.on_archive is not None]
    if not hooks:
        return None

    async def on_archived(conn: AsyncConnection, rows: list[Row]) -> None:
        for hook, cfg in hooks:  # each reads the tables it derives from and ignores the others
            await hook(conn, tenant_id, {table_name: rows}, cfg)

    return on_archived


async def archive_tenant(
    engine: AsyncEngine,
    store: ColdStore,
    registry: Registry,
    tenant: TenantRecord,
    *,
    processor: str | None = None,
    cut: ArchiveCut | None = None,
    now: datetime | None = None,
    progress: Callable[[TableArchived], None] | None = None,
    max_file_rows: int = 1_000_000,
    delete_batch_rows: int = 5_000,
    lease_wait_seconds: float = LEASE_WAIT_SECONDS,
    cache_dir: Path | None = None,
) -> ArchiveReport:
    """Archive the tenant's history tables (of `processor` only, when named) up to `cut` (default: the
    retention cut-off at `now`), then apply cold retention. `ArchiveRunning` when another run of the tenant
    holds the lease; `BadRequest` for a processor that is unknown or not enabled; `progress` sees each table
    as it is done; `cache_dir` (the cold cache folder) loses its copies of expired files. A crash anywhere
    is resumed by running it again (see `storage.cold.archival`)."""
    now = now or datetime.now(UTC)
    config = stored_config(tenant, registry)
    chosen = archived_processors(registry, config, processor)
    enabled = registry.enabled(config)
    cut = cut or retention_cut(config, now)
    storage = config.customer.storage
    dropped = storage.cold_retention_years == 0
    async with try_lease(engine, archive_lease(tenant.id), wait_seconds=lease_wait_seconds) as held:
        if not held:
            raise ArchiveRunning(f"an archival of tenant '{tenant.id}' is already running; try again later")
        moved: list[TableArchived] = []
        for proc, _ in chosen:
            for table in proc.archive:
                frontier = await backfill_frontier(engine, tenant.id, proc.type_name)
                hook = derived_state_hook(tenant.id, table.name, enabled)
                if dropped:
                    done = await forget_rows(
                        engine,
                        tenant.id,
                        table,
                        cut,
                        processor=proc.name,
                        through_ledger=frontier,
                        on_archived=hook,
                        batch_rows=delete_batch_rows,
                    )
                else:
                    done = await archive_table(
                        engine,
                        store,
                        tenant_id=tenant.id,
                        processor=proc.name,
                        table=table,
                        cut=cut,
                        through_ledger=frontier,
                        on_archived=hook,
                        max_file_rows=max_file_rows,
                        delete_batch_rows=delete_batch_rows,
                    )
                moved.append(done)
                log.info(
                    "tenant %s: %s.%s archived %d rows in %d files, deleted %d hot rows",
                    tenant.id,
                    done.processor,
                    done.table,
                    done.rows,
                    len(done.files),
                    done.deleted,
                )
                if progress is not None:
                    progress(done)
        expired = await expire_cold_files(
            engine, store, tenant.id, years_before(now, storage.cold_retention_years), cache_dir=cache_dir
        )
    return ArchiveReport(tenant.id, cut, tuple(moved), expired, dropped)


def due_run(schedule: str, now: datetime) -> datetime | None:
    """The time of the schedule's latest run at or before `now` if it is at most `CATCH_UP` ago (UTC cron)."""
    fire: datetime = croniter(schedule, now.astimezone(UTC)).get_prev(datetime)
    if fire.tzinfo is None:
        fire = fire.replace(tzinfo=UTC)
    return fire if now - fire <= CATCH_UP else None


def scheduled_job_id(tenant_id: str, fire: datetime) -> str:
    """One id per tenant and scheduled time: enqueueing it again (every check within `CATCH_UP`, on any
    number of workers) is refused by the queue."""
    return f"archive:{tenant_id}:{fire.astimezone(UTC):%Y%m%dT%H%M}"


def due_tenants(records: Sequence[TenantRecord], registry: Registry, now: datetime) -> dict[str, datetime]:
    """The tenants (with an archiving processor enabled) whose `archive_schedule` is due, with the time due."""
    due = {}
    for record in records:
        try:
            config = stored_config(record, registry)
        except ServiceUnavailable:  # logged there; one tenant's broken document must not stop the others
            continue
        if not archived_processors(registry, config):
            continue
        schedule = config.customer.storage.archive_schedule
        try:
            fire = due_run(schedule, now)
        except CroniterError as exc:
            # Validation refuses a schedule with no run (February 31st), which failed this whole check every
            # minute, for every tenant; should croniter still fail on one, only that tenant goes unscheduled.
            log.warning(
                "tenant %s: archive_schedule %r has no run (%s); not scheduled", record.id, schedule, exc
            )
            continue
        if fire is not None:
            due[record.id] = fire
    return due


def table_line(t: TableArchived) -> str:
    """One table's part of a run in words (the CLI prints it as the table is done)."""
    mark = (
        f"watermark ledger {t.watermark.last_ledger} ({t.watermark.last_id})"
        if t.watermark
        else "no watermark"
    )
    return (
        f"{t.processor}.{t.table}: {len(t.files)} files, {t.rows} rows archived, "
        f"{t.deleted} hot rows deleted, {mark}"
    )


def closing_lines(report: ArchiveReport) -> list[str]:
    """What the run did besides its tables."""
    lines = []
    if not report.tables:
        lines.append("no history table to archive (no enabled processor archives one)")
    if report.dropped:
        lines.append("cold_retention_years is 0: rows past the cut-off were deleted, not archived")
    lines.append(f"cold retention: {report.expired_files} expired files deleted")
    return lines
