"""Byte-level framing against stellar-sdk's decoder, on real ledgers of each LCM version."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
from stellar_sdk.xdr import LedgerCloseMeta, LedgerCloseMetaBatch

from ledgers.sources.fixtures import read_ledger_file
from ledgers.sources.xdr import iter_records, pack_batch, pack_records, peek_header, split_batch

from . import reconstructed_ledgers


def _sdk_header(raw: bytes) -> tuple[int, int, int]:
    lcm = LedgerCloseMeta.from_xdr_bytes(raw)
    body = {0: lcm.v0, 1: lcm.v1, 2: lcm.v2}[lcm.v]
    assert body is not None
    header = body.ledger_header.header
    return lcm.v, header.ledger_version.uint32, header.ledger_seq.uint32


@pytest.mark.parametrize(
    "relative",
    [
        "stellar-go/lighthorizon-testnet/1410048",  # LCM v0, protocol 19 (with its 4-byte prefix)
        "stellar-go/testbucket/FFFFFC1A--997.xdr.zst",  # LCM v1, protocol 20
        "stellar-go/compressxdr/FCD285FF--53312000.xdr.zstd",  # LCM v1, protocol 21
        "stellar-go/ttp-example/ledgers-base64.txt",  # LCM v0, protocols 2-19
        "stellar-go/load-test/load-test-ledgers-v23.xdr.zstd",  # LCM v1/v2, standalone
    ],
)
def test_header_peek_agrees_with_stellar_sdk(shared_ledgers: Path, relative: str) -> None:
    for _, raw in read_ledger_file(shared_ledgers / relative):
        if len(raw) > 400_000:
            continue  # the decode of big ledgers is slow and proves nothing more
        peek = peek_header(raw)
        assert (peek.lcm_version, peek.protocol, peek.sequence) == _sdk_header(raw)


def test_header_peek_on_lcm_v2(shared_ledgers: Path) -> None:
    raw = gzip.decompress((shared_ledgers / "wallet-backend" / "ledger-63092982.xdr.gz").read_bytes())
    assert peek_header(raw) == peek_header(raw[:4096])  # reads only the first bytes
    assert (peek_header(raw).lcm_version, peek_header(raw).protocol, peek_header(raw).sequence) == (
        2,
        26,
        63092982,
    )


def test_multi_ledger_batch_splits_into_the_original_bytes(shared_ledgers: Path) -> None:
    ledgers = reconstructed_ledgers(shared_ledgers)
    chosen = [ledgers[s] for s in (30822016, 30822017, 30822018, 30822019)]
    packed = pack_batch(chosen)
    # Our byte-level packing is what stellar-sdk encodes for the same batch.
    batch = LedgerCloseMetaBatch.from_xdr_bytes(packed)
    assert (batch.start_sequence.uint32, batch.end_sequence.uint32) == (30822016, 30822019)
    assert batch.to_xdr_bytes() == packed
    assert split_batch(packed) == (30822016, 30822019, chosen)


def test_split_rejects_trailing_bytes(shared_ledgers: Path) -> None:
    ledgers = reconstructed_ledgers(shared_ledgers)
    packed = pack_batch([ledgers[30822018], ledgers[30822019]])
    with pytest.raises(ValueError, match="left after"):
        split_batch(packed + b"\0\0\0\0")


def test_record_marked_stream_round_trip() -> None:
    records = [b"\x00\x00\x00\x01" * 3, b"", b"\xff" * 8]
    assert list(iter_records(pack_records(records))) == records
    # Two fragments of one record (top bit clear on the first) come back joined.
    fragmented = b"\x00\x00\x00\x02ab" + b"\x80\x00\x00\x02cd"
    assert list(iter_records(fragmented)) == [b"abcd"]
    with pytest.raises(ValueError, match="claims"):
        list(iter_records(b"\x80\x00\x00\x09abc"))


@pytest.mark.parametrize(
    "data",
    [b"\x00\x00\x00\x07" + b"\x00" * 200, b"\x00\x00\x00\x01\x00\x00\x00\x05" + b"\x00" * 200, b"\x00\x00"],
)
def test_header_peek_rejects_what_is_not_a_ledger(data: bytes) -> None:
    with pytest.raises(ValueError):
        peek_header(data)
