"""`open_source`: one URL picks the source; mistakes are clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from ledgers.sources import (
    DatastoreSource,
    FileSource,
    LedgerSource,
    RpcSource,
    SourceConfigError,
    open_source,
)
from ledgers.sources.rpc import rpc_http_url


@pytest.mark.parametrize("url", ["ftp://host/ledgers", "https://example.org/lake", "rpc://host"])
async def test_unknown_scheme_lists_the_supported_ones(url: str) -> None:
    with pytest.raises(SourceConfigError) as caught:
        await open_source(url, "pubnet")
    message = str(caught.value)
    assert "unsupported ledger source scheme" in message
    for scheme in ("file://", "s3://", "gs://", "rpc+https://", "rpc+http://"):
        assert scheme in message


async def test_unknown_option_lists_the_accepted_ones(shared_ledgers: Path) -> None:
    with pytest.raises(
        SourceConfigError, match=r"unknown source option\(s\) prefetch; this source takes recursive"
    ):
        await open_source(str(shared_ledgers / "wallet-backend"), None, prefetch=4)
    with pytest.raises(SourceConfigError, match=r"unknown source option\(s\) page_size;.*page_limit"):
        await open_source("rpc+https://rpc.example.org", None, page_size=4)


async def test_urls_pick_their_source(shared_ledgers: Path) -> None:
    files = await open_source(str(shared_ledgers / "wallet-backend" / "ledger-57500008.xdr.gz"), "pubnet")
    assert isinstance(files, FileSource)
    assert isinstance(files, LedgerSource)
    assert [seq async for seq, _ in files.ledgers(0, None)] == [57500008]
    rpc = await open_source("rpc+https://rpc.example.org:8443/soroban", None)  # no network: nothing asked
    assert isinstance(rpc, RpcSource)
    assert rpc.endpoint == "https://rpc.example.org:8443/soroban"
    await rpc.close()
    assert not isinstance(files, DatastoreSource)


def test_rpc_urls() -> None:
    assert rpc_http_url("rpc+https://rpc.example.org") == "https://rpc.example.org/"
    assert rpc_http_url("rpc+http://127.0.0.1:8000/rpc") == "http://127.0.0.1:8000/rpc"
    with pytest.raises(SourceConfigError, match="expected rpc"):
        rpc_http_url("rpc+https://")


async def test_missing_path_and_bucket(tmp_path: Path) -> None:
    with pytest.raises(SourceConfigError, match="does not exist"):
        await open_source(str(tmp_path / "nowhere"), None)
    with pytest.raises(SourceConfigError, match="bucket name is missing"):
        await open_source("s3:///prefix-only", "pubnet")
