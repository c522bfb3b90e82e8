"""Backfill planning and progress.

A tenant's backfill (enabling a processor with `start_ledger`, or an explicit request) is split into chunks of
consecutive ledgers; each chunk is an independent job with a deterministic id, so any number of workers on any
number of hosts share the work and re-planning the same range enqueues nothing twice. This module records the
chunks and their progress and summarises them per tenant; where a chunk resumes after a crash is decided by its
checkpoint (written with its rows), not by the progress recorded here.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.jobs import JobQueue
from storage.tables import backfill_ranges, utcnow

BACKFILL_JOB = "backfill_range"
DEFAULT_CHUNK = 1000
STATUSES = ("deferred", "queued", "running", "failed", "done")


def chunk_range(start: int, end: int, size: int) -> list[tuple[int, int]]:
    """[start, end] (inclusive) cut into consecutive chunks of at most `size` ledgers."""
    if start > end:
        return []
    if size < 1:
        raise ValueError("chunk size must be >= 1")
    return [(a, min(a + size - 1, end)) for a in range(start, end + 1, size)]


def processors_key(processors: Sequence[str]) -> str:
    """The identity of a set of processor type names (order does not matter)."""
    return "+".join(sorted(set(processors)))


def job_id(tenant_id: str, start: int, end: int, processors: Sequence[str]) -> str:
    # The processors are part of the identity: enabling another processor later backfills the same range
    # again for it, which must not be refused as a duplicate of the earlier job. They go in as a short digest
    # so the id (also the checkpoint name, 128 characters at most) stays short for any tenant id and set.
    digest = hashlib.sha256(processors_key(processors).encode()).hexdigest()[:12]
    return f"{tenant_checkpoint_prefix(tenant_id)}{start}-{end}:{digest}"


def queued_job_id(chunk: Chunk, attempts: int) -> str:
    """The job id a queued chunk was enqueued under: its plain id before any run, and after `attempts` runs
    (a retry of a failed chunk) the id of the next try, as the failed run's id is still remembered by the
    queue (its result is kept)."""
    base = job_id(*chunk)
    return base if attempts == 0 else f"{base}:try{attempts + 1}"


def checkpoint_name(tenant_id: str, start: int, end: int, processors: Sequence[str]) -> str:
    return job_id(tenant_id, start, end, processors)


def tenant_checkpoint_prefix(tenant_id: str) -> str:
    """What the checkpoint names of every backfill chunk of `tenant_id` (`checkpoint_name`) start with."""
    return f"backfill:{tenant_id}:"


class Chunk(NamedTuple):
    """One backfill job's identity: a tenant, a ledger range and the processors it fills."""

    tenant_id: str
    start: int
    end: int
    processors: tuple[str, ...]


@dataclass(frozen=True)
class BackfillSummary:
    """A tenant's backfill at a glance (per processor, and in total)."""

    ranges_total: int
    ranges_done: int
    ranges_running: int
    ranges_failed: int
    ranges_deferred: int  # waiting for the network's first ingested ledger, which sets their end
    ledgers_total: int
    ledgers_done: int
    ledgers_per_second: float | None
    eta_seconds: float | None
    last_error: str | None

    def as_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()


class BackfillStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def plan(
        self,
        jobs: JobQueue,
        tenant_id: str,
        network: str,
        processors: Sequence[str],
        start: int,
        end: int,
        chunk_size: int = DEFAULT_CHUNK,
    ) -> list[tuple[int, int]]:
        """Record the chunks of [start, end] and enqueue one job each. Returns the chunks newly planned.

        The chunks are recorded (`queued`) before anything is enqueued: when the queue cannot be reached,
        `QueueUnavailable` is raised with every chunk recorded, and `requeue_queued` (the `resume_backfills`
        cron, or applying the tenant again) enqueues them once it is back.
        """
        chunks = chunk_range(start, end, chunk_size)
        if not chunks:
            return []
        await self._record([_range_row(tenant_id, network, processors, a, b, "queued") for a, b in chunks])
        planned = []
        for a, b in chunks:
            # Deterministic ids: planning the same chunk again while it is queued or recently done is a no-op.
            chunk_job = job_id(tenant_id, a, b, processors)
            if await jobs.enqueue(BACKFILL_JOB, tenant_id, a, b, list(processors), job_id=chunk_job):
                planned.append((a, b))
        return planned

    async def requeue_queued(
        self,
        jobs: JobQueue,
        *,
        tenant_id: str | None = None,
        older_than_seconds: float = 0.0,
        now: datetime | None = None,
    ) -> list[Chunk]:
        """Enqueue again the `queued` chunks (of one tenant, or all) recorded more than `older_than_seconds` ago,
        whose job may never have reached the queue (planned while it was down). Returns the chunks enqueued
        now (the others were still known to the queue).

        Safe at any time: a chunk's job id is the one it was queued under (`queued_job_id`), and arq refuses an
        id that is queued, running, or finished within its result-keeping hour, so a chunk whose job exists is
        not doubled; one whose job finished long ago without marking it runs again and resumes from its
        checkpoint. Raises `QueueUnavailable` while the queue is unreachable.
        """
        cutoff = (now or utcnow()) - timedelta(seconds=older_than_seconds)
        condition = (backfill_ranges.c.status == "queued") & (backfill_ranges.c.updated_at <= cutoff)
        if tenant_id is not None:
            condition = condition & (backfill_ranges.c.tenant_id == tenant_id)
        async with self.engine.connect() as conn:
            rows = (await conn.execute(select(backfill_ranges).where(condition))).mappings().all()
        chunks = {
            queued_job_id(chunk, row["attempts"]): chunk
            for row in rows
            for chunk in [
                Chunk(row["tenant_id"], row["start_ledger"], row["end_ledger"], tuple(row["processors"]))
            ]
        }
        # One round trip for the ids the queue already knows (a long backfill waits with many queued chunks):
        # only the others are offered to `enqueue`, which still refuses a duplicate if one raced in.
        missing = await jobs.unknown(list(chunks)) if chunks else set()
        enqueued = []
        for chunk_job, chunk in chunks.items():
            if chunk_job not in missing:
                continue
            if await jobs.enqueue(BACKFILL_JOB, *chunk[:3], list(chunk.processors), job_id=chunk_job):
                enqueued.append(chunk)
        return enqueued

    async def requeue(self, jobs: JobQueue, tenant_id: str) -> int:
        """Enqueue again every chunk of the tenant that is not done (after a queue outage, a timeout, a failure);
        deferred backfills wait for their end (`plan_deferred`).

        Deterministic job ids make this safe to call any time: a chunk still queued or running is not doubled.
        Each chunk goes under the id it is known by (`queued_job_id`): a queued or failed one under the id of its
        next try (`:tryN` after a retry), a running one under the id it runs as, so arq refuses it while that
        run is in progress or its result is kept, and a chunk already re-enqueued by `retry_failed` is not
        enqueued a second time under another id.
        """
        async with self.engine.connect() as conn:
            rows = (
                (
                    await conn.execute(
                        select(backfill_ranges).where(
                            (backfill_ranges.c.tenant_id == tenant_id)
                            & backfill_ranges.c.status.in_(("queued", "running", "failed"))
                        )
                    )
                )
                .mappings()
                .all()
            )
        count = 0
        for row in rows:
            chunk = Chunk(tenant_id, row["start_ledger"], row["end_ledger"], tuple(row["processors"]))
            # `started` counts a run when it begins: a running chunk's id is that of its previous count.
            runs_before = row["attempts"] - 1 if row["status"] == "running" else row["attempts"]
            chunk_job = queued_job_id(chunk, max(runs_before, 0))
            count += bool(
                await jobs.enqueue(BACKFILL_JOB, *chunk[:3], list(chunk.processors), job_id=chunk_job)
            )
        return count

    async def retry_failed(
        self, jobs: JobQueue, *, max_attempts: int, now: datetime | None = None
    ) -> list[Chunk]:
        """Enqueue again every failed chunk (any tenant) whose back-off has passed: 2**attempts minutes after
        its last failure, at most an hour, until it has run `max_attempts` times (then it stays failed, with its
        last error on the status page, until an operator re-queues it). Returns the chunks enqueued.

        A retry's job id carries the attempt number: the failed run's id is still remembered by the queue (its
        result is kept), and two concurrent calls still enqueue a chunk once.
        """
        now = now or utcnow()
        async with self.engine.connect() as conn:
            rows = (
                (
                    await conn.execute(
                        select(backfill_ranges).where(
                            (backfill_ranges.c.status == "failed")
                            & (backfill_ranges.c.attempts < max_attempts)
                        )
                    )
                )
                .mappings()
                .all()
            )
        retried = []
        for row in rows:
            wait = timedelta(minutes=min(2 ** row["attempts"], 60))
            if row["updated_at"] + wait > now:
                continue
            chunk = Chunk(row["tenant_id"], row["start_ledger"], row["end_ledger"], tuple(row["processors"]))
            # Claimed before it is enqueued, and only while still failed: a worker taking the job at once
            # then marks it running (or done) after this, never before; a concurrent retry claims nothing.
            async with self.engine.begin() as conn:
                claimed = await conn.execute(
                    update(backfill_ranges)
                    .where(_chunk_filter(chunk) & (backfill_ranges.c.status == "failed"))
                    .values(status="queued", updated_at=utcnow())
                )
            if not claimed.rowcount:
                continue
            retry_id = queued_job_id(chunk, row["attempts"])
            try:
                await jobs.enqueue(BACKFILL_JOB, *chunk[:3], list(chunk.processors), job_id=retry_id)
            except BaseException:
                await self._update(chunk, status="failed")  # not queued after all: the next round retries it
                raise
            retried.append(chunk)
        return retried

    async def defer(self, tenant_id: str, network: str, processors: Sequence[str], start: int) -> None:
        """Record a backfill from `start` that cannot be planned yet (nothing of `network` is ingested, so there
        is no end): a "deferred" row covering no ledger, turned into chunks by `plan_deferred`."""
        await self._record([_range_row(tenant_id, network, processors, start, start - 1, "deferred")])

    async def _record(self, rows: list[dict[str, Any]]) -> None:
        """Insert range rows; one already recorded stays as it is (planning twice records nothing twice)."""
        async with self.engine.begin() as conn:
            insert = (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(
                backfill_ranges
            )
            await conn.execute(insert.on_conflict_do_nothing(), rows)

    async def drop_deferred(self, tenant_id: str, processors: Collection[str]) -> int:
        """Forget the tenant's deferred backfills of `processors` (their start moved); a deferred backfill shared
        with other processors stays deferred for those. Returns how many deferred rows were changed."""
        async with self.engine.connect() as conn:
            rows = (
                (
                    await conn.execute(
                        select(backfill_ranges).where(
                            (backfill_ranges.c.tenant_id == tenant_id)
                            & (backfill_ranges.c.status == "deferred")
                        )
                    )
                )
                .mappings()
                .all()
            )
        changed = 0
        for row in rows:
            kept = [p for p in row["processors"] if p not in processors]
            if len(kept) == len(row["processors"]):
                continue
            chunk = Chunk(tenant_id, row["start_ledger"], row["end_ledger"], tuple(row["processors"]))
            async with self.engine.begin() as conn:
                await conn.execute(delete(backfill_ranges).where(_chunk_filter(chunk)))
            if kept:
                await self.defer(tenant_id, row["network"], kept, row["start_ledger"])
            changed += 1
        return changed

    async def plan_deferred(self, jobs: JobQueue, network: str, tip: int, chunk_size: int) -> list[Chunk]:
        """Plan every deferred backfill of `network` up to `tip` (now known) and drop its deferred row; one
        starting after `tip` needs nothing (the live tail reaches it). Returns the deferred rows resolved."""
        async with self.engine.connect() as conn:
            rows = (
                (
                    await conn.execute(
                        select(backfill_ranges).where(
                            (backfill_ranges.c.status == "deferred") & (backfill_ranges.c.network == network)
                        )
                    )
                )
                .mappings()
                .all()
            )
        resolved = []
        for row in rows:
            chunk = Chunk(row["tenant_id"], row["start_ledger"], row["end_ledger"], tuple(row["processors"]))
            if chunk.start <= tip:
                await self.plan(
                    jobs, chunk.tenant_id, network, chunk.processors, chunk.start, tip, chunk_size
                )
            async with self.engine.begin() as conn:
                await conn.execute(delete(backfill_ranges).where(_chunk_filter(chunk)))
            resolved.append(chunk)
        return resolved

    async def _update(self, chunk: Chunk, **values: Any) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(
                update(backfill_ranges).where(_chunk_filter(chunk)).values(updated_at=utcnow(), **values)
            )

    async def started(self, chunk: Chunk) -> None:
        # last_error stays until the chunk is done: the status page should still say why the last try failed.
        await self._update(chunk, status="running", attempts=backfill_ranges.c.attempts + 1)

    async def progressed(self, chunk: Chunk, ledgers_done: int, rate: float) -> None:
        await self._update(chunk, ledgers_done=ledgers_done, ledgers_per_second=rate)

    async def finished(self, chunk: Chunk) -> None:
        await self._update(chunk, status="done", ledgers_done=chunk.end - chunk.start + 1, last_error=None)

    async def failed(self, chunk: Chunk, error: str) -> None:
        await self._update(chunk, status="failed", last_error=error[:2000])

    async def summary(self, tenant_id: str) -> dict[str, BackfillSummary]:
        """Per processor type name, plus "*" for the whole backfill."""
        async with self.engine.connect() as conn:
            rows = (
                (
                    await conn.execute(
                        select(backfill_ranges)
                        .where(backfill_ranges.c.tenant_id == tenant_id)
                        .order_by(backfill_ranges.c.start_ledger)
                    )
                )
                .mappings()
                .all()
            )
        groups: dict[str, list[Any]] = {"*": list(rows)}
        for row in rows:
            for name in row["processors"]:
                groups.setdefault(name, []).append(row)
        return {name: _summarise(group) for name, group in groups.items()}

    async def chunks_by_status(self) -> dict[str, int]:
        """How many chunks of every tenant are in each status (every one of `STATUSES`, zeros included)."""
        query = select(backfill_ranges.c.status, func.count()).group_by(backfill_ranges.c.status)
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return {status: 0 for status in STATUSES} | {str(status): int(n) for status, n in rows}

    async def first_unfinished_ledger(self, tenant_id: str, type_name: str) -> int | None:
        """The first ledger of the tenant's backfill chunks filling processor `type_name` that are not done
        (queued, running, failed or deferred: they may still write rows there); None when there is none."""
        b = backfill_ranges.c
        async with self.engine.connect() as conn:
            rows = (
                await conn.execute(
                    select(b.start_ledger, b.processors).where(b.tenant_id == tenant_id, b.status != "done")
                )
            ).all()
        starts = [int(start) for start, types in rows if type_name in (types or ())]
        return min(starts) if starts else None

    async def count(self, tenant_id: str) -> int:
        async with self.engine.connect() as conn:
            total = await conn.scalar(
                select(func.count())
                .select_from(backfill_ranges)
                .where(backfill_ranges.c.tenant_id == tenant_id)
            )
        return int(total or 0)


def _range_row(
    tenant_id: str, network: str, processors: Sequence[str], start: int, end: int, status: str
) -> dict[str, Any]:
    now = utcnow()
    return {
        "tenant_id": tenant_id,
        "start_ledger": start,
        "end_ledger": end,
        "processors_key": processors_key(processors),
        "network": network,
        "processors": list(processors),
        "status": status,
        "ledgers_done": 0,
        "ledgers_per_second": None,
        "attempts": 0,
        "last_error": None,
        "created_at": now,
        "updated_at": now,
    }


def _chunk_filter(chunk: Chunk) -> Any:
    tenant_id, start, end, processors = chunk
    return (
        (backfill_ranges.c.tenant_id == tenant_id)
        & (backfill_ranges.c.start_ledger == start)
        & (backfill_ranges.c.end_ledger == end)
        & (backfill_ranges.c.processors_key == processors_key(processors))
    )


def _summarise(rows: Sequence[Any]) -> BackfillSummary:
    total = sum(r["end_ledger"] - r["start_ledger"] + 1 for r in rows)
    done = sum(
        (r["end_ledger"] - r["start_ledger"] + 1) if r["status"] == "done" else r["ledgers_done"]
        for r in rows
    )
    running = [r for r in rows if r["status"] == "running"]
    rate = sum(r["ledgers_per_second"] or 0.0 for r in running) or None
    failed = [r for r in rows if r["status"] == "failed"]
    errors = sorted((r for r in rows if r["last_error"]), key=lambda r: r["updated_at"])
    return BackfillSummary(
        ranges_total=len(rows),
        ranges_done=sum(1 for r in rows if r["status"] == "done"),
        ranges_running=len(running),
        ranges_failed=len(failed),
        ranges_deferred=sum(1 for r in rows if r["status"] == "deferred"),
        ledgers_total=total,
        ledgers_done=done,
        ledgers_per_second=rate,
        eta_seconds=(total - done) / rate if rate else None,
        last_error=errors[-1]["last_error"] if errors else None,
    )
