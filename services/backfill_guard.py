"""Keeping backfills above the archive: planning a backfill and archiving the same tenant never overlap, and no
backfill writes history rows at or below a watermark.

The router reads a tenant's hot rows only after the watermark of their table (`id > last_id`), and the next
archival deletes every hot row at or below it (`delete_archived_rows`): a backfilled row there would never be
served and would then be deleted unseen. So a planned range that starts at or below the archived-through ledger
of a table its processors fill is refused (`BackfillBelowArchive`, 409 `backfill_below_archive`), and the plan
is made while holding the tenant's archive lease, so the backfill frontier an archival run reads
(`services.archiving.backfill_frontier`) cannot change during the run. See docs/decisions.md "Archival:
schedule, frontier, retention" ("Backfills never reach below a watermark").
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Mapping

from sqlalchemy.ext.asyncio import AsyncEngine

from core.errors import Conflict
from core.tenant_config import TenantConfig
from processors.registry import Registry
from services.archiving import LEASE_WAIT_SECONDS, ArchiveRunning, archive_lease
from storage.cold.watermarks import read_watermarks
from storage.leases import try_lease


class BackfillBelowArchive(Conflict):
    """A backfill would write rows at or below a watermark: never served, deleted by the next archival."""

    code = "backfill_below_archive"


def new_starts(config: TenantConfig, previous: TenantConfig | None) -> dict[str, int]:
    """The start ledger of every processor type enabled in `config` whose `start_ledger` is new (tenant
    created, processor newly enabled, or its start moved): the backfills applying `config` plans."""
    before = {p.type: p.start_ledger for p in previous.enabled_processors()} if previous else {}
    return {
        e.type: e.start_ledger
        for e in config.enabled_processors()
        if e.start_ledger is not None and (e.type not in before or before[e.type] != e.start_ledger)
    }


async def check_above_archive(
    engine: AsyncEngine, registry: Registry, tenant_id: str, starts: Mapping[str, int], *, advice: str
) -> None:
    """`BackfillBelowArchive` when a backfill of a processor type from its start in `starts` would reach at or
    below the archived-through ledger of one of the processor's archived tables; `advice` says what to do
    instead (it follows the processor's name and archived-through ledger in the message)."""
    if not starts:
        return
    async with engine.connect() as conn:
        marks = await read_watermarks(conn, tenant_id)
    if not marks:
        return
    by_type = {p.type_name: p for p in registry}
    for type_name, start in sorted(starts.items()):
        proc = by_type.get(type_name)
        if proc is None:
            continue
        through = max((marks[t.name].last_ledger for t in proc.archive if t.name in marks), default=None)
        if through is not None and start <= through:
            raise BackfillBelowArchive(
                f"processor {proc.name} of tenant '{tenant_id}' is archived through ledger {through}: a backfill "
                f"from ledger {start} would write rows below its archive, which are never served and are "
                f"deleted by the next archival; {advice.format(after=through + 1)}",
                details={"processor": proc.name, "archived_through_ledger": through, "start_ledger": start},
            )


@contextlib.asynccontextmanager
async def planning_backfills(
    engine: AsyncEngine,
    registry: Registry,
    tenant_id: str,
    starts: Mapping[str, int],
    *,
    advice: str,
    lease_wait_seconds: float = LEASE_WAIT_SECONDS,
) -> AsyncIterator[None]:
    """Hold the tenant's archive lease while the body plans backfills from `starts`, after checking them with
    `check_above_archive`: an archival run of the tenant either ends before the plan or starts after it (and
    then sees the new chunks in its frontier). `ArchiveRunning` when a run holds the lease past the wait."""
    async with try_lease(engine, archive_lease(tenant_id), wait_seconds=lease_wait_seconds) as held:
        if not held:
            raise ArchiveRunning(
                f"an archival of tenant '{tenant_id}' is running; backfills are planned when it is done: "
                "try again later"
            )
        await check_above_archive(engine, registry, tenant_id, starts, advice=advice)
        yield


APPLY_ADVICE = (
    "set its start_ledger to {after} or later, or leave it as it was (ledgers already archived cannot be "
    "backfilled again)"
)
LIVE_GAP_ADVICE = (
    'start the live tail at {after} or later, or move it without backfilling the gap ("backfill": false, '
    "--no-backfill)"
)
