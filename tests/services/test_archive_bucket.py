"""The cold tier on an object store: the 20 mainnet ledgers archived to a real S3 API (moto's server on a loopback
port), configured only through the `OBSRVR_COLD_*` settings, as an operator would. The objects and their hive
keys in the bucket; pages, counts and exports through the router equal to the hot answers before archival; the
local file cache filling and staying within `cold_cache_bytes`; retention and the tenant purge deleting the
objects; and an outage (the server stopped): cold reads 503 `cold_store_unavailable`, hot-only reads answered,
archival failing with no hot row deleted; reads resuming once it is back."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from core.settings import Settings
from processors.registry import default_registry
from services.archiving import archive_tenant
from services.tenant_purge import purge_cold_tier
from storage.cold.archival import ArchiveCut
from storage.cold.reader import ColdReader, ColdStoreUnavailable
from storage.cold.store import ColdStore, ColdStoreUnreachable
from storage.cold.tables import cold_files
from storage.db import create_engine
from storage.export_rows import iter_tenant_rows
from storage.query import Query
from storage.router import QueryRouter
from storage.tenants import TenantStore
from tests.mainnet_data import FIRST, FULL, PARTIAL, MainnetData
from tests.servers import S3_KEYS, create_bucket, endpoint_of, moto_s3

# Minutes long (the ledgers archived to moto, read back several times):
# started first under pytest-xdist, see tests/parallel.py `order_files`.
pytestmark = pytest.mark.heavy(215)
REGISTRY = default_registry()
TABLES = [table for p in REGISTRY.catalogue().values() for table in p.archive]
CUT = FIRST + 10  # ledgers before it go cold first, the rest later
PREFIX = "tiers"
KEY = re.compile(
    rf"{PREFIX}/customer_id=(?P<tenant>[^/]+)/processor=(?P<processor>[a-z_]+)/year=\d{{4}}/month=\d{{2}}/"
    r"part-(?P<first>\d+-\d+)-(?P<last>\d+-\d+)\.parquet"  # ids: `<order key>-<counter>`
)


@dataclass
class Bucket:
    server: Any
    client: Any  # boto3, to see what the code stored
    name: str

    def keys(self) -> dict[str, int]:
        """Every object of the bucket: key -> size."""
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.name)
        return {o["Key"]: o["Size"] for page in pages for o in page.get("Contents", [])}


@pytest.fixture
def bucket(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Any:
    """A bucket of the test's own on a moto server, and the settings pointing the cold tier at it."""
    with moto_s3() as server:
        endpoint = endpoint_of(server)
        name = f"cold-{uuid.uuid4().hex[:8]}"
        client = create_bucket(endpoint, name)
        for setting, value in {
            "COLD_URL": f"s3://{name}/{PREFIX}",
            "COLD_ENDPOINT": endpoint,
            "COLD_REGION": "us-east-1",
            "COLD_ACCESS_KEY_ID": S3_KEYS["access_key_id"],
            "COLD_SECRET_ACCESS_KEY": S3_KEYS["secret_access_key"],
            "COLD_REQUEST_TIMEOUT_SECONDS": "5",
            "COLD_CACHE_DIR": str(tmp_path / "cache"),
        }.items():
            monkeypatch.setenv(f"OBSRVR_{setting}", value)
        yield Bucket(server, client, name)


@pytest.fixture
async def loaded(mainnet_pg: MainnetData) -> AsyncIterator[AsyncEngine]:
    """The test's own PostgreSQL copy of the session's ingested ledgers (both tenants)."""
    engine = create_engine(mainnet_pg.url)
    try:
        yield engine
    finally:
        await engine.dispose()


async def read_all(router: QueryRouter, query: Query) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    while True:
        page = await router.fetch(query)
        rows.extend(page.rows)
        following = page.next_query()
        if following is None:
            return rows
        query = following


async def answers(router: QueryRouter, tenant_id: str) -> dict[Any, Any]:
    """Pages in both orders, small pages across the cut, capped and exact counts, a ledger range and the export
    of every archived table of the tenant."""
    out: dict[Any, Any] = {}
    for table in TABLES:
        base = Query(tenant_id, table, limit=150)
        for descending in (False, True):
            out[(table.name, descending)] = await read_all(router, base.replace(descending=descending))
            out[(table.name, descending, "small")] = await read_all(
                router, base.replace(descending=descending, limit=9, from_ledger=CUT - 1, to_ledger=CUT)
            )
        out[(table.name, "count")] = await router.count(base, 10**6)
        out[(table.name, "count7")] = await router.count(base.replace(from_ledger=CUT - 2), 7)
        exported = []
        async for chunk in iter_tenant_rows(router.engine, table, tenant_id, page_size=400, cold=router.cold):
            exported.extend(chunk)
        out[(table.name, "export")] = exported
    return out


async def hot_count(engine: AsyncEngine, tenant_id: str) -> int:
    total = 0
    async with engine.connect() as conn:
        for t in TABLES:
            total += (await conn.execute(select(func.count()).where(t.c.tenant_id == tenant_id))).scalar_one()
    return total


async def manifest(engine: AsyncEngine, tenant_id: str) -> dict[str, int]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(cold_files.c.key, cold_files.c.bytes).where(cold_files.c.tenant_id == tenant_id)
        )
        return {f"{PREFIX}/{key}": size for key, size in rows}


async def archive(engine: AsyncEngine, store: ColdStore, tenant_id: str, cut: ArchiveCut) -> int:
    tenant = await TenantStore(engine).get(tenant_id)
    assert tenant is not None
    report = await archive_tenant(engine, store, REGISTRY, tenant, cut=cut, max_file_rows=700)
    return sum(t.rows for t in report.tables)


def cached(folder: Path) -> dict[str, int]:
    """The cache's files by their bucket keys (a cached name adds a digest of its manifest row) -> size."""
    out = {}
    for path in folder.rglob("*.parquet"):
        name = f"{PREFIX}/{path.relative_to(folder).as_posix()}"
        out[re.sub(r"\.[0-9a-f]{32}\.parquet$", ".parquet", name)] = path.stat().st_size
    return out


async def test_archive_read_cache_retention_and_purge_on_s3(
    bucket: Bucket, loaded: AsyncEngine, tmp_path: Path
) -> None:
    engine = loaded
    settings = Settings()
    store = ColdStore.from_settings(settings)
    assert store.root is None  # a bucket, reached only through the settings
    reader = ColdReader.from_settings(settings, engine)
    router = QueryRouter(engine, cold=reader)
    try:
        before = await answers(router, FULL)
        total = await hot_count(engine, FULL)

        # Half the ledgers, then everything: the bucket holds exactly the manifest's objects under hive keys.
        moved = await archive(engine, store, FULL, ArchiveCut(before_ledger=CUT))
        assert 0 < moved < total
        assert bucket.keys() == await manifest(engine, FULL)
        assert await answers(router, FULL) == before
        moved += await archive(engine, store, FULL, ArchiveCut())
        assert moved == total and await hot_count(engine, FULL) == 0
        objects = bucket.keys()
        assert objects == await manifest(engine, FULL)
        processors = {p.name for p in REGISTRY.catalogue().values() if p.archive}
        found = {m["processor"] for key in objects if (m := KEY.fullmatch(key)) and m["tenant"] == FULL}
        assert found == processors and all(KEY.fullmatch(key) for key in objects)
        assert await answers(router, FULL) == before
        # The default bound holds everything: every object read once is in the cache, byte for byte its size.
        assert cached(settings.cold_cache_dir) == objects
    finally:
        await reader.close()

    # A bound of two of the largest files: a fresh cache fills, evicts, and never holds more.
    bound = 2 * max(objects.values())
    assert bound < sum(objects.values()) // 2
    small = Settings(cold_cache_dir=tmp_path / "small-cache", cold_cache_bytes=bound)
    bounded = ColdReader.from_settings(small, engine)
    try:
        assert await answers(QueryRouter(engine, cold=bounded), FULL) == before
        kept = cached(small.cold_cache_dir)
        assert kept and sum(kept.values()) <= bound
        assert not [p for p in small.cold_cache_dir.rglob("*") if ".tmp-" in p.name]
    finally:
        await bounded.close()

    # Retention: a run long after the rows closed deletes every file of the tenant, and only its files.
    await archive(engine, store, PARTIAL, ArchiveCut())
    others = await manifest(engine, PARTIAL)
    assert others and bucket.keys() == objects | others
    tenant = await TenantStore(engine).get(FULL)
    assert tenant is not None
    report = await archive_tenant(engine, store, REGISTRY, tenant, now=datetime(2100, 1, 1, tzinfo=UTC))
    assert report.expired_files == len(objects)
    assert bucket.keys() == others and await manifest(engine, FULL) == {}

    # The tenant purge's cold step empties the other tenant's folder of the bucket.
    assert await purge_cold_tier(engine, settings, PARTIAL) == len(others)
    assert bucket.keys() == {} and await manifest(engine, PARTIAL) == {}


async def test_an_outage_fails_cold_reads_and_archival_not_hot_reads(
    bucket: Bucket, loaded: AsyncEngine
) -> None:
    engine = loaded
    settings = Settings()
    store = ColdStore.from_settings(settings)
    reader = ColdReader.from_settings(settings, engine)
    router = QueryRouter(engine, cold=reader)
    table = REGISTRY.by_name("token_transfers").archive[0]
    cold_query = Query(FULL, table, limit=20)
    hot_query = cold_query.replace(from_ledger=CUT)
    try:
        hot_page, first_page = await router.fetch(hot_query), await router.fetch(cold_query)
        await archive(engine, store, FULL, ArchiveCut(before_ledger=CUT))
        files = await manifest(engine, FULL)
        left = await hot_count(engine, FULL)
        bucket.server.stop()

        with pytest.raises(ColdStoreUnavailable) as failed:
            await router.fetch(cold_query)
        assert (failed.value.status, failed.value.code) == (503, "cold_store_unavailable")
        assert failed.value.details["tenant_id"] == FULL
        with pytest.raises(ColdStoreUnavailable):
            await router.count(cold_query, 10**6)
        again = await router.fetch(hot_query)
        assert (again.rows, again.sources) == (hot_page.rows, ("hot",))

        with pytest.raises(ColdStoreUnreachable):
            await archive(engine, store, FULL, ArchiveCut())
        assert await hot_count(engine, FULL) == left and await manifest(engine, FULL) == files

        # The store back (moto keeps its buckets in the process): the same reader answers again.
        host, port = bucket.server.get_host_and_port()
        with moto_s3(port) as back:
            assert endpoint_of(back) == f"http://{host}:{port}"
            page = await router.fetch(cold_query)
            assert (page.rows, page.sources) == (first_page.rows, ("cold",))
    finally:
        await reader.close()
