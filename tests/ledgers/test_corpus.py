"""`ledgers.corpus`: every stored format of the shared corpus yields raw LedgerCloseMeta XDR."""

from __future__ import annotations

import base64
import gzip
import struct
from collections import Counter
from pathlib import Path

import pytest
import zstandard

from ledgers.corpus import (
    LOAD_TEST,
    PUBNET,
    STANDALONE,
    TESTNET,
    is_ledger_file,
    iter_corpus,
    iter_file,
    network_passphrase_for,
    split_record_marked,
)


def test_every_ledger_of_the_corpus_is_found_once(corpus_root: Path, ledger_summary: dict) -> None:
    positions: Counter[str] = Counter()
    found = []
    for relative, raw in iter_corpus(corpus_root):
        found.append((relative, positions[relative]))
        positions[relative] += 1
        assert raw[:3] == b"\x00\x00\x00" and raw[3] in (0, 1, 2), f"{relative}: not a LedgerCloseMeta"
    assert len(found) == 413
    assert sorted(found) == sorted(ledger_summary), (
        "iter_corpus and ledger_summary.json list different ledgers"
    )


def test_each_format_is_read(corpus_root: Path) -> None:
    counts = Counter(
        relative.split("/")[0] + "/" + relative.split("/")[1] for relative, _ in iter_corpus(corpus_root)
    )
    assert counts["stellar-go/lighthorizon-testnet"] == 320  # 4-byte discriminant files
    assert counts["stellar-rpc/load-test-ledgers-v25.xdr.zstd"] == 30  # zstd record-marked stream
    assert counts["stellar-etl/reconstructed"] == 12  # zstd LedgerCloseMetaBatch
    assert counts["stellar-go/ttp-example"] == 12  # base64 lines (ledgers-base64.txt has 5)
    assert sum(n for key, n in counts.items() if key.startswith("wallet-backend/")) == 22  # gzip


def test_non_ledger_files_are_skipped() -> None:
    for name in (
        "revoke-trustline-ledger-56065483-events",
        "load-test-accounts-v22.xdr.zstd",
        "load-test-fixtures-v25.xdr.zstd",
        "config.json",
        "latest",
        "ledger_summary.json",
        "README.md",
    ):
        assert not is_ledger_file(Path(name)), name
    assert is_ledger_file(Path("revoke-trustline-ledger-56065483"))
    assert is_ledger_file(Path("FFFFFC18--999.xdr.zst"))


def test_record_marked_stream_with_fragments() -> None:
    first, second = b"\x00" * 8, b"abcd" * 3
    # `second` is split into two fragments; only the last one carries the top bit.
    stream = (
        struct.pack(">I", 0x80000000 | len(first))
        + first
        + struct.pack(">I", 4)
        + second[:4]
        + struct.pack(">I", 0x80000000 | 8)
        + second[4:]
    )
    assert list(split_record_marked(stream)) == [first, second]
    with pytest.raises(ValueError, match="truncated"):
        list(split_record_marked(stream[:-1]))


def test_synthetic_files_in_every_format(tmp_path: Path, corpus_root: Path) -> None:
    raw = next(iter_file(corpus_root / "stellar-go/testbucket/FFFFFC19--998.xdr.zst"))
    (tmp_path / "a.xdr.gz").write_bytes(gzip.compress(raw))
    (tmp_path / "b-ledger-1").write_text(base64.b64encode(raw).decode() + "\n")
    (tmp_path / "c").write_bytes(b"\x00\x00\x00\x00" + raw)
    stream = struct.pack(">I", 0x80000000 | len(raw)) + raw
    (tmp_path / "d.xdr.zstd").write_bytes(zstandard.ZstdCompressor().compress(stream * 2))
    batch = struct.pack(">III", 998, 998, 1) + raw
    (tmp_path / "e.xdr.zst").write_bytes(zstandard.ZstdCompressor().compress(batch))
    for name, expected in [("a.xdr.gz", 1), ("b-ledger-1", 1), ("c", 1), ("d.xdr.zstd", 2), ("e.xdr.zst", 1)]:
        assert list(iter_file(tmp_path / name)) == [raw] * expected, name


def test_network_passphrases() -> None:
    assert network_passphrase_for("wallet-backend/ledger-63092982.xdr.gz") == PUBNET
    assert network_passphrase_for("stellar-go/lighthorizon-testnet/1410048") == TESTNET
    assert network_passphrase_for("stellar-go/testbucket/FFFFFC18--999.xdr.zst") == TESTNET
    assert network_passphrase_for("stellar-rpc/load-test-ledgers-v25.xdr.zstd") == STANDALONE
    assert (
        network_passphrase_for("stellar-go/load-test/galexie-load-test-ledgers-v23-standalone.xdr.zstd")
        == STANDALONE
    )
    assert network_passphrase_for("stellar-go/load-test/load-test-ledgers-v22.xdr.zstd") == LOAD_TEST
