"""`ColdReader` answers as the hot store did: every filter operator on every column type, both orders, ranges,
positions, counts and sums, on both backends' manifests; a corrupt or missing file, or an unreachable bucket,
is 503 `cold_store_unavailable` naming the tenant and the file, for that query only."""

from __future__ import annotations

import itertools
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from obstore.store import LocalStore
from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncEngine

from core.errors import render_error
from storage.cold import memory, parquet
from storage.cold.archival import ArchiveCut, archive_table, purge_cold
from storage.cold.reader import ColdReader, ColdStoreUnavailable
from storage.cold.store import ColdStore
from storage.cold.watermarks import Watermark, read_watermark
from storage.flows import sum_legs
from storage.hot_query import count_rows, fetch_page
from storage.hot_writes import write_rows
from storage.query import Filter, Query
from tests.storage.cold.helpers import MONTH_END, OTHER, TENANT, unreachable_bucket

Events = tuple[AsyncEngine, Table, list[dict[str, Any]]]
Fetch = Callable[[Query], Awaitable[tuple[list[dict[str, Any]], bool]]]
BIG = 10**30


def filter_sets() -> list[tuple[Filter, ...]]:
    t0 = MONTH_END + timedelta(seconds=55)
    return [
        (),
        (Filter.eq("from", "G1"),),
        (Filter.eq("to", None),),
        (Filter.any_of(("from", "to"), ["G1", "G2"]),),
        (Filter.any_of("from", []),),
        (Filter(("amount_raw",), "gte", 50 * BIG),),
        (Filter(("amount_raw",), "lte", -5 * BIG),),
        (Filter(("amount_raw",), "lt", 0), Filter(("amount_raw",), "gt", -200 * BIG)),
        (Filter.any_of("amount_raw", [301 * BIG, -300 * BIG, 7]),),
        (Filter.eq("amount_raw", 302 * BIG),),
        (Filter.eq("ok", False),),
        (Filter(("decimals",), "is_null"),),
        (Filter(("to",), "not_null"), Filter.eq("decimals", 7)),
        (Filter(("closed_at",), "gt", t0),),
        (Filter(("closed_at",), "lte", t0), Filter(("ledger_sequence",), "gte", 103)),
        (Filter.either(Filter.eq("asset", "native"), Filter(("decimals",), "is_null")),),
        (Filter.either(Filter.eq("ok", True), Filter.eq("from", "G3")), Filter(("id",), "gt", "0")),
    ]


def queries(table: Table) -> list[Query]:
    ranges: list[dict[str, Any]] = [
        {},
        {"from_ledger": 104, "to_ledger": 112},
        {"from_time": MONTH_END + timedelta(seconds=30), "to_time": MONTH_END + timedelta(seconds=100)},
        {"to_time": MONTH_END + timedelta(seconds=20)},
    ]
    out = []
    for filters, span, (limit, descending) in itertools.product(
        filter_sets(), ranges, [(4, False), (7, True), (200, False)]
    ):
        out.append(Query(TENANT, table, filters, limit=limit, descending=descending, **span))
    return out


async def read_all(fetch: Fetch, query: Query) -> list[list[str]]:
    pages = []
    while True:
        rows, more = await fetch(query)
        pages.append(rows)
        if not more:
            return pages
        query = query.replace(after=rows[-1]["id"])


def ids_of(path: Path) -> tuple[str, str]:
    """The first and last id in a cold file's name (`part-<first>-<last>.parquet`; ids hold one dash)."""
    parts = path.name.removeprefix("part-").removesuffix(".parquet").split("-")
    return f"{parts[0]}-{parts[1]}", f"{parts[2]}-{parts[3]}"


# The hot answers of `queries` (pages and capped count of each), by backend: the `events` rows are the same in
# every test's database (`make_rows`), so each backend's answers are read once per module run, before the first
# archival on it, instead of once per test (they were most of each test's setup).
_HOT_ANSWERS: dict[str, list[Any]] = {}


async def hot_answers(engine: AsyncEngine, table: Table) -> dict[Query, Any]:
    """Each query of `queries(table)` -> its hot pages and count, read from `engine` before anything is archived
    (once per backend, see `_HOT_ANSWERS`)."""

    async def hot(query: Query) -> tuple[list[dict[str, Any]], bool]:
        async with engine.connect() as conn:
            return await fetch_page(conn, query)

    backend = engine.dialect.name
    if backend not in _HOT_ANSWERS:
        answers = []
        for query in queries(table):
            async with engine.connect() as conn:
                count = await count_rows(conn, query, 10)
            answers.append((await read_all(hot, query), count))
        _HOT_ANSWERS[backend] = answers
    return dict(zip(queries(table), _HOT_ANSWERS[backend], strict=True))


@pytest.fixture(params=["in-memory", "duckdb"])
async def archived(
    events: Events, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> Any:
    """The hot answers of every query, then everything archived (files of 13 rows in row groups of 4: pages
    span files and row groups) and a reader: one holding the files decoded in memory (`storage.cold.memory`),
    or one reading every file with DuckDB (a memory budget of 0, as for files too big to hold)."""
    monkeypatch.setattr(parquet, "ROW_GROUP_ROWS", 4)
    engine, table, _ = events
    before = await hot_answers(engine, table)
    store = ColdStore.open(str(tmp_path / "cold"))
    for tenant in (TENANT, OTHER):
        await archive_table(
            engine, store, tenant_id=tenant, processor="p", table=table, cut=ArchiveCut(), max_file_rows=13
        )
    reader = ColdReader(store, engine, memory_bytes=0 if request.param == "duckdb" else 10**8)
    async with engine.connect() as conn:
        watermark = await read_watermark(conn, TENANT, table.name)
    assert watermark is not None
    yield engine, table, reader, watermark, before, store
    await reader.close()


async def test_cold_pages_and_counts_equal_the_hot_ones(archived: Any) -> None:
    _, table, reader, watermark, before, store = archived
    for query, (pages, count) in before.items():

        async def cold(q: Query) -> tuple[list[dict[str, Any]], bool]:
            return await reader.fetch(q, watermark)

        assert await read_all(cold, query) == pages, query
        assert await reader.count(query, watermark, 10) == count, query
        if reader.memory_bytes:  # every filter of the list has its Arrow form: none fell back to DuckDB
            memory.conditions(query, parquet.parquet_schema(table).empty_table())
    assert store.root is not None
    files = list(store.root.rglob(f"customer_id={TENANT}/**/*.parquet"))
    assert reader.files_in_memory == (len(files) if reader.memory_bytes else 0) and len(files) > 1
    # Typed as the hot store types them.
    row = before[next(iter(before))][0][0][0]
    assert {k: type(v) for k, v in row.items()} == {
        k: type(v) for k, v in (await reader.fetch(next(iter(before)), watermark))[0][0].items()
    }


async def test_a_watermark_below_the_files_hides_their_later_rows(archived: Any) -> None:
    _, table, reader, _watermark, before, _ = archived
    everything = [r for page in before[Query(TENANT, table, limit=200)][0] for r in page]
    middle = everything[20]
    partial = Watermark(middle["id"], middle["ledger_sequence"], middle["closed_at"])
    rows, more = await reader.fetch(Query(TENANT, table, limit=200), partial)
    assert rows == everything[:21] and not more
    assert await reader.count(Query(TENANT, table, limit=1), partial, 100) == (21, True)


async def test_sums_equal_the_hot_sums(events: Events, tmp_path: Path) -> None:
    engine, table, _ = events
    flt = (Filter.either(Filter.eq("ok", True), Filter.eq("asset", "native")),)
    holders = ["G0", "G1", "G3", "nobody"]
    async with engine.connect() as conn:
        hot = await sum_legs(conn, table, TENANT, flt, holders=holders)
    store = ColdStore.open(str(tmp_path / "cold"))
    await archive_table(
        engine, store, tenant_id=TENANT, processor="p", table=table, cut=ArchiveCut(), max_file_rows=9
    )
    reader = ColdReader(store, engine)
    async with engine.connect() as conn:
        watermark = await read_watermark(conn, TENANT, table.name)
    assert watermark is not None and hot
    assert await reader.sum_legs(table, TENANT, flt, holders, watermark) == hot
    await reader.close()


async def test_a_corrupt_or_missing_file_is_cold_store_unavailable(archived: Any, tmp_path: Path) -> None:
    engine, table, reader, watermark, _, _store = archived
    query = Query(TENANT, table, limit=5)
    first = (await reader.fetch(query, watermark))[0]
    files = sorted((tmp_path / "cold").rglob(f"customer_id={TENANT}/**/*.parquet"))
    with files[0].open("r+b") as handle:  # overwrite bytes of the footer
        handle.seek(-20, 2)
        handle.write(b"\x00" * 16)
    with pytest.raises(ColdStoreUnavailable) as caught:
        await reader.fetch(query, watermark)
    key = files[0].relative_to(tmp_path / "cold").as_posix()
    rendered = render_error(caught.value, "req-1")
    assert rendered.status == 503 and rendered.code == "cold_store_unavailable"
    message = rendered.body["error"]["message"]
    assert TENANT in message and key in message and str(tmp_path) not in message
    assert rendered.body["error"]["file"] == key and rendered.headers["Retry-After"]
    # A later page that does not need the broken file still reads; another tenant too.
    later = query.replace(after=ids_of(files[1])[0])
    assert (await reader.fetch(later, watermark))[0]
    async with engine.connect() as conn:
        other = await read_watermark(conn, OTHER, table.name)
    assert other is not None and (await reader.fetch(Query(OTHER, table, limit=5), other))[0]
    with pytest.raises(ColdStoreUnavailable, match=files[0].name):
        await reader.count(query, watermark, 1000)
    files[2].unlink()  # a file of the manifest gone from the store
    with pytest.raises(ColdStoreUnavailable, match=files[2].name):
        await reader.fetch(query.replace(after=ids_of(files[1])[1]), watermark)
    assert first


async def test_a_bucket_is_read_through_the_local_cache(events: Events, tmp_path: Path) -> None:
    engine, table, rows = events
    (tmp_path / "bucket").mkdir()
    bucket = ColdStore("memory-like://bucket", store=LocalStore(prefix=tmp_path / "bucket"))
    await archive_table(
        engine, bucket, tenant_id=TENANT, processor="p", table=table, cut=ArchiveCut(), max_file_rows=13
    )
    async with engine.connect() as conn:
        watermark = await read_watermark(conn, TENANT, table.name)
    assert watermark is not None
    reader = ColdReader(bucket, engine, cache_dir=tmp_path / "cache", cache_bytes=1)
    page, more = await reader.fetch(Query(TENANT, table, limit=5), watermark)
    assert [r["id"] for r in page] == [r["id"] for r in rows[:5]] and more
    cached = list((tmp_path / "cache").rglob("*.parquet"))
    assert len(cached) == 1  # only the file the page needed (kept while in use, the bound is 1 byte)
    everything, _ = await reader.fetch(Query(TENANT, table, limit=200), watermark)
    assert len(everything) == len(rows)
    assert len(list((tmp_path / "cache").rglob("*.parquet"))) <= 1  # evicted past the bound
    await reader.close()
    down = unreachable_bucket()
    unreachable = ColdReader(down, engine, cache_dir=tmp_path / "cache2")
    with pytest.raises(ColdStoreUnavailable, match=TENANT):
        await unreachable.fetch(Query(TENANT, table, limit=5), watermark)
    await unreachable.close()


async def test_a_key_written_again_after_a_purge_is_not_read_from_the_cache(
    events: Events, tmp_path: Path
) -> None:
    """A tenant purged and created again under its id may archive other rows under the same key (same first and
    last ids, other rows between: another processor configuration). A reader that cached the old file must not
    answer from it: its cache names a file by its manifest row too."""
    engine, table, rows = events
    (tmp_path / "bucket").mkdir()
    bucket = ColdStore("memory-like://bucket", store=LocalStore(prefix=tmp_path / "bucket"))
    reader = ColdReader(bucket, engine, cache_dir=tmp_path / "cache")
    query = Query(TENANT, table, limit=200)
    try:
        await archive_table(engine, bucket, tenant_id=TENANT, processor="p", table=table, cut=ArchiveCut())
        async with engine.connect() as conn:
            watermark = await read_watermark(conn, TENANT, table.name)
        assert watermark is not None
        first, _ = await reader.fetch(query, watermark)
        assert len(first) == len(rows)

        await purge_cold(engine, bucket, TENANT)
        kept = [rows[0], *rows[2:-2], rows[-1]]  # the same first and last rows, two fewer in between
        async with engine.begin() as conn:
            await write_rows(conn, table, kept)
        await archive_table(engine, bucket, tenant_id=TENANT, processor="p", table=table, cut=ArchiveCut())
        async with engine.connect() as conn:
            again = await read_watermark(conn, TENANT, table.name)
        assert again is not None
        second, _ = await reader.fetch(query, again)
        assert [r["id"] for r in second] == [r["id"] for r in kept]
    finally:
        await reader.close()
