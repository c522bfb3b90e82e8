"""`archive_table` and the other cold-tier lifecycle steps on both backends, on a generic history table: files
split by month and size, what the manifest and watermark record, rows leaving the hot store only after their
file is verified, reruns that resume, orphans swept, an unreachable store deleting nothing, row drops,
retention and purge."""

from __future__ import annotations

import asyncio
import itertools
from datetime import timedelta
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from sqlalchemy import Table, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from storage.cold.archival import (
    ArchiveCut,
    ArchiveVerificationError,
    archive_table,
    delete_archived_rows,
    expire_cold_files,
    forget_rows,
    purge_cold,
)
from storage.cold.parquet import to_rows
from storage.cold.store import ColdStore, ColdStoreUnreachable
from storage.cold.tables import cold_files
from storage.cold.watermarks import read_watermark
from storage.hot_writes import write_rows
from storage.query import Row
from tests.storage.cold.helpers import MONTH_END, OTHER, TENANT, hot_rows, without_tenant

Events = tuple[AsyncEngine, Table, list[dict[str, Any]]]
PROC = "events_proc"


async def manifest(engine: AsyncEngine, tenant_id: str = TENANT) -> list[dict[str, Any]]:
    f = cold_files.c
    async with engine.connect() as conn:
        result = await conn.execute(select(cold_files).where(f.tenant_id == tenant_id).order_by(f.first_id))
        return [dict(r) for r in result.mappings()]


async def test_archive_writes_verified_files_moves_the_watermark_then_deletes(
    events: Events, tmp_path: Path
) -> None:
    engine, table, rows = events
    store = ColdStore.open(str(tmp_path / "cold"))
    folded: list[str] = []
    progress: list[int] = []

    async def on_archived(conn: AsyncConnection, batch: list[dict[str, Any]]) -> None:
        assert await read_watermark(conn, TENANT, table.name) is not None  # inside the watermark transaction
        folded.extend(r["id"] for r in batch)

    async def on_deleted(total: int) -> None:
        progress.append(total)

    # Ledgers 100-111 (36 rows): ledgers 100-105 close in May's last minute, 106-111 in June.
    result = await archive_table(
        engine,
        store,
        tenant_id=TENANT,
        processor=PROC,
        table=table,
        cut=ArchiveCut(before_ledger=112),
        on_archived=on_archived,
        on_deleted=on_deleted,
        max_file_rows=13,
        delete_batch_rows=10,
    )
    archived = rows[:36]
    assert result.rows == 36 and result.deleted == 36
    assert progress == [10, 20, 30, 36]
    assert folded == [r["id"] for r in archived]
    files = await manifest(engine)
    # 6 ledgers x 3 rows in May, 6 x 3 in June; at most 13 rows a file.
    assert [(f["year"], f["month"], f["rows"]) for f in files] == [
        (2026, 5, 13),
        (2026, 5, 5),
        (2026, 6, 13),
        (2026, 6, 5),
    ]
    assert tuple(f["key"] for f in files) == result.files
    for f in files:
        assert f["key"].startswith(
            f"customer_id={TENANT}/processor={PROC}/year={f['year']:04d}/month={f['month']:02d}/"
        )
        assert f["key"].endswith(f"part-{f['first_id']}-{f['last_id']}.parquet")
        assert f["bytes"] == (tmp_path / "cold" / f["key"]).stat().st_size
    back = [row for f in files for row in to_rows(table, pq.read_table(tmp_path / "cold" / f["key"]))]
    assert back == without_tenant(archived)
    assert result.watermark is not None and result.watermark.last_id == archived[-1]["id"]
    assert result.watermark.last_ledger == 111
    assert await hot_rows(engine, table, TENANT) == without_tenant(rows[36:])
    assert len(await hot_rows(engine, table, OTHER)) == 12  # another tenant untouched

    # A rerun with the same cut has nothing to do; a later cut resumes after the watermark.
    again = await archive_table(
        engine, store, tenant_id=TENANT, processor=PROC, table=table, cut=ArchiveCut(before_ledger=112)
    )
    assert (again.files, again.rows, again.deleted, again.watermark) == ((), 0, 0, result.watermark)
    more = await archive_table(
        engine,
        store,
        tenant_id=TENANT,
        processor=PROC,
        table=table,
        cut=ArchiveCut(before_time=MONTH_END + timedelta(days=1)),
    )
    assert more.rows == len(rows) - 36 and await hot_rows(engine, table, TENANT) == []


async def test_files_split_at_month_and_size(events: Events, tmp_path: Path) -> None:
    engine, table, rows = events
    store = ColdStore.open(str(tmp_path / "cold"))
    await archive_table(
        engine, store, tenant_id=TENANT, processor=PROC, table=table, cut=ArchiveCut(), max_file_rows=13
    )
    files = await manifest(engine)
    assert [(f["month"], f["rows"]) for f in files] == [(5, 13), (5, 5), (6, 13), (6, 13), (6, 13), (6, 3)]
    assert sum(f["rows"] for f in files) == len(rows)
    ids = [(f["first_id"], f["last_id"]) for f in files]
    assert all(a[1] < b[0] for a, b in itertools.pairwise(ids))


async def test_orphans_are_swept_and_lingering_hot_rows_deleted(events: Events, tmp_path: Path) -> None:
    engine, table, rows = events
    store = ColdStore.open(str(tmp_path / "cold"))
    orphan = store.file_key(TENANT, PROC, 2026, 6, "x", "y")
    keep = store.file_key(TENANT, "another_proc", 2026, 6, "x", "y")
    for key in (orphan, keep):
        (tmp_path / "cold" / key).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "cold" / key).write_bytes(b"died before its watermark moved")
    await archive_table(
        engine, store, tenant_id=TENANT, processor=PROC, table=table, cut=ArchiveCut(before_ledger=110)
    )
    assert not (tmp_path / "cold" / orphan).exists() and (tmp_path / "cold" / keep).exists()
    # A ledger re-ingested after archival puts rows back at or below the watermark: the next run deletes them.
    async with engine.begin() as conn:
        await write_rows(conn, table, rows[:6])
    assert await delete_archived_rows(engine, TENANT, table, batch_rows=4) == 6
    assert len(await hot_rows(engine, table, TENANT)) == len(rows) - 30


async def test_an_unreachable_store_fails_the_run_and_deletes_nothing(events: Events, tmp_path: Path) -> None:
    engine, table, rows = events
    (tmp_path / "blocked").write_text("a file where the cold folder should be")
    store = ColdStore.open(str(tmp_path / "blocked"))
    with pytest.raises(ColdStoreUnreachable):
        await archive_table(engine, store, tenant_id=TENANT, processor=PROC, table=table, cut=ArchiveCut())
    assert len(await hot_rows(engine, table, TENANT)) == len(rows)
    async with engine.connect() as conn:
        assert await read_watermark(conn, TENANT, table.name) is None
    assert await manifest(engine) == []


async def test_drop_expire_and_purge(events: Events, tmp_path: Path) -> None:
    engine, table, rows = events
    store = ColdStore.open(str(tmp_path / "cold"))
    # cold_retention_years 0: the rows pass through the derived-state hook and the watermark, then go.
    folded: list[str] = []

    async def fold(conn: AsyncConnection, batch: list[Row]) -> None:
        folded.extend(str(row["id"]) for row in batch)

    forgot = await forget_rows(
        engine, TENANT, table, ArchiveCut(before_ledger=103), processor=PROC, on_archived=fold, batch_rows=4
    )
    assert forgot.files == () and forgot.deleted == 9
    assert folded == [row["id"] for row in rows[:9]]
    assert forgot.watermark is not None and forgot.watermark.last_id == rows[8]["id"]
    assert await hot_rows(engine, table, TENANT) == without_tenant(rows[9:])
    await archive_table(engine, store, tenant_id=TENANT, processor=PROC, table=table, cut=ArchiveCut())
    await archive_table(engine, store, tenant_id=OTHER, processor=PROC, table=table, cut=ArchiveCut())
    files = await manifest(engine)
    assert [f["month"] for f in files] == [5, 6]
    # Retention: the May file's newest row is before June; the June file stays.
    assert await expire_cold_files(engine, store, TENANT, MONTH_END + timedelta(minutes=1)) == 1
    assert [f["month"] for f in await manifest(engine)] == [6]
    assert not (tmp_path / "cold" / files[0]["key"]).exists()
    assert await purge_cold(engine, store, TENANT) == 1
    assert await manifest(engine) == [] and await store.list(store.tenant_prefix(TENANT)) == []
    async with engine.connect() as conn:
        assert await read_watermark(conn, TENANT, table.name) is None
        assert await read_watermark(conn, OTHER, table.name) is not None
    assert len(await manifest(engine, OTHER)) == 1


async def test_through_ledger_bounds_the_run(events: Events, tmp_path: Path) -> None:
    engine, table, rows = events
    store = ColdStore.open(str(tmp_path / "cold"))
    result = await archive_table(
        engine, store, tenant_id=TENANT, processor=PROC, table=table, cut=ArchiveCut(), through_ledger=104
    )
    assert result.rows == 15 and result.watermark is not None and result.watermark.last_ledger == 104
    assert await hot_rows(engine, table, TENANT) == without_tenant(rows[15:])


class DroppingStore(ColdStore):
    """A folder that keeps only the first half of each file it is given (a broken upload)."""

    async def put_file(self, key: str, local_path: Path) -> int:
        half = local_path.with_suffix(".half")
        await asyncio.to_thread(_first_half, local_path, half)
        return await super().put_file(key, half)


def _first_half(source: Path, target: Path) -> None:
    data = source.read_bytes()
    target.write_bytes(data[: len(data) // 2])


async def test_a_file_that_does_not_read_back_is_not_recorded(events: Events, tmp_path: Path) -> None:
    engine, table, rows = events
    store = DroppingStore(str(tmp_path / "cold"), root=tmp_path / "cold")
    with pytest.raises(ArchiveVerificationError):
        await archive_table(engine, store, tenant_id=TENANT, processor=PROC, table=table, cut=ArchiveCut())
    assert len(await hot_rows(engine, table, TENANT)) == len(rows)
    assert await manifest(engine) == []
