"""Moving a tenant's history rows to the cold tier: write -> verify -> watermark -> delete, generically (any
history table with `id`, `ledger_sequence` and `closed_at`; no processor or table is named here).

`archive_table` pages the hot rows after the table's watermark in id order into Parquet files (one per
(year, month) of `closed_at`, at most `max_file_rows` rows each), stores each file, reads the STORED object
back and compares its row count and id checksum with the hot rows of its id range, and only then, in one
transaction, records the file in the manifest (`cold_files`), moves the watermark to its last row, and lets
the caller fold the rows into derived state (`on_archived`). Hot rows up to the watermark are deleted last, in
short batches. Crash safety follows from that order:

- killed before a file's transaction commits: the object is an orphan (not in the manifest, so no reader sees
  it) and its rows are still hot after the old watermark; the next run sweeps orphans and writes them again;
- killed after: the watermark covers the file, readers read those ids cold and skip them hot (`id > watermark`),
  and the next run deletes the lingering hot rows (`delete_archived_rows`).

Store errors (`ColdStoreUnreachable`) end the run before the deletion step, so no hot row leaves without a
verified file holding it.
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import ColumnElement, Table, and_, delete, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from core.errors import ServiceUnavailable
from storage.cold.cache import drop_cached
from storage.cold.parquet import Checksum, FileStats, ParquetFileWriter, file_columns, read_back
from storage.cold.store import ColdStore
from storage.cold.tables import archive_watermarks, cold_files
from storage.cold.watermarks import Watermark, read_watermark
from storage.derived import replace_rows
from storage.query import Row
from storage.tables import utcnow

log = logging.getLogger(__name__)

OnArchived = Callable[[AsyncConnection, list[Row]], Awaitable[None]]
READ_ROWS = 5_000  # hot rows per read while writing files, and per `on_archived` batch
CHECKSUM_ROWS = 50_000  # ids per read while verifying


class ArchiveVerificationError(ServiceUnavailable):
    """A stored file does not hold exactly the hot rows of its id range (nothing was recorded or deleted). A
    service error (503 `archive_verification_failed`): the CLI prints it as one line and exits 1."""

    code = "archive_verification_failed"

    def __init__(self, message: str) -> None:
        super().__init__(f"{message}; the archival stopped without deleting a hot row: run it again")


@dataclass(frozen=True)
class ArchiveCut:
    """Rows strictly before this time and/or ledger (both given = both hold)."""

    before_time: datetime | None = None
    before_ledger: int | None = None


@dataclass(frozen=True)
class TableArchived:
    processor: str
    table: str
    files: tuple[str, ...]
    rows: int
    deleted: int
    watermark: Watermark | None


def _cut_conditions(table: Table, cut: ArchiveCut, through_ledger: int | None = None) -> list[Any]:
    conditions: list[Any] = []
    if cut.before_time is not None:
        conditions.append(table.c.closed_at < cut.before_time)
    if cut.before_ledger is not None:
        conditions.append(table.c.ledger_sequence < cut.before_ledger)
    if through_ledger is not None:
        conditions.append(table.c.ledger_sequence <= through_ledger)
    return conditions


async def _read_range(
    conn: AsyncConnection,
    table: Table,
    tenant_id: str,
    columns: Sequence[Any],
    conditions: Sequence[ColumnElement[bool]],
    after: str | None,
    limit: int,
) -> list[Row]:
    """One keyset page of the tenant's rows in id order (ids after `after`)."""
    where = [table.c.tenant_id == tenant_id, *conditions]
    if after is not None:
        where.append(table.c.id > after)
    statement = select(*columns).where(and_(*where)).order_by(table.c.id).limit(limit)
    return [dict(row) for row in (await conn.execute(statement)).mappings()]


async def _hot_pages(
    engine: AsyncEngine,
    table: Table,
    tenant_id: str,
    conditions: Sequence[ColumnElement[bool]],
    after: str | None,
    *,
    columns: Sequence[Any] | None = None,
    page_rows: int = READ_ROWS,
) -> AsyncIterator[list[Row]]:
    """The tenant's matching rows after `after`, in id order, a short read per page."""
    chosen = list(columns) if columns is not None else file_columns(table)
    while True:
        async with engine.connect() as conn:
            rows = await _read_range(conn, table, tenant_id, chosen, conditions, after, page_rows)
        if not rows:
            return
        yield rows
        if len(rows) < page_rows:
            return
        after = str(rows[-1]["id"])


async def sweep_orphans(engine: AsyncEngine, store: ColdStore, tenant_id: str, processor: str) -> int:
    """Delete the objects under the processor's prefix that the manifest does not list (left by a run that died
    before its watermark moved; readers never saw them). Callers hold the tenant's archival lease."""
    listed = await store.list(store.processor_prefix(tenant_id, processor))
    if not listed:
        return 0
    f = cold_files.c
    async with engine.connect() as conn:
        known = set(
            (
                await conn.execute(select(f.key).where(f.tenant_id == tenant_id, f.processor == processor))
            ).scalars()
        )
    orphans = [o.key for o in listed if o.key not in known]
    if orphans:
        log.info("cold tier: deleting %d orphan object(s) of %s/%s", len(orphans), tenant_id, processor)
        await store.delete(orphans)
    return len(orphans)


class _FileInProgress:
    """The file being written: its (year, month), local path and writer."""

    def __init__(self, table: Table, folder: Path, year: int, month: int, number: int) -> None:
        self.year, self.month = year, month
        self.path = folder / f"part-{number}.parquet"
        self.writer = ParquetFileWriter(table, self.path)


async def archive_table(
    engine: AsyncEngine,
    store: ColdStore,
    *,
    tenant_id: str,
    processor: str,
    table: Table,
    cut: ArchiveCut,
    through_ledger: int | None = None,
    on_archived: OnArchived | None = None,
    on_deleted: Callable[[int], Awaitable[None]] | None = None,
    max_file_rows: int = 1_000_000,
    delete_batch_rows: int = 5_000,
) -> TableArchived:
    """Archive the tenant's rows of `table` matching `cut` (and `ledger_sequence <= through_ledger`) after its
    watermark; see the module docstring for the steps and what a crash leaves."""
    async with engine.connect() as conn:
        watermark = await read_watermark(conn, tenant_id, table.name)
    await sweep_orphans(engine, store, tenant_id, processor)
    conditions = _cut_conditions(table, cut, through_ledger)
    keys: list[str] = []
    archived = 0
    with tempfile.TemporaryDirectory(prefix="obsrvr-cold-") as work:
        folder = Path(work)
        current: _FileInProgress | None = None
        after = watermark.last_id if watermark is not None else None
        async for page in _hot_pages(engine, table, tenant_id, conditions, after):
            start = 0
            while start < len(page):
                row = page[start]
                month = (row["closed_at"].year, row["closed_at"].month)
                if current is not None and (
                    (current.year, current.month) != month or current.writer.rows >= max_file_rows
                ):
                    key, watermark = await _store_file(
                        engine, store, tenant_id, processor, table, current, folder, on_archived
                    )
                    keys.append(key)
                    archived += current.writer.rows
                    current = None
                if current is None:
                    current = _FileInProgress(table, folder, month[0], month[1], len(keys))
                # The run of rows of this page that stay in this file.
                end = start
                room = max_file_rows - current.writer.rows
                while end < len(page) and end - start < room:
                    at = page[end]["closed_at"]
                    if (at.year, at.month) != month:
                        break
                    end += 1
                current.writer.add(page[start:end])
                start = end
        if current is not None:
            key, watermark = await _store_file(
                engine, store, tenant_id, processor, table, current, folder, on_archived
            )
            keys.append(key)
            archived += current.writer.rows
    deleted = await delete_archived_rows(
        engine, tenant_id, table, batch_rows=delete_batch_rows, on_deleted=on_deleted
    )
    return TableArchived(processor, table.name, tuple(keys), archived, deleted, watermark)


async def _store_file(
    engine: AsyncEngine,
    store: ColdStore,
    tenant_id: str,
    processor: str,
    table: Table,
    current: _FileInProgress,
    folder: Path,
    on_archived: OnArchived | None,
) -> tuple[str, Watermark]:
    """Put, verify and record one finished file; the watermark it moved to."""
    stats = current.writer.close()
    key = store.file_key(tenant_id, processor, current.year, current.month, stats.first_id, stats.last_id)
    size = await store.put_file(key, current.path)
    stored = store.local_path(key)
    if stored is None:  # a bucket: verify the object as stored, not our local copy
        stored = folder / "verify.parquet"
        await store.fetch_file(key, stored)
    try:
        count, checksum = await asyncio.to_thread(read_back, stored)
    except Exception as exc:
        raise ArchiveVerificationError(f"{key}: the stored file cannot be read back: {exc}") from exc
    hot_count, hot_checksum = await _hot_checksum(engine, table, tenant_id, stats.first_id, stats.last_id)
    if (count, checksum) != (stats.rows, stats.checksum) or (count, checksum) != (hot_count, hot_checksum):
        raise ArchiveVerificationError(
            f"{key}: {count} rows stored, {stats.rows} written, {hot_count} hot in its id range "
            "(or their ids differ); nothing recorded"
        )
    watermark = Watermark(stats.last_id, stats.last_ledger, stats.max_closed_at)
    async with engine.begin() as conn:
        await conn.execute(
            cold_files.insert().values(**_manifest_row(tenant_id, processor, table, key, stats, size))
        )
        await _move_watermark(conn, tenant_id, table, watermark)
        if on_archived is not None:
            bounds = [table.c.id <= stats.last_id]
            after: str | None = None
            first = [table.c.id >= stats.first_id]
            while True:
                rows = await _read_range(
                    conn, table, tenant_id, file_columns(table), [*first, *bounds], after, READ_ROWS
                )
                if not rows:
                    break
                await on_archived(conn, rows)
                if len(rows) < READ_ROWS:
                    break
                after = str(rows[-1]["id"])
    current.path.unlink(missing_ok=True)
    log.info("cold tier: archived %d rows of %s/%s to %s", stats.rows, tenant_id, table.name, key)
    return key, watermark


async def _move_watermark(conn: AsyncConnection, tenant_id: str, table: Table, watermark: Watermark) -> None:
    row = {
        "tenant_id": tenant_id,
        "table_name": table.name,
        "last_id": watermark.last_id,
        "last_ledger": watermark.last_ledger,
        "last_closed_at": watermark.last_closed_at,
        "updated_at": utcnow(),
    }
    await replace_rows(conn, archive_watermarks, [row])


def _manifest_row(
    tenant_id: str, processor: str, table: Table, key: str, stats: FileStats, size: int
) -> dict[str, Any]:
    return {
        "tenant_id": tenant_id,
        "table_name": table.name,
        "key": key,
        "processor": processor,
        "year": stats.min_closed_at.year,
        "month": stats.min_closed_at.month,
        "first_id": stats.first_id,
        "last_id": stats.last_id,
        "first_ledger": stats.first_ledger,
        "last_ledger": stats.last_ledger,
        "min_closed_at": stats.min_closed_at,
        "max_closed_at": stats.max_closed_at,
        "rows": stats.rows,
        "bytes": size,
        "raw_bytes": stats.raw_bytes,
        "checksum": stats.checksum,
        "created_at": utcnow(),
    }


async def _hot_checksum(
    engine: AsyncEngine, table: Table, tenant_id: str, first_id: str, last_id: str
) -> tuple[int, str]:
    checksum = Checksum()
    bounds = [table.c.id >= first_id, table.c.id <= last_id]
    async for page in _hot_pages(
        engine, table, tenant_id, bounds, None, columns=[table.c.id], page_rows=CHECKSUM_ROWS
    ):
        checksum.update(str(row["id"]) for row in page)
    return checksum.count, checksum.hexdigest()


async def _delete_batches(
    engine: AsyncEngine,
    table: Table,
    tenant_id: str,
    conditions: Sequence[ColumnElement[bool]],
    batch_rows: int,
    on_deleted: Callable[[int], Awaitable[None]] | None = None,
) -> int:
    """Delete the tenant's rows matching `conditions`, `batch_rows` at a time in id order, each batch its own
    short transaction (an id range: no long lock, no huge parameter list)."""
    total = 0
    while True:
        async with engine.begin() as conn:
            ids = (
                (
                    await conn.execute(
                        select(table.c.id)
                        .where(table.c.tenant_id == tenant_id, *conditions)
                        .order_by(table.c.id)
                        .limit(batch_rows)
                    )
                )
                .scalars()
                .all()
            )
            if not ids:
                return total
            result = await conn.execute(
                delete(table).where(
                    table.c.tenant_id == tenant_id, table.c.id >= ids[0], table.c.id <= ids[-1], *conditions
                )
            )
            total += int(result.rowcount or 0)
        if on_deleted is not None:
            await on_deleted(total)
        if len(ids) < batch_rows:
            return total


async def delete_archived_rows(
    engine: AsyncEngine,
    tenant_id: str,
    table: Table,
    *,
    batch_rows: int = 5_000,
    on_deleted: Callable[[int], Awaitable[None]] | None = None,
) -> int:
    """Delete the tenant's hot rows of `table` that its watermark covers (they are read cold); how many."""
    async with engine.connect() as conn:
        watermark = await read_watermark(conn, tenant_id, table.name)
    if watermark is None:
        return 0
    return await _delete_batches(
        engine, table, tenant_id, [table.c.id <= watermark.last_id], batch_rows, on_deleted
    )


async def forget_rows(
    engine: AsyncEngine,
    tenant_id: str,
    table: Table,
    cut: ArchiveCut,
    *,
    processor: str,
    through_ledger: int | None = None,
    on_archived: OnArchived | None = None,
    batch_rows: int = 5_000,
) -> TableArchived:
    """`cold_retention_years == 0`: the tenant's rows matching `cut` leave the hot store without a file. They go
    the archived rows' way but for the file: in id order, a batch per transaction passes through `on_archived`
    (derived sums over history keep counting them, as they keep counting expired cold files) and moves the
    watermark; then the hot rows up to it are deleted. Readers read nothing cold for them (no file in the
    manifest), so they are simply gone; a crash is resumed like an archival."""
    async with engine.connect() as conn:
        watermark = await read_watermark(conn, tenant_id, table.name)
    conditions = _cut_conditions(table, cut, through_ledger)
    forgotten = 0
    while True:
        async with engine.begin() as conn:
            after = watermark.last_id if watermark is not None else None
            rows = await _read_range(
                conn, table, tenant_id, file_columns(table), conditions, after, min(batch_rows, READ_ROWS)
            )
            if not rows:
                break
            if on_archived is not None:
                await on_archived(conn, rows)
            last = rows[-1]
            watermark = Watermark(str(last["id"]), int(last["ledger_sequence"]), last["closed_at"])
            await _move_watermark(conn, tenant_id, table, watermark)
        forgotten += len(rows)
    deleted = await delete_archived_rows(engine, tenant_id, table, batch_rows=batch_rows)
    return TableArchived(processor, table.name, (), 0, deleted, watermark)


async def expire_cold_files(
    engine: AsyncEngine, store: ColdStore, tenant_id: str, before: datetime, *, cache_dir: Path | None = None
) -> int:
    """Retention: delete the tenant's cold files whose newest row closed before `before`. The manifest row goes
    first (committed), so no reader opens a file after it starts disappearing; then the objects, and this
    machine's cached copies of them in `cache_dir` (`storage.cold.cache`); how many files."""
    f = cold_files.c
    async with engine.begin() as conn:
        keys = list(
            (
                await conn.execute(select(f.key).where(f.tenant_id == tenant_id, f.max_closed_at < before))
            ).scalars()
        )
        if keys:
            await conn.execute(delete(cold_files).where(f.tenant_id == tenant_id, f.key.in_(keys)))
    await store.delete(keys)
    if cache_dir is not None and keys:
        await asyncio.to_thread(drop_cached, cache_dir, keys)
    return len(keys)


async def purge_cold(
    engine: AsyncEngine, store: ColdStore, tenant_id: str, *, cache_dir: Path | None = None
) -> int:
    """Everything of the tenant in the cold tier: its manifest rows and watermarks (committed first), then every
    object under its prefix, and this machine's cached copies under it in `cache_dir`; how many objects were
    deleted."""
    async with engine.begin() as conn:
        await conn.execute(delete(cold_files).where(cold_files.c.tenant_id == tenant_id))
        await conn.execute(delete(archive_watermarks).where(archive_watermarks.c.tenant_id == tenant_id))
    objects = await store.list(store.tenant_prefix(tenant_id))
    await store.delete([o.key for o in objects])
    if cache_dir is not None:
        await asyncio.to_thread(drop_cached, cache_dir, prefixes=[store.tenant_prefix(tenant_id)])
    return len(objects)
