"""`FastUnpacker` reads exactly what xdrlib3's `Unpacker` reads, and fails the same way past the end."""

from __future__ import annotations

import struct

import pytest
from xdrlib3 import Error, Packer, Unpacker

from ledgers.unpacker import FastUnpacker


def _sample() -> bytes:
    packer = Packer()
    packer.pack_uint(0xFFFFFFFF)
    packer.pack_int(-(2**31))
    packer.pack_uhyper(2**64 - 1)
    packer.pack_hyper(-(2**63))
    packer.pack_hyper(-1)
    packer.pack_bool(True)
    packer.pack_float(1.5)
    packer.pack_double(-2.25)
    packer.pack_fopaque(5, b"abcde")
    packer.pack_string(b"hello world")
    packer.pack_opaque(b"")
    return packer.get_buffer()


READS = [
    ("unpack_uint", ()),
    ("unpack_int", ()),
    ("unpack_uhyper", ()),
    ("unpack_hyper", ()),
    ("unpack_hyper", ()),
    ("unpack_bool", ()),
    ("unpack_float", ()),
    ("unpack_double", ()),
    ("unpack_fopaque", (5,)),
    ("unpack_string", ()),
    ("unpack_opaque", ()),
]


def test_reads_the_same_values_and_positions() -> None:
    data = _sample()
    slow, fast = Unpacker(data), FastUnpacker(data)
    for name, args in READS:
        expected = getattr(slow, name)(*args)
        got = getattr(fast, name)(*args)
        assert got == expected and type(got) is type(expected), name
        assert fast.get_position() == slow.get_position()
    assert fast.get_buffer() is data
    slow.done()
    fast.done()
    fast.set_position(4)
    assert fast.unpack_int() == -(2**31)
    fast.reset(b"\x00\x00\x00\x07")
    assert fast.unpack_enum() == 7 and fast.get_position() == 4


@pytest.mark.parametrize(
    "name", ["unpack_uint", "unpack_int", "unpack_uhyper", "unpack_hyper", "unpack_double"]
)
def test_past_the_end_is_eof(name: str) -> None:
    data = struct.pack(">I", 1)[:3]
    with pytest.raises(EOFError):
        getattr(Unpacker(data), name)()
    with pytest.raises(EOFError):
        getattr(FastUnpacker(data), name)()


def test_lengths_and_leftovers_fail_like_xdrlib3() -> None:
    for cls in (Unpacker, FastUnpacker):
        with pytest.raises(EOFError):
            cls(struct.pack(">I", 9) + b"short").unpack_string()
        with pytest.raises(ValueError):
            cls(b"").unpack_fopaque(-1)
        with pytest.raises(Error):
            cls(b"\x00" * 8).done()
