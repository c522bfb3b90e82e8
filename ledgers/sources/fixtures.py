"""Ledger fixture files: recognise each format of the corpus by content and read its ledgers.

A fixture file is a container (none, gzip or zstd) around a framing (README of the corpus):

| framing   | bytes                                             | example                          |
|-----------|---------------------------------------------------|----------------------------------|
| `lcm`     | one raw `LedgerCloseMeta`                         | `wallet-backend/*.xdr.gz` (gzip) |
| `batch`   | `LedgerCloseMetaBatch`, as in a galexie datastore | `reconstructed/*.xdr.zstd`       |
| `base64`  | one base64 `LedgerCloseMeta` per line             | `ttp-example/*-ledger-<seq>`     |
| `wrapped` | 4-byte union discriminant (0) + `LedgerCloseMeta` | `lighthorizon-testnet/<seq>`     |
| `records` | XDR record-marked stream of `LedgerCloseMeta`     | `load-test-ledgers-*.xdr.zstd`   |

Detection reads the first few KB and checks that a plausible ledger header sits where the framing says,
so other XDR in the same containers (ledger-entry streams, `-events` text, JSON) is told apart.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import re
import struct
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import zstandard

from .xdr import iter_records, peek_header, split_batch, zstd_decompress

HEAD_BYTES = 8192
_GZIP_MAGIC = b"\x1f\x8b"
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
_BASE64_TEXT = re.compile(rb"[A-Za-z0-9+/=\r\n]+")


class Compression(StrEnum):
    none = "none"
    gzip = "gzip"
    zstd = "zstd"


class Framing(StrEnum):
    lcm = "lcm"
    batch = "batch"
    base64 = "base64"
    wrapped = "wrapped"
    records = "records"


@dataclass(frozen=True)
class FixtureFormat:
    compression: Compression
    framing: Framing

    def __str__(self) -> str:
        return (
            self.framing.value
            if self.compression is Compression.none
            else f"{self.compression}+{self.framing}"
        )


def detect_format(path: Path) -> FixtureFormat | None:
    """The format of a ledger file, or None when the file does not hold ledgers we can read."""
    with path.open("rb") as fh:
        magic = fh.read(4)
    if magic.startswith(_GZIP_MAGIC):
        compression = Compression.gzip
    elif magic == _ZSTD_MAGIC:
        compression = Compression.zstd
    else:
        compression = Compression.none
    try:
        head = _read_head(path, compression)
    except (OSError, EOFError, ValueError, zstandard.ZstdError):
        return None  # corrupt or unrelated compressed data
    framing = detect_framing(head)
    return None if framing is None else FixtureFormat(compression, framing)


def detect_framing(head: bytes) -> Framing | None:
    """Which framing the (decompressed) first bytes of a file use, or None for anything else."""
    if not head:
        return None
    if _BASE64_TEXT.fullmatch(head):
        line = head.split(b"\n", 1)[0].strip()
        usable = line[: len(line) // 4 * 4]
        try:
            return Framing.base64 if _is_header(base64.b64decode(usable, validate=True), 0) else None
        except binascii.Error:
            return None
    if len(head) < 16:
        return None
    first, second, third = struct.unpack_from(">III", head, 0)
    if first & 0x8000_0000:
        return Framing.records if _is_header(head, 4) else None
    if third == second - first + 1 and third >= 1:
        try:
            if peek_header(head, 12).sequence == first:
                return Framing.batch
        except ValueError:
            pass
    if first == 0 and _is_header(head, 4):
        return Framing.wrapped
    return Framing.lcm if _is_header(head, 0) else None


def _is_header(buf: bytes, offset: int) -> bool:
    try:
        peek_header(buf, offset)
    except ValueError:
        return False
    return True


def _read_head(path: Path, compression: Compression) -> bytes:
    if compression is Compression.gzip:
        with gzip.open(path, "rb") as fh:
            return fh.read(HEAD_BYTES)
    if compression is Compression.zstd:
        with path.open("rb") as raw, zstandard.ZstdDecompressor().stream_reader(raw) as fh:
            return fh.read(HEAD_BYTES)
    with path.open("rb") as fh:
        return fh.read(HEAD_BYTES)


def _decompress(path: Path, compression: Compression) -> bytes:
    data = path.read_bytes()
    if compression is Compression.gzip:
        return gzip.decompress(data)
    if compression is Compression.zstd:
        return zstd_decompress(data)
    return data


def read_ledger_file(path: Path, fmt: FixtureFormat | None = None) -> list[tuple[int, bytes]]:
    """Every `(sequence, LedgerCloseMeta XDR)` in one file, sorted by sequence.

    Raises `ValueError` when the file is not a ledger file or its content breaks its own framing
    (and `OSError` when it cannot be read at all).
    """
    fmt = fmt or detect_format(path)
    if fmt is None:
        raise ValueError(f"{path} is not a ledger file in any known format")
    try:
        payload = _decompress(path, fmt.compression)
    except (EOFError, zstandard.ZstdError, gzip.BadGzipFile) as exc:
        raise ValueError(f"{path}: {fmt.compression} data is corrupt: {exc}") from exc
    if fmt.framing is Framing.lcm:
        lcms = [payload]
    elif fmt.framing is Framing.wrapped:
        lcms = [payload[4:]]
    elif fmt.framing is Framing.batch:
        lcms = split_batch(payload)[2]
    elif fmt.framing is Framing.records:
        lcms = list(iter_records(payload))
    else:
        lcms = [base64.b64decode(line, validate=True) for line in payload.split() if line]
    return sorted(((peek_header(lcm).sequence, lcm) for lcm in lcms), key=lambda item: item[0])
