"""Read every ledger of the shared real-ledger corpus (``../shared/ledgers``) in its stored format.

The corpus gathers `LedgerCloseMeta` XDR from several public repositories, each in its own wrapping (see the
corpus README). `iter_corpus` hides the wrappings and yields the raw ``LedgerCloseMeta`` XDR bytes, which is
what `LedgerView.from_xdr` takes, so tests and benchmarks read every ledger the same way:

| stored as | files |
|---|---|
| gzip of one raw ``LedgerCloseMeta`` | ``*.gz`` |
| zstd of a ``LedgerCloseMetaBatch`` (galexie datastore object) | ``*.xdr.zst`` / ``*.xdr.zstd`` |
| zstd of an XDR record-marked stream of ``LedgerCloseMeta`` | ``*.xdr.zst`` / ``*.xdr.zstd`` (sniffed) |
| base64 ``LedgerCloseMeta``, one per line | extension-less text files, ``*.txt`` |
| 4-byte union discriminant + ``LedgerCloseMeta`` | extension-less binary files |

Both zstd formats share a suffix, so the first word tells them apart: a record mark has its top bit set, while
a batch starts with its ``startSequence`` (a ledger number, far below 2^31).
Files that hold no ledgers (expected outputs ``*-events``, ledger-entry fixtures ``*accounts*`` /
``*fixtures*``, ``config.json``, ``ledger_summary.json``, the ``golden/`` folder, the README and the
``latest`` pointer file) are skipped.
"""

from __future__ import annotations

import base64
import gzip
import struct
from collections.abc import Iterator
from pathlib import Path

__all__ = ["is_ledger_file", "iter_corpus", "iter_file", "split_batch", "split_record_marked"]

_SKIP_DIRS = frozenset({"golden"})
_SKIP_NAMES = frozenset({"config.json", "latest", "README.md", "ledger_summary.json"})
_SKIP_PARTS = ("-events", "accounts", "fixtures")
_SKIP_SUFFIXES = (".json", ".md", ".golden")
_RECORD_MARK = 0x80000000


def is_ledger_file(path: Path) -> bool:
    """Whether `path` (a file of the corpus) holds ledgers rather than expected outputs or entry fixtures."""
    name = path.name
    if name in _SKIP_NAMES or name.startswith(".") or name.endswith(_SKIP_SUFFIXES):
        return False
    return not any(part in name for part in _SKIP_PARTS)


def iter_corpus(root: Path) -> Iterator[tuple[str, bytes]]:
    """Yield ``(relative file, raw LedgerCloseMeta XDR)`` for every ledger under `root`, files in sorted order.

    A file holding several ledgers (a batch, a stream, a base64 list) yields them in stored order under the same
    relative name; the position within the file is the count of earlier yields with that name.
    """
    for path in sorted(root.rglob("*")):
        if not path.is_file() or _SKIP_DIRS.intersection(path.relative_to(root).parts[:-1]):
            continue
        if not is_ledger_file(path):
            continue
        rel = path.relative_to(root).as_posix()
        for raw in iter_file(path):
            yield rel, raw


def iter_file(path: Path) -> Iterator[bytes]:
    """The raw ``LedgerCloseMeta`` XDR of every ledger stored in one corpus file."""
    data = path.read_bytes()
    name = path.name
    if name.endswith(".gz"):
        yield gzip.decompress(data)
    elif name.endswith((".zst", ".zstd")):
        plain = _unzstd(data)
        if len(plain) >= 4 and struct.unpack_from(">I", plain)[0] & _RECORD_MARK:
            yield from split_record_marked(plain)
        else:
            yield from split_batch(plain)
    elif _looks_like_base64(data):
        for line in data.splitlines():
            if line.strip():
                yield base64.b64decode(line.strip(), validate=True)
    else:
        # lighthorizon's files wrap the ledger in a one-arm union: skip its 4-byte discriminant.
        if data[:4] != b"\x00\x00\x00\x00":
            raise ValueError(f"{path}: unknown ledger file format (first bytes {data[:8].hex()})")
        yield data[4:]


def split_record_marked(data: bytes) -> Iterator[bytes]:
    """Split an XDR record-marked stream (RFC 5531 §11: 4-byte big-endian length, top bit = last fragment)."""
    offset, end = 0, len(data)
    fragments: list[bytes] = []
    while offset < end:
        (mark,) = struct.unpack_from(">I", data, offset)
        size = mark & ~_RECORD_MARK
        offset += 4
        if offset + size > end:
            raise ValueError(
                f"truncated record at byte {offset - 4}: {size} bytes announced, {end - offset} left"
            )
        fragments.append(data[offset : offset + size])
        offset += size
        if mark & _RECORD_MARK:  # last fragment of this record
            yield b"".join(fragments)
            fragments = []
    if fragments:
        raise ValueError("record-marked stream ends inside a record")


def split_batch(data: bytes) -> Iterator[bytes]:
    """The ledgers of a galexie ``LedgerCloseMetaBatch`` (decoded with stellar-sdk, then re-encoded one by one)."""
    start, end, count = struct.unpack_from(">III", data)
    if count != end - start + 1:
        raise ValueError(f"batch {start}-{end} holds {count} ledgers")
    if count == 1:
        # A 12-byte header (start, end, array length) around one ledger: slice rather than decode + re-encode.
        yield data[12:]
        return
    from stellar_sdk import xdr

    # XDR has no length prefixes per element, so finding the boundaries means decoding the batch.
    for meta in xdr.LedgerCloseMetaBatch.from_xdr_bytes(data).ledger_close_metas:
        yield meta.to_xdr_bytes()


def _unzstd(data: bytes) -> bytes:
    import zstandard

    # Galexie objects may omit the content size from the frame header, so stream instead of one-shot decompress.
    with zstandard.ZstdDecompressor().stream_reader(data) as reader:
        return reader.read()


def _looks_like_base64(data: bytes) -> bool:
    # Binary XDR starts with zero bytes (a union discriminant), never in the base64 alphabet.
    head = data[:4096].strip()
    return bool(head) and all(c in _B64_BYTES for c in head)


_B64_BYTES = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=\r\n")


PUBNET = "Public Global Stellar Network ; September 2015"
TESTNET = "Test SDF Network ; September 2015"
STANDALONE = "Standalone Network ; February 2017"
# stellar/go's generate_ledgers_test.go signs its synthetic ledgers with this passphrase (found by hashing:
# the corpus README does not say so).
LOAD_TEST = "load test network"


def network_passphrase_for(relative_file: str) -> str:
    """The network passphrase the transactions of a corpus file were signed for (needed to hash them)."""
    if relative_file.startswith(("stellar-go/lighthorizon-testnet/", "stellar-go/testbucket/")):
        return TESTNET
    if relative_file.startswith("stellar-rpc/") or "standalone" in relative_file:
        return STANDALONE
    if relative_file.startswith("stellar-go/load-test/"):
        return LOAD_TEST
    return PUBNET
