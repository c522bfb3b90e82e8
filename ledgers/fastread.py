"""Small XDR values read straight from the bytes at an offset, for the fast decoder's builders.

Each reader takes the raw ledger and an offset and returns the value the sdk path's `ledgers.xdrconv` gives
for the same XDR, plus the offset after it. The bytes were already walked (and refused if malformed) by the
generated skippers (`ledgers.skippers`), so the readers do not check bounds or arms they cannot meet.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import TypeVar

from ledgers import xdrconv

_T = TypeVar("_T")

__all__ = [
    "I32",
    "I64",
    "U32",
    "U64",
    "account_at",
    "asset_at",
    "items_at",
    "muxed_at",
    "price_at",
    "string_at",
]

U32 = struct.Struct(">L").unpack_from
I32 = struct.Struct(">l").unpack_from
I64 = struct.Struct(">q").unpack_from
U64 = struct.Struct(">Q").unpack_from
_PRICE = struct.Struct(">ll").unpack_from
_KEY_MUXED = 0x100


def account_at(raw: bytes, o: int) -> str:
    """``G…`` of the ``AccountID`` at `o` (always 36 bytes: the key type, then the key)."""
    return xdrconv.account_strkey(raw[o + 4 : o + 36])


def muxed_at(raw: bytes, o: int) -> tuple[str, str | None, int]:
    """``(G…, M… or None, offset after)`` of the ``MuxedAccount`` at `o`."""
    if I32(raw, o)[0] == _KEY_MUXED:
        key = raw[o + 12 : o + 44]
        return xdrconv.account_strkey(key), xdrconv.muxed_strkey(key, U64(raw, o + 4)[0]), o + 44
    return xdrconv.account_strkey(raw[o + 4 : o + 36]), None, o + 36


def asset_at(raw: bytes, o: int) -> tuple[str, int]:
    """``native`` or ``CODE:ISSUER`` of the ``Asset`` at `o` (or the same arms of a ``TrustLineAsset`` /
    ``ChangeTrustAsset``), and the offset after it."""
    kind = I32(raw, o)[0]
    if kind == 0:
        return xdrconv.NATIVE, o + 4
    if kind == 1:
        return xdrconv._asset_string(raw[o + 4 : o + 8], raw[o + 12 : o + 44]), o + 44
    if kind == 2:
        return xdrconv._asset_string(raw[o + 4 : o + 16], raw[o + 20 : o + 52]), o + 52
    raise ValueError(f"not a plain asset: type {kind}")  # the callers handle pool arms before asking


def price_at(raw: bytes, o: int) -> tuple[int, int]:
    """``(n, d)`` of the ``Price`` at `o` (8 bytes)."""
    n, d = _PRICE(raw, o)
    return n, d


def string_at(raw: bytes, o: int) -> tuple[bytes, int]:
    """The bytes of the variable-length ``string``/``opaque`` at `o`, and the offset after its padding."""
    n = U32(raw, o)[0]
    return raw[o + 4 : o + 4 + n], o + 4 + (n + 3) // 4 * 4


def items_at(raw: bytes, o: int, read: Callable[[bytes, int], tuple[_T, int]]) -> tuple[list[_T], int]:
    """The items of the XDR array at `o` (its count, then each item as `read` reads it), and the offset after."""
    count = U32(raw, o)[0]
    o += 4
    out = []
    for _ in range(count):
        item, o = read(raw, o)
        out.append(item)
    return out, o
