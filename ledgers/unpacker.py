"""A faster drop-in for ``xdrlib3.Unpacker``, which stellar-sdk's generated ``unpack`` methods call.

Decoding a current pubnet ledger makes ~2.5 million integer reads; xdrlib3 slices the buffer and calls
``struct.unpack`` for each (and two reads per 64-bit value). Here each read is one precompiled
``Struct.unpack_from`` at an offset, with the same results and the same errors (``EOFError`` past the end of
the buffer; ``ValueError`` for a negative fixed length), so the decoded objects are identical.
"""

from __future__ import annotations

import struct
from typing import Any

from xdrlib3 import Error, Unpacker

__all__ = ["FastUnpacker"]

_U32 = struct.Struct(">L").unpack_from
_I32 = struct.Struct(">l").unpack_from
_U64 = struct.Struct(">Q").unpack_from
_I64 = struct.Struct(">q").unpack_from
_F32 = struct.Struct(">f").unpack_from
_F64 = struct.Struct(">d").unpack_from


class FastUnpacker(Unpacker):
    """``xdrlib3.Unpacker`` with the reads stellar-sdk uses made cheaper; `data` must be ``bytes``."""

    def __init__(self, data: bytes | bytearray) -> None:
        self.buf: Any = data
        self.pos = 0

    def reset(self, data: bytes | bytearray) -> None:
        self.buf = data
        self.pos = 0

    def get_position(self) -> int:
        return self.pos

    def set_position(self, position: int) -> None:
        self.pos = position

    def get_buffer(self) -> bytes:
        return self.buf

    def done(self) -> None:
        if self.pos < len(self.buf):
            raise Error("unextracted data remains")

    def unpack_uint(self) -> int:
        i = self.pos
        self.pos = i + 4
        try:
            return _U32(self.buf, i)[0]
        except struct.error:
            raise EOFError from None

    def unpack_int(self) -> int:
        i = self.pos
        self.pos = i + 4
        try:
            return _I32(self.buf, i)[0]
        except struct.error:
            raise EOFError from None

    unpack_enum = unpack_int

    def unpack_bool(self) -> bool:
        return bool(self.unpack_int())

    def unpack_uhyper(self) -> int:
        i = self.pos
        self.pos = i + 8
        try:
            return _U64(self.buf, i)[0]
        except struct.error:
            raise EOFError from None

    def unpack_hyper(self) -> int:
        i = self.pos
        self.pos = i + 8
        try:
            return _I64(self.buf, i)[0]
        except struct.error:
            raise EOFError from None

    def unpack_float(self) -> float:
        i = self.pos
        self.pos = i + 4
        try:
            return _F32(self.buf, i)[0]
        except struct.error:
            raise EOFError from None

    def unpack_double(self) -> float:
        i = self.pos
        self.pos = i + 8
        try:
            return _F64(self.buf, i)[0]
        except struct.error:
            raise EOFError from None

    def unpack_fstring(self, n: int) -> bytes:
        if n < 0:
            raise ValueError("fstring size must be nonnegative")
        i = self.pos
        j = i + (n + 3) // 4 * 4
        if j > len(self.buf):
            raise EOFError
        self.pos = j
        return self.buf[i : i + n]

    unpack_fopaque = unpack_fstring

    def unpack_string(self) -> bytes:
        return self.unpack_fstring(self.unpack_uint())

    unpack_opaque = unpack_string
    unpack_bytes = unpack_string
