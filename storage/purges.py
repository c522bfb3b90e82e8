"""Tenant purges: the record of each tenant deletion in progress (`tenant_purges`) and the bounded deletes it
is made of.

A purge outlives its tenant row: the first transaction deletes the tenant (and with it, by FK cascade, its
keys and backfill ranges) and inserts the purge record, so access ends at once while the bulk of the rows
goes in later, small transactions. Each batch delete moves the record's progress for its table in the same
transaction, so the counts are exact across crashes and a rerun starts where the last committed batch left
off. While a record is unfinished the tenant id cannot be created again (`TenantStore.create`).

Nothing here names a processor: callers hand in the tables (`processors.registry`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    ColumnElement,
    String,
    Table,
    delete,
    func,
    insert,
    select,
    tuple_,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from storage.db import retrying_write_conflicts
from storage.tables import UTCDateTime, api_keys, audit_log, backfill_ranges, metadata, tenants, utcnow

RUNNING, DONE = "running", "done"
DELETION_ACTION = "tenant.purged"  # the one audit record a deleted tenant leaves

tenant_purges = Table(
    "tenant_purges",
    metadata,
    Column("tenant_id", String(64), primary_key=True),
    Column("status", String(16), nullable=False),  # running | done
    Column("actor", String(32), nullable=False),  # who asked: admin | cli
    Column("progress", JSON, nullable=False),  # {step: rows (or objects) deleted so far}
    Column("completed", JSON, nullable=False),  # [step, ...] finished, in order
    Column("started_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("finished_at", UTCDateTime, nullable=True),
)


@dataclass(frozen=True)
class PurgeRecord:
    """Where one tenant's purge stands."""

    tenant_id: str
    status: str
    actor: str
    progress: dict[str, int] = field(default_factory=dict)
    completed: tuple[str, ...] = ()
    started_at: datetime | None = None
    updated_at: datetime | None = None
    finished_at: datetime | None = None

    @property
    def finished(self) -> bool:
        return self.status == DONE

    def as_dict(self) -> dict[str, Any]:
        return {
            "tenant_id": self.tenant_id,
            "status": self.status,
            "actor": self.actor,
            "progress": dict(self.progress),
            "completed": list(self.completed),
            "started_at": self.started_at.isoformat() if self.started_at else None,
            "updated_at": self.updated_at.isoformat() if self.updated_at else None,
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
        }


def _record(row: Any) -> PurgeRecord:
    return PurgeRecord(
        tenant_id=row.tenant_id,
        status=row.status,
        actor=row.actor,
        progress={str(k): int(v) for k, v in dict(row.progress).items()},
        completed=tuple(row.completed),
        started_at=row.started_at,
        updated_at=row.updated_at,
        finished_at=row.finished_at,
    )


async def read_purge(conn: AsyncConnection, tenant_id: str) -> PurgeRecord | None:
    row = (await conn.execute(select(tenant_purges).where(tenant_purges.c.tenant_id == tenant_id))).first()
    return _record(row) if row is not None else None


async def purge_running(conn: AsyncConnection, tenant_id: str) -> bool:
    """Whether an unfinished purge of `tenant_id` holds its id."""
    status = await conn.scalar(select(tenant_purges.c.status).where(tenant_purges.c.tenant_id == tenant_id))
    return status == RUNNING


class PurgeStore:
    """Start, read and advance tenant purges."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def get(self, tenant_id: str) -> PurgeRecord | None:
        async with self.engine.connect() as conn:
            return await read_purge(conn, tenant_id)

    async def unfinished(self) -> list[str]:
        """Tenant ids whose purge has not finished, oldest first."""
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                select(tenant_purges.c.tenant_id)
                .where(tenant_purges.c.status == RUNNING)
                .order_by(tenant_purges.c.started_at)
            )
            return [r.tenant_id for r in rows]

    async def start(self, tenant_id: str, actor: str) -> PurgeRecord | None:
        """The first transaction of a purge: record it and delete the tenant row (its keys and backfill ranges
        go with it by FK cascade), so the tenant's access ends when this commits. None when there is no such
        tenant (an unfinished purge of it is returned as it stands, for the caller to resume).

        It reads (the counts) before it writes: on SQLite a commit of another writer in between (the tenant's
        first ingestion job, right after it was created) refuses it at once, so it runs again from its start
        (`retrying_write_conflicts`) instead of answering the deletion with a 503."""
        return await retrying_write_conflicts(lambda: self._start(tenant_id, actor))

    async def _start(self, tenant_id: str, actor: str) -> PurgeRecord | None:
        now = utcnow()
        async with self.engine.begin() as conn:
            # Counted for the deletion's audit record: the cascade deletes them with the tenant row.
            cascaded = {
                "api_keys": await _count(conn, api_keys, api_keys.c.tenant_id == tenant_id),
                "backfill_ranges": await _count(
                    conn, backfill_ranges, backfill_ranges.c.tenant_id == tenant_id
                ),
            }
            # The delete serializes two deletions of one tenant: the second waits, then finds no row.
            gone = await conn.execute(delete(tenants).where(tenants.c.id == tenant_id))
            if not gone.rowcount:
                existing = await read_purge(conn, tenant_id)
                return existing if existing is not None and not existing.finished else None
            values = {
                "status": RUNNING,
                "actor": actor,
                "progress": cascaded,
                "completed": [],
                "started_at": now,
                "updated_at": now,
                "finished_at": None,
            }
            # A finished purge of an earlier tenant of the same id is replaced by this one.
            await conn.execute(delete(tenant_purges).where(tenant_purges.c.tenant_id == tenant_id))
            await conn.execute(insert(tenant_purges).values(tenant_id=tenant_id, **values))
        return PurgeRecord(tenant_id, RUNNING, actor, cascaded, (), now, now, None)

    async def complete_step(self, tenant_id: str, step: str, count: int | None = None) -> None:
        """Mark `step` finished (with its final count when given, e.g. cold objects deleted)."""
        async with self.engine.begin() as conn:
            await _advance(conn, tenant_id, step, count, done=True)

    async def finish(self, tenant_id: str, detail: dict[str, Any]) -> PurgeRecord | None:
        """The last transaction of a purge: delete the tenant's audit rows still left (written by requests
        buffered elsewhere while the purge ran), write the one audit record of the deletion (`detail`: counts,
        never customer data) and mark the purge done."""
        now = utcnow()
        async with self.engine.begin() as conn:
            record = await read_purge(conn, tenant_id)
            if record is None or record.finished:
                return record
            await conn.execute(delete(audit_log).where(audit_log.c.tenant_id == tenant_id))
            await conn.execute(
                insert(audit_log).values(
                    created_at=now,
                    tenant_id=tenant_id,
                    actor=record.actor,
                    action=DELETION_ACTION,
                    detail={
                        "started_at": record.started_at.isoformat() if record.started_at else None,
                        **detail,
                    },
                )
            )
            await conn.execute(
                update(tenant_purges)
                .where(tenant_purges.c.tenant_id == tenant_id)
                .values(status=DONE, updated_at=now, finished_at=now)
            )
            return await read_purge(conn, tenant_id)


async def _advance(
    conn: AsyncConnection, tenant_id: str, step: str, count: int | None, *, done: bool
) -> None:
    record = await read_purge(conn, tenant_id)
    if record is None:
        return
    progress = dict(record.progress)
    if count is not None:
        progress[step] = progress.get(step, 0) + count if not done else count
    completed = list(record.completed)
    if done and step not in completed:
        completed.append(step)
    await conn.execute(
        update(tenant_purges)
        .where(tenant_purges.c.tenant_id == tenant_id)
        .values(progress=progress, completed=completed, updated_at=utcnow())
    )


OnBatch = Callable[[int], Awaitable[None]]


async def purge_table_rows(
    engine: AsyncEngine,
    tenant_id: str,
    table: Table,
    *,
    step: str | None = None,
    where: ColumnElement[bool] | None = None,
    batch_rows: int = 5_000,
    on_batch: OnBatch | None = None,
) -> int:
    """Delete the rows of `table` matching `where` (default: its `tenant_id` column is `tenant_id`), at most
    `batch_rows` per short transaction, each moving the purge record's progress of `step` (default: the
    table's name) with it. Returns how many rows this call deleted; `on_batch(total)` after each batch.

    Batches are chosen by primary key (`DELETE ... WHERE (pk) IN (SELECT pk ... LIMIT n)`): every table here
    has one, and a key is unique across PostgreSQL partitions where a `ctid` is not."""
    if batch_rows < 1:
        raise ValueError("batch_rows must be at least 1")
    condition = where if where is not None else table.c.tenant_id == tenant_id
    key = list(table.primary_key.columns)
    name = step or table.name
    total = 0
    while True:
        chosen = select(*key).where(condition).limit(batch_rows)
        async with engine.begin() as conn:
            result = await conn.execute(delete(table).where(tuple_(*key).in_(chosen)))
            deleted = int(result.rowcount or 0)
            if deleted:
                await _advance(conn, tenant_id, name, deleted, done=False)
        if not deleted:
            return total
        total += deleted
        if on_batch is not None:
            await on_batch(total)


async def count_rows(engine: AsyncEngine, table: Table, where: ColumnElement[bool]) -> int:
    async with engine.connect() as conn:
        return await _count(conn, table, where)


async def _count(conn: AsyncConnection, table: Table, where: ColumnElement[bool]) -> int:
    return int(await conn.scalar(select(func.count()).select_from(table).where(where)) or 0)
