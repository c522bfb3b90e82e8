"""The cold store (a folder; a bucket on a real S3 API, moto's server; a bucket that cannot be reached or does
not exist) and the Parquet mapping: every column type of the processors' tables written and read back exactly,
files sorted, row groups of the configured size, and the read-back checksum that verification compares."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from storage.amounts import decode_sortable
from storage.cold import parquet
from storage.cold.parquet import Checksum, ParquetFileWriter, read_back, to_rows
from storage.cold.store import ColdCredentials, ColdStore, ColdStoreUnreachable
from tests.servers import S3_KEYS, create_bucket, endpoint_of, moto_s3
from tests.storage.cold.helpers import events_table, make_rows, unreachable_bucket, without_tenant

BIG = 10**39 - 1


def sample_rows(count: int) -> list[dict[str, Any]]:
    """`make_rows` with the edge values: 39-digit amounts of both signs, nulls, wide integers in JSON."""
    amounts = [0, 1, -1, BIG, -BIG, 2**127]
    datas: list[Any] = [{"b": [1, 2**100, "x"], "a": None}, [1.5, True], "é\u2028", None, 7]
    rows = without_tenant(make_rows("t", range(1000, 1000 + count)))[:count]
    for i, row in enumerate(rows):
        row.update(amount_raw=amounts[i % len(amounts)], data=datas[i % len(datas)])
        row["closed_at"] += timedelta(microseconds=i)
    return rows


def test_every_column_type_round_trips_exactly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parquet, "ROW_GROUP_ROWS", 40)
    table = events_table()
    rows = sample_rows(130)
    writer = ParquetFileWriter(table, tmp_path / "f.parquet")
    for start in range(0, len(rows), 17):  # batches that do not line up with row groups
        writer.add(rows[start : start + 17])
    stats = writer.close()
    source = pq.ParquetFile(tmp_path / "f.parquet")
    assert [source.metadata.row_group(g).num_rows for g in range(source.metadata.num_row_groups)] == [
        40,
        40,
        40,
        10,
    ]
    assert source.metadata.row_group(0).column(0).compression == "ZSTD"
    assert "tenant_id" not in source.schema_arrow.names
    back = to_rows(table, pq.read_table(tmp_path / "f.parquet"))
    assert back == rows
    assert [type(r["ledger_sequence"]) for r in back[:2]] == [int, int]
    assert back[3]["amount_raw"] == BIG and back[4]["amount_raw"] == -BIG
    assert back[0]["closed_at"].tzinfo is not None
    expected = Checksum()
    expected.update(r["id"] for r in rows)
    assert read_back(tmp_path / "f.parquet") == (130, expected.hexdigest()) == (stats.rows, stats.checksum)
    assert (stats.first_id, stats.last_id, stats.first_ledger, stats.last_ledger) == (
        rows[0]["id"],
        rows[-1]["id"],
        1000,
        1043,
    )
    assert (stats.min_closed_at, stats.max_closed_at) == (rows[0]["closed_at"], rows[-1]["closed_at"])
    assert stats.raw_bytes > 0


def test_amount_statistics_order_like_the_numbers(tmp_path: Path) -> None:
    table = events_table()
    rows = sample_rows(7)
    writer = ParquetFileWriter(table, tmp_path / "f.parquet")
    writer.add(rows)
    writer.close()
    stats = pq.ParquetFile(tmp_path / "f.parquet").metadata.row_group(0).column(6).statistics  # amount_raw
    assert (decode_sortable(stats.min), decode_sortable(stats.max)) == (-BIG, BIG)


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    with moto_s3() as server:
        yield endpoint_of(server)


def s3_store(endpoint: str, bucket: str) -> ColdStore:
    credentials = ColdCredentials(endpoint=endpoint, region="us-east-1", request_timeout=5, **S3_KEYS)
    return ColdStore.open(f"s3://{bucket}/cold/root", credentials)


@pytest.fixture(params=["folder", "s3"])
def any_store(request: pytest.FixtureRequest, tmp_path: Path) -> ColdStore:
    """A folder, and a bucket of the test's own on moto's S3 server: the same five operations on both."""
    if request.param == "folder":
        return ColdStore.open(f"file://{tmp_path}/cold")
    endpoint = request.getfixturevalue("s3_endpoint")
    bucket = f"store-{uuid.uuid4().hex[:8]}"
    create_bucket(endpoint, bucket)
    return s3_store(endpoint, bucket)


async def test_stores_put_whole_files_list_and_delete(any_store: ColdStore, tmp_path: Path) -> None:
    store = any_store
    key = store.file_key("t1", "proc", 2026, 6, "a" * 30, "b" * 30)
    assert key == f"customer_id=t1/processor=proc/year=2026/month=06/part-{'a' * 30}-{'b' * 30}.parquet"
    assert await store.list(store.tenant_prefix("t1")) == []
    local = tmp_path / "local.bin"
    local.write_bytes(b"x" * 1000)
    assert await store.put_file(key, local) == 1000
    other = store.file_key("t10", "proc", 2026, 6, "a" * 30, "b" * 30)
    await store.put_file(other, local)
    listed = await store.list(store.tenant_prefix("t1"))
    assert [(o.key, o.size) for o in listed] == [(key, 1000)]  # not t10's
    await store.fetch_file(key, tmp_path / "back.bin")
    assert (tmp_path / "back.bin").read_bytes() == b"x" * 1000
    await store.delete([key, key + ".missing"])
    await store.delete([key])  # already gone
    assert await store.list(store.processor_prefix("t1", "proc")) == []
    assert [o.key for o in await store.list(store.tenant_prefix("t10"))] == [other]
    assert not [p for p in (tmp_path / "cold").rglob("*") if ".tmp-" in p.name]
    with pytest.raises(ColdStoreUnreachable, match="cannot read"):
        await store.fetch_file(key, tmp_path / "gone.bin")


async def test_a_missing_bucket_is_unreachable(s3_endpoint: str, tmp_path: Path) -> None:
    """A bucket that does not exist (a typo, deleted): archival must stop, as for a store that is down."""
    store = s3_store(s3_endpoint, f"missing-{uuid.uuid4().hex[:8]}")
    local = tmp_path / "local.bin"
    local.write_bytes(b"x")
    with pytest.raises(ColdStoreUnreachable, match="cannot write"):
        await store.put_file("customer_id=t/x.parquet", local)
    with pytest.raises(ColdStoreUnreachable, match="cannot list"):
        await store.list("customer_id=t/")


async def test_unreachable_bucket_and_unwritable_folder_raise_unreachable(tmp_path: Path) -> None:
    local = tmp_path / "local.bin"
    local.write_bytes(b"x")
    bucket = unreachable_bucket()
    with pytest.raises(ColdStoreUnreachable, match="cannot write"):
        await bucket.put_file("customer_id=t/x.parquet", local)
    with pytest.raises(ColdStoreUnreachable, match="cannot list"):
        await bucket.list("customer_id=t/")
    with pytest.raises(ColdStoreUnreachable, match="cannot read"):
        await bucket.fetch_file("customer_id=t/x.parquet", tmp_path / "x")
    (tmp_path / "blocked").write_text("a file where the cold folder should be")
    folder = ColdStore.open(str(tmp_path / "blocked"))
    with pytest.raises(ColdStoreUnreachable, match="cannot write"):
        await folder.put_file("customer_id=t/x.parquet", local)
    with pytest.raises(ColdStoreUnreachable, match="cannot list"):  # not "nothing stored"
        await folder.list("customer_id=t/")
    if os.geteuid() != 0:  # root writes anywhere
        readonly = tmp_path / "readonly"
        readonly.mkdir(mode=0o555)
        with pytest.raises(ColdStoreUnreachable):
            await ColdStore.open(str(readonly)).put_file("customer_id=t/x.parquet", local)


async def test_stores_and_readers_come_from_settings(tmp_path: Path) -> None:
    from core.settings import Settings
    from storage.cold.reader import ColdReader
    from storage.db import create_engine

    folder = ColdStore.from_settings(Settings(cold_url=f"file://{tmp_path}/cold"))
    assert folder.root == tmp_path / "cold" and folder.local_path("k") == tmp_path / "cold" / "k"
    assert ColdStore.from_settings(Settings(cold_url=str(tmp_path / "plain"))).root == tmp_path / "plain"
    bucket = ColdStore.from_settings(
        Settings(
            cold_url="s3://bucket/prefix",
            cold_endpoint="http://127.0.0.1:9",
            cold_region="eu-west-1",
            cold_access_key_id="id",
            cold_secret_access_key="secret",  # type: ignore[arg-type]
        )
    )
    assert bucket.root is None and bucket.local_path("k") is None  # a bucket: read through the cache
    assert ColdStore.from_settings(Settings(cold_url="gs://bucket/p", cold_anonymous=True)).root is None
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path}/db.sqlite")
    reader = ColdReader.from_settings(Settings(cold_url="s3://bucket/prefix", cold_anonymous=True), engine)
    await reader.close()
    await engine.dispose()


@pytest.mark.parametrize(
    ("url", "folder"),
    [
        ("file://.obsrvr-flow/cold", Path(".obsrvr-flow/cold").resolve()),  # the default: relative, not /cold
        ("file:///srv/cold", Path("/srv/cold")),
        ("file://localhost/srv/cold", Path("/srv/cold")),
        ("relative/cold", Path("relative/cold").resolve()),
        ("/srv/cold", Path("/srv/cold")),
    ],
)
def test_a_folder_url_names_the_folder_it_says(url: str, folder: Path) -> None:
    assert ColdStore.open(url).root == folder
