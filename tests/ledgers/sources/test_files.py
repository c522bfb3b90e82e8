"""Fixture-file source over the whole real corpus, each format, folders, and what is not a ledger."""

from __future__ import annotations

import asyncio
import gzip
import json
import shutil
from collections import defaultdict
from pathlib import Path

import pytest

from ledgers.sources import FileSource, LedgerSource, SourceConfigError, open_source
from ledgers.sources.fixtures import detect_format

from . import wait_until

EXPECTED_FORMATS = {
    "wallet-backend": {"gzip+lcm"},
    "stellar-etl/reconstructed": {"zstd+batch"},
    "stellar-go/compressxdr": {"zstd+batch"},
    "stellar-go/testbucket": {"zstd+batch"},
    "stellar-go/ttp-example": {"base64"},
    "stellar-go/lighthorizon-testnet": {"wrapped"},
    "stellar-go/load-test": {"zstd+records"},
    "stellar-rpc": {"zstd+records"},
}


def _summary(shared: Path) -> dict[str, list[tuple[int, int]]]:
    """`ledger_summary.json`: per file, the (sequence, LCM byte size) of each ledger it holds."""
    per_file: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for item in json.loads((shared / "ledger_summary.json").read_text())["ledgers"]:
        per_file[item["file"]].append((item["seq"], item["bytes"]))
    return {name: sorted(items) for name, items in per_file.items()}


async def _all(source: LedgerSource, start: int = 0, end: int | None = None) -> list[tuple[int, bytes]]:
    return [item async for item in source.ledgers(start, end)]


async def test_every_ledger_of_the_corpus_opens(shared_ledgers: Path) -> None:
    expected = _summary(shared_ledgers)
    found: dict[str, list[tuple[int, int]]] = {}
    formats: dict[str, set[str]] = defaultdict(set)
    for path in sorted(p for p in shared_ledgers.rglob("*") if p.is_file()):  # noqa: ASYNC240 - a test
        fmt = detect_format(path)
        if fmt is None:
            continue  # README, JSON, goldens, `-events`, ledger-entry streams, `latest`
        relative = path.relative_to(shared_ledgers).as_posix()
        formats[relative.rsplit("/", 1)[0]].add(str(fmt))
        ledgers = await _all(FileSource(path))
        sequences = [seq for seq, _ in ledgers]
        assert sequences == sorted(sequences), relative
        found[relative] = [(seq, len(raw)) for seq, raw in ledgers]
    assert found == expected  # same files, same sequences, same byte sizes as the corpus summary
    assert sum(len(items) for items in found.values()) == 413
    assert formats == EXPECTED_FORMATS


async def test_folder_of_wrapped_files_in_order(shared_ledgers: Path) -> None:
    source = await open_source(str(shared_ledgers / "stellar-go" / "lighthorizon-testnet"), None)
    assert isinstance(source, FileSource)
    assert source.network_passphrase is None
    sequences = [seq for seq, _ in await _all(source)]
    assert sequences == list(range(1410048, 1410368))  # 320 consecutive; the `latest` text file is skipped
    assert [seq for seq, _ in await _all(source, 1410100, 1410104)] == list(range(1410100, 1410105))
    assert await source.latest_sequence() == 1410367
    await source.close()


async def test_mixed_formats_in_one_folder_sorted_by_sequence(shared_ledgers: Path, tmp_path: Path) -> None:
    for relative in (
        "stellar-go/ttp-example/ledgers-base64.txt",
        "stellar-go/ttp-example/mint-ledger-7320888",
        "stellar-go/ttp-example/mint-ledger-7320888-events",
        "wallet-backend/ledger-51000294.xdr.gz",
        "stellar-etl/reconstructed/FE29B180--30822015.xdr.zstd",
        "stellar-go/lighthorizon-testnet/1410048",
        "stellar-go/lighthorizon-testnet/latest",
    ):
        shutil.copy(shared_ledgers / relative, tmp_path / Path(relative).name)
    (tmp_path / ".hidden").write_bytes(b"\x00" * 64)
    source = await open_source(f"file://{tmp_path}", None)
    sequences = [seq for seq, _ in await _all(source)]
    assert sequences == [
        1410048, 6154623, 7320888, 16154623, 26154623, 30822015, 36154623, 46154623, 51000294,
    ]  # fmt: skip
    # A sparse fixture set yields what it holds inside a range, without inventing the gaps.
    assert [seq for seq, _ in await _all(source, 7000000, 30000000)] == [7320888, 16154623, 26154623]


async def test_same_sequence_twice_is_an_error(shared_ledgers: Path) -> None:
    # The standalone load-test files overlap (ledger 88 is in two of them): two networks mixed.
    source = FileSource(shared_ledgers / "stellar-go" / "load-test")
    with pytest.raises(SourceConfigError, match=r"ledger 88 appears in both .*load-test.* and "):
        await _all(source)


async def test_not_a_ledger_file_is_a_clear_error(shared_ledgers: Path, tmp_path: Path) -> None:
    for relative in ("stellar-go/ttp-example/mint-ledger-7320888-events", "README.md"):
        with pytest.raises(SourceConfigError, match="is not a ledger file"):
            await _all(FileSource(shared_ledgers / relative))
    # Ledger entries in a record-marked zstd stream: same container as ledgers, not ledgers.
    accounts = shared_ledgers / "stellar-go" / "load-test" / "load-test-accounts-v23.xdr.zstd"
    assert detect_format(accounts) is None
    with pytest.raises(SourceConfigError, match="does not exist"):
        FileSource(tmp_path / "missing")
    with pytest.raises(SourceConfigError, match="no ledger files"):
        await _all(FileSource(tmp_path))


async def test_watch_picks_up_new_files(shared_ledgers: Path, tmp_path: Path) -> None:
    folder = shared_ledgers / "stellar-go" / "lighthorizon-testnet"
    shutil.copy(folder / "1410048", tmp_path / "1410048")
    source = FileSource(tmp_path, watch=True, poll_interval=0.01)
    seen: list[int] = []

    async def follow() -> None:
        async for seq, _ in source.ledgers(1410048, None):
            seen.append(seq)

    task = asyncio.create_task(follow())
    try:
        await wait_until(lambda: seen == [1410048])
        shutil.copy(folder / "1410049", tmp_path / "1410049")
        await wait_until(lambda: seen == [1410048, 1410049])
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


async def test_uncompressed_and_corrupt_files(shared_ledgers: Path, tmp_path: Path) -> None:
    raw = gzip.decompress((shared_ledgers / "wallet-backend" / "ledger-57500008.xdr.gz").read_bytes())
    (tmp_path / "57500008.xdr").write_bytes(raw)  # a bare LedgerCloseMeta, no container
    assert str(detect_format(tmp_path / "57500008.xdr")) == "lcm"
    (tmp_path / "broken.xdr.zst").write_bytes(b"\x28\xb5\x2f\xfd" + b"not zstd" * 8)
    assert detect_format(tmp_path / "broken.xdr.zst") is None
    assert await _all(FileSource(tmp_path)) == [(57500008, raw)]
