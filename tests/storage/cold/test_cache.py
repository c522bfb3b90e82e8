"""The local cache of bucket files (`storage.cold.cache`): a key that holds other content after a purge and a
re-archive is fetched anew, purge and retention remove this machine's copies, two caches sharing a folder (two
processes) neither break each other's reads nor fail when the other evicted a copy, concurrent reads on a tiny
cache all answer, and a 503 names the tenant and the file but no URL or local path. The bucket is obstore's
LocalStore behind the bucket code path."""

from __future__ import annotations

import asyncio
import logging
import shutil
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from obstore.store import LocalStore
from sqlalchemy import Table, select
from sqlalchemy.ext.asyncio import AsyncEngine

from core.errors import render_error
from storage.cold.archival import ArchiveCut, archive_table, expire_cold_files, purge_cold
from storage.cold.cache import ColdObjectVersion, FileCache
from storage.cold.reader import ColdReader, ColdStoreUnavailable
from storage.cold.store import ColdStore
from storage.cold.tables import cold_files
from storage.cold.watermarks import Watermark, read_watermark
from storage.hot_writes import write_rows
from storage.query import Query
from tests.storage.cold.helpers import MONTH_END, OTHER, TENANT, make_rows, unreachable_bucket

Events = tuple[AsyncEngine, Table, list[dict[str, Any]]]


def bucket_at(folder: Path) -> ColdStore:
    folder.mkdir(parents=True, exist_ok=True)
    return ColdStore("memory-like://bucket", store=LocalStore(prefix=folder))


async def archive(engine: AsyncEngine, store: ColdStore, table: Table, tenant_id: str = TENANT) -> Watermark:
    await archive_table(
        engine, store, tenant_id=tenant_id, processor="p", table=table, cut=ArchiveCut(), max_file_rows=13
    )
    async with engine.connect() as conn:
        watermark = await read_watermark(conn, tenant_id, table.name)
    assert watermark is not None
    return watermark


async def versions(engine: AsyncEngine, tenant_id: str) -> list[ColdObjectVersion]:
    f = cold_files.c
    async with engine.connect() as conn:
        result = await conn.execute(
            select(f.key, f.checksum, f.bytes, f.created_at).where(f.tenant_id == tenant_id).order_by(f.key)
        )
        return [ColdObjectVersion(r.key, r.checksum, r.bytes, r.created_at) for r in result]


async def read_all(reader: ColdReader, query: Query) -> list[dict[str, Any]]:
    async with reader.engine.connect() as conn:
        watermark = await read_watermark(conn, query.tenant_id, query.table.name)
    assert watermark is not None
    return (await reader.fetch(query, watermark))[0]


Bucketed = tuple[AsyncEngine, Table, list[dict[str, Any]], ColdStore, Watermark]


@pytest.fixture
async def bucketed(events: Events, tmp_path: Path) -> Bucketed:
    """The tenant's rows archived to a bucket at `tmp_path / "bucket"`, and its watermark."""
    engine, table, rows = events
    bucket = bucket_at(tmp_path / "bucket")
    return engine, table, rows, bucket, await archive(engine, bucket, table)


def copies(cache: Path, tenant_id: str) -> list[Path]:
    return sorted((cache / f"customer_id={tenant_id}").rglob("*.parquet"))


async def test_a_reused_key_is_fetched_anew_and_purge_and_retention_clear_the_cache(
    bucketed: Bucketed, tmp_path: Path
) -> None:
    engine, table, rows, bucket, watermark = bucketed
    cache = tmp_path / "cache"
    await archive(engine, bucket, table, OTHER)
    reader = ColdReader(bucket, engine, cache_dir=cache)
    everything = Query(TENANT, table, limit=200)
    assert [r["asset"] for r in (await reader.fetch(everything, watermark))[0]] == [r["asset"] for r in rows]
    before = await versions(engine, TENANT)
    assert len(copies(cache, TENANT)) == len(before)
    # Purged without touching the cache (as another process's copies), then the same ids archived again
    # with other content: the same keys, another manifest row each.
    await purge_cold(engine, bucket, TENANT)
    assert len(copies(cache, TENANT)) == len(before)
    changed = [{**r, "asset": f"{r['asset']}-v2"} for r in make_rows(TENANT, range(100, 120))]
    async with engine.begin() as conn:
        await write_rows(conn, table, changed)
    watermark = await archive(engine, bucket, table)
    after = await versions(engine, TENANT)
    assert [v.key for v in after] == [v.key for v in before] and after != before
    page, _ = await reader.fetch(everything, watermark)
    assert [r["asset"] for r in page] == [r["asset"] for r in changed]  # never the stale copies
    # A purge removes every copy of the tenant on this machine; retention the copies of the expired keys.
    await purge_cold(engine, bucket, TENANT, cache_dir=cache)
    assert not (cache / f"customer_id={TENANT}").exists()
    other = await read_all(reader, Query(OTHER, table, limit=200))
    known = await versions(engine, OTHER)
    assert other and len(copies(cache, OTHER)) == len(known)
    expired = await expire_cold_files(engine, bucket, OTHER, MONTH_END.replace(year=2100), cache_dir=cache)
    assert expired == len(known) and copies(cache, OTHER) == []
    await reader.close()


async def test_an_object_unlike_its_manifest_row_is_not_served(bucketed: Bucketed, tmp_path: Path) -> None:
    engine, table, _, bucket, watermark = bucketed
    cache = tmp_path / "cache"
    known = sorted(await versions(engine, TENANT), key=lambda v: v.size)
    first, second = known[0], known[-1]
    # Other bytes under the key than the manifest's row describes.
    shutil.copyfile(tmp_path / "bucket" / second.key, tmp_path / "bucket" / first.key)
    assert first.size != second.size
    reader = ColdReader(bucket, engine, cache_dir=cache)
    with pytest.raises(ColdStoreUnavailable, match=first.key):
        await reader.fetch(Query(TENANT, table, limit=200), watermark)
    cached = [p.name for p in copies(cache, TENANT)]
    assert cached and not any(name.startswith(Path(first.key).stem + ".") for name in cached)
    await reader.close()


async def test_two_caches_sharing_a_folder_keep_each_others_reads_working(
    bucketed: Bucketed, tmp_path: Path
) -> None:
    engine, table, rows, bucket, watermark = bucketed
    folder = tmp_path / "cache"
    first, second = (await versions(engine, TENANT))[:2]
    mine, theirs = FileCache(bucket, folder, 1), FileCache(bucket, folder, 1)
    held = await mine.pin(first)
    # The other process wants another file, and evicts everything it is not using, our copy included.
    await theirs.pin(second)
    assert not any(p.name.startswith(Path(first.key).stem + ".") for p in folder.rglob("*.parquet"))
    assert pq.read_table(held).num_rows == 13  # our private link still reads
    mine.unpin(held)
    # Our bookkeeping still lists the copy the other process removed: it is fetched again.
    again = await mine.pin(first)
    assert pq.read_table(again).num_rows == 13
    mine.unpin(again)
    reader = ColdReader(bucket, engine, cache_dir=folder, cache_bytes=1)
    page, _ = await reader.fetch(Query(TENANT, table, limit=200), watermark)
    assert [r["id"] for r in page] == [r["id"] for r in rows]
    await reader.close()


async def test_concurrent_reads_on_a_tiny_cache_all_answer(bucketed: Bucketed, tmp_path: Path) -> None:
    engine, table, rows, bucket, watermark = bucketed
    reader = ColdReader(bucket, engine, cache_dir=tmp_path / "cache", cache_bytes=1, max_concurrent=4)
    ids = [r["id"] for r in rows]
    starts = ids[::3]
    pages = await asyncio.gather(
        *(reader.fetch(Query(TENANT, table, limit=20, after=after), watermark) for after in starts * 3)
    )
    for after, (page, _) in zip(starts * 3, pages, strict=True):
        assert [r["id"] for r in page] == [i for i in ids if i > after][:20]
    await reader.close()


async def test_a_503_names_tenant_and_file_but_no_url_or_path(
    bucketed: Bucketed, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    engine, table, _, bucket, watermark = bucketed
    cache = tmp_path / "cache"
    key = (await versions(engine, TENANT))[0].key
    down = unreachable_bucket()
    unreachable = ColdReader(down, engine, cache_dir=cache)
    with caplog.at_level(logging.ERROR, logger="storage.cold.reader"):
        with pytest.raises(ColdStoreUnavailable) as caught:
            await unreachable.fetch(Query(TENANT, table, limit=5), watermark)
    rendered = render_error(caught.value, "req-1")
    message = rendered.body["error"]["message"]
    assert rendered.status == 503 and TENANT in message and key in message
    for secret in ("s3://", "cold-bucket", "127.0.0.1", "http", str(tmp_path)):
        assert secret not in message
    logged = " ".join(r.getMessage() for r in caplog.records)
    assert "s3://cold-bucket" in logged and key in logged and TENANT in logged
    await unreachable.close()
    # A corrupt copy in the bucket: read through the cache, the message still names no local path.
    with (tmp_path / "bucket" / key).open("r+b") as handle:
        handle.seek(-20, 2)
        handle.write(b"\x00" * 16)
    reader = ColdReader(bucket, engine, cache_dir=cache)
    with pytest.raises(ColdStoreUnavailable) as caught:
        await reader.fetch(Query(TENANT, table, limit=5), watermark)
    message = render_error(caught.value, "req-2").body["error"]["message"]
    assert key in message and str(tmp_path) not in message and ".use-" not in message
    await reader.close()
