"""The datastore reader against a real S3 API: moto's server on 127.0.0.1, spoken to over HTTP."""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from ledgers.sources import (
    DatastoreSource,
    LedgerNotFound,
    LedgerSource,
    PassphraseMismatch,
    SourceConfigError,
    open_source,
)
from ledgers.sources.blobstore import open_blob_store
from ledgers.sources.layout import CONFIG_NAME, DatastoreConfig
from tests.servers import S3_KEYS, create_bucket, endpoint_of, moto_s3

from . import PUBNET, RECONSTRUCTED_RANGE, batched_objects, reconstructed_ledgers

BUCKET = "ledger-lake"
PREFIX = "v1.1/stellar/ledgers/pubnet"
KEYS = S3_KEYS
LAKE = DatastoreConfig(network_passphrase=PUBNET, ledgers_per_batch=1, batches_per_partition=64000)


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    """A moto S3 server in a thread on a free loopback port, stopped after the module."""
    with moto_s3() as server:
        yield endpoint_of(server)


@pytest.fixture(scope="module")
def s3_bucket(s3_endpoint: str) -> str:
    """A bucket anyone may read, like aws-public-blockchain, so unsigned requests work too."""
    client = create_bucket(s3_endpoint, BUCKET)
    statement = {"Effect": "Allow", "Principal": "*", "Action": ["s3:GetObject"],
                 "Resource": [f"arn:aws:s3:::{BUCKET}/*"]}  # fmt: skip
    client.put_bucket_policy(
        Bucket=BUCKET, Policy=json.dumps({"Version": "2012-10-17", "Statement": [statement]})
    )
    return BUCKET


@pytest.fixture
def s3_lake(s3_endpoint: str, s3_bucket: str, shared_ledgers: Path) -> Iterator[str]:
    """The reconstructed ledgers in the public lake's layout under this test's own prefix (removed after)."""
    import obstore
    from obstore.store import S3Store

    prefix = f"{uuid.uuid4().hex[:8]}/{PREFIX}"
    store = S3Store(
        s3_bucket,
        prefix=prefix,
        endpoint=s3_endpoint,
        region="us-east-1",
        client_options={"allow_http": True},
        access_key_id=KEYS["access_key_id"],
        secret_access_key=KEYS["secret_access_key"],
    )
    objects = batched_objects(reconstructed_ledgers(shared_ledgers), LAKE)
    objects[CONFIG_NAME] = LAKE.to_json().encode()
    for key, data in objects.items():
        obstore.put(store, key, data)
    try:
        yield f"s3://{s3_bucket}/{prefix}"
    finally:
        obstore.delete(store, list(objects))


async def _read(source: LedgerSource, start: int, end: int) -> list[int]:
    assert isinstance(source, DatastoreSource)
    async with contextlib.aclosing(source.ledgers(start, end)) as ledgers:
        return [seq async for seq, _ in ledgers]


async def test_reads_the_lake_over_s3_with_credentials(s3_lake: str, s3_endpoint: str) -> None:
    source = await open_source(
        s3_lake, "pubnet", endpoint=s3_endpoint, region="us-east-1", storage_options=KEYS, prefetch=4
    )
    assert await _read(source, RECONSTRUCTED_RANGE[0], RECONSTRUCTED_RANGE[-1]) == RECONSTRUCTED_RANGE
    with pytest.raises(LedgerNotFound, match=r"ledger 30822026 is not in the datastore at s3://ledger-lake/"):
        await _read(source, 30822026, 30822026)
    await source.close()


async def test_finds_the_tip_over_s3(s3_lake: str, s3_endpoint: str) -> None:
    """The newest partition, then the newest object, from S3 listings (lexicographic, like galexie's)."""
    source = await open_source(
        s3_lake, "pubnet", endpoint=s3_endpoint, region="us-east-1", storage_options=KEYS
    )
    assert isinstance(source, DatastoreSource)
    assert await source.latest_sequence() == RECONSTRUCTED_RANGE[-1]
    await source.close()
    empty = await DatastoreSource.open(
        f"s3://{BUCKET}/nothing-here",
        config=LAKE,
        endpoint=s3_endpoint,
        region="us-east-1",
        storage_options=KEYS,
    )
    assert await empty.latest_sequence() is None
    await empty.close()


async def test_reads_the_lake_anonymously(s3_lake: str, s3_endpoint: str) -> None:
    source = await open_source(
        s3_lake, "pubnet", endpoint=s3_endpoint, region="us-east-1", skip_signature=True
    )
    assert await _read(source, 30822020, 30822025) == RECONSTRUCTED_RANGE[5:]
    await source.close()


async def test_passphrase_is_checked_over_s3(s3_lake: str, s3_endpoint: str) -> None:
    with pytest.raises(
        PassphraseMismatch, match=r"s3://ledger-lake/.* holds the 'Public Global .*' network, not testnet"
    ):
        await open_source(s3_lake, "testnet", endpoint=s3_endpoint, region="us-east-1", skip_signature=True)


async def test_missing_bucket_prefix_has_no_config(s3_lake: str, s3_endpoint: str) -> None:
    with pytest.raises(SourceConfigError, match=r"no galexie datastore at s3://ledger-lake/elsewhere"):
        await open_source(
            f"s3://{BUCKET}/elsewhere",
            "pubnet",
            endpoint=s3_endpoint,
            region="us-east-1",
            skip_signature=True,
        )


def test_public_lake_and_gcs_defaults() -> None:
    """No request is made here: the stores are only configured."""
    public = open_blob_store("s3://aws-public-blockchain/v1.1/stellar/ledgers/pubnet")
    assert public._store.config == {
        "bucket": "aws-public-blockchain",
        "region": "us-east-2",
        "skip_signature": "true",
    }
    assert str(public._store.prefix) == "v1.1/stellar/ledgers/pubnet"
    gcs = open_blob_store("gs://my-lake/ledgers/pubnet", skip_signature=True)
    assert gcs._store.config == {"bucket": "my-lake", "skip_signature": "true"}
    assert str(gcs._store.prefix) == "ledgers/pubnet"
