"""Byte-level framing of ledger XDR: header peeks, galexie batches, record-marked streams.

Sources only need the sequence of each ledger and its exact bytes, so they read just the start of the
`LedgerCloseMeta` (through `LedgerHeader.ledgerSeq`) instead of decoding it: decoding is `LedgerView`'s job
and the most expensive step of ingestion (REFERENCE §7).
"""

from __future__ import annotations

import io
import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import zstandard

_U32 = struct.Struct(">I")
_HEADER3 = struct.Struct(">III")
MAX_PROTOCOL = 64  # far above today's 26; only used to reject bytes that are not a ledger at all
_LAST_FRAGMENT = 0x8000_0000


@dataclass(frozen=True)
class HeaderPeek:
    """What the first bytes of a `LedgerCloseMeta` say."""

    lcm_version: int  # 0, 1 or 2: the LedgerCloseMeta union arm
    protocol: int  # LedgerHeader.ledgerVersion
    sequence: int  # LedgerHeader.ledgerSeq


class _Reader:
    __slots__ = ("buf", "pos")

    def __init__(self, buf: bytes | memoryview, pos: int) -> None:
        self.buf = buf
        self.pos = pos

    def u32(self) -> int:
        if self.pos + 4 > len(self.buf):
            raise ValueError("truncated: the ledger header ends early")
        (value,) = _U32.unpack_from(self.buf, self.pos)
        self.pos += 4
        return int(value)

    def skip(self, n: int) -> None:
        self.pos += n
        if self.pos > len(self.buf):
            raise ValueError("truncated: the ledger header ends early")

    def skip_opaque(self, limit: int) -> None:
        size = self.u32()
        if size > limit:
            raise ValueError(f"variable opaque of {size} bytes where at most {limit} are allowed")
        self.skip((size + 3) & ~3)

    def close_value_signature(self) -> None:
        # LedgerCloseValueSignature { NodeID (PublicKey union: ed25519 = 0, 32 bytes); Signature opaque<64> }
        if self.u32() != 0:
            raise ValueError("unknown public key type in the SCP value signature")
        self.skip(32)
        self.skip_opaque(64)


def peek_header(buf: bytes | memoryview, offset: int = 0) -> HeaderPeek:
    """Read the LCM version, protocol and sequence of the `LedgerCloseMeta` starting at `offset`.

    Raises `ValueError` when the bytes cannot be the start of a `LedgerCloseMeta`; format detection relies
    on that to tell ledgers from other XDR (ledger entries, batches) sharing the same containers.
    """
    r = _Reader(buf, offset)
    version = r.u32()
    if version not in (0, 1, 2):
        raise ValueError(f"not a LedgerCloseMeta (union arm {version})")
    if version in (1, 2):
        ext = r.u32()  # LedgerCloseMetaExt: 0 = void, 1 = { ExtensionPoint ext; int64 sorobanFeeWrite1KB }
        if ext == 1:
            if r.u32() != 0:
                raise ValueError("unknown LedgerCloseMetaExtV1 extension")
            r.skip(8)
        elif ext != 0:
            raise ValueError(f"unknown LedgerCloseMetaExt arm {ext}")
    r.skip(32)  # LedgerHeaderHistoryEntry.hash
    protocol = r.u32()  # LedgerHeader.ledgerVersion
    if protocol > MAX_PROTOCOL:
        raise ValueError(f"implausible protocol version {protocol}")
    r.skip(32 + 32 + 8)  # previousLedgerHash, scpValue.txSetHash, scpValue.closeTime
    upgrades = r.u32()
    if upgrades > 6:
        raise ValueError(f"{upgrades} upgrades where StellarValue allows 6")
    for _ in range(upgrades):
        r.skip_opaque(128)
    value_type = r.u32()  # StellarValue.ext
    if value_type == 1:  # STELLAR_VALUE_SIGNED
        r.close_value_signature()
    elif value_type == 2:  # STELLAR_VALUE_EMPTY_TX_SET: txSetHash, previousLedgerHash, version, signature
        r.skip(32 + 32 + 4)
        r.close_value_signature()
    elif value_type != 0:
        raise ValueError(f"unknown StellarValue type {value_type}")
    r.skip(32 + 32)  # txSetResultHash, bucketListHash
    return HeaderPeek(lcm_version=version, protocol=protocol, sequence=r.u32())


def ledger_sequence(raw: bytes | memoryview) -> int:
    """The ledger sequence of one `LedgerCloseMeta` XDR."""
    return peek_header(raw).sequence


def split_batch(data: bytes) -> tuple[int, int, list[bytes]]:
    """Split a `LedgerCloseMetaBatch` into `(startSequence, endSequence, [LedgerCloseMeta XDR, ...])`.

    A one-ledger batch (the public data lake's layout) is split at the byte level: the LCM is everything
    after the 12-byte batch header. XDR has no length prefixes, so finding where one LCM of a multi-ledger
    batch ends means walking it: that is done with stellar-sdk's decoder, and the returned bytes are
    slices of the original buffer (never re-encoded), so they are byte-for-byte what galexie wrote.
    """
    if len(data) < 16:
        raise ValueError(f"{len(data)} bytes is too short for a LedgerCloseMetaBatch")
    start, end, count = _HEADER3.unpack_from(data, 0)
    if count == 1:
        return start, end, [bytes(data[12:])]
    from stellar_sdk.xdr import LedgerCloseMeta
    from xdrlib3 import Unpacker

    unpacker = Unpacker(data)
    unpacker.set_position(12)
    pieces: list[bytes] = []
    for _ in range(count):
        begin = unpacker.get_position()
        LedgerCloseMeta.unpack(unpacker)
        pieces.append(bytes(data[begin : unpacker.get_position()]))
    if unpacker.get_position() != len(data):
        raise ValueError(f"{len(data) - unpacker.get_position()} bytes left after the batch's last ledger")
    return start, end, pieces


def pack_batch(ledgers: Iterable[bytes], start: int | None = None, end: int | None = None) -> bytes:
    """Concatenate `LedgerCloseMeta` XDR into a `LedgerCloseMetaBatch` (what galexie compresses and stores).

    `start`/`end` default to the sequences of the first and last ledger.
    """
    items = list(ledgers)
    if not items:
        raise ValueError("a batch holds at least one ledger")
    first = ledger_sequence(items[0]) if start is None else start
    last = ledger_sequence(items[-1]) if end is None else end
    return _HEADER3.pack(first, last, len(items)) + b"".join(items)


def iter_records(data: bytes | memoryview) -> Iterator[bytes]:
    """Yield the records of an XDR record-marked stream (RFC 5531 §11: 4-byte marks, top bit = last)."""
    view = memoryview(data)
    pos = 0
    fragments: list[bytes] = []
    while pos < len(view):
        if pos + 4 > len(view):
            raise ValueError(f"record mark truncated at byte {pos}")
        (mark,) = _U32.unpack_from(view, pos)
        size = mark & ~_LAST_FRAGMENT
        pos += 4
        if pos + size > len(view):
            raise ValueError(f"record at byte {pos - 4} claims {size} bytes, {len(view) - pos} remain")
        fragments.append(bytes(view[pos : pos + size]))
        pos += size
        if mark & _LAST_FRAGMENT:
            yield fragments[0] if len(fragments) == 1 else b"".join(fragments)
            fragments = []
    if fragments:
        raise ValueError("stream ends inside a record (no last-fragment mark)")


def pack_records(records: Iterable[bytes]) -> bytes:
    """Write records as an XDR record-marked stream, one fragment each (as stellar-core and stellar/go do)."""
    return b"".join(_U32.pack(len(r) | _LAST_FRAGMENT) + r for r in records)


def zstd_decompress(data: bytes) -> bytes:
    """Decompress zstd data whose frames may not record their content size (streamed writers omit it)."""
    with zstandard.ZstdDecompressor().stream_reader(io.BytesIO(data), read_across_frames=True) as reader:
        return reader.read()
