"""The generated skippers (`ledgers.xdrskip`): committed as the generator writes them, and exact on real ledgers."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from ledgers import skipgen, xdrskip
from ledgers.corpus import iter_corpus


def test_committed_module_is_what_the_generator_writes() -> None:
    committed = (Path(xdrskip.__file__)).read_text()
    assert committed == skipgen.generate(), "run `python -m ledgers.skipgen` after changing it or stellar-sdk"


def test_every_corpus_ledger_is_skipped_to_its_last_byte(corpus_root: Path) -> None:
    count = 0
    for file, raw in iter_corpus(corpus_root):
        assert xdrskip.skip_LedgerCloseMeta(raw, 0) == len(raw), file
        count += 1
    assert count >= 413


def test_unknown_arm_and_truncation_are_refused() -> None:
    with pytest.raises(xdrskip.UnknownArm):
        xdrskip.skip_LedgerCloseMeta(b"\x00\x00\x00\x07" + bytes(64), 0)
    with pytest.raises(xdrskip.SkipError):  # a string longer than its bound (SCSymbol<32>)
        xdrskip.skip_SCVal(b"\x00\x00\x00\x0f\x00\x00\x00\x40" + bytes(64), 0)


@pytest.mark.parametrize(
    "value",
    [
        (0, 2),  # SCV_BOOL with the word 2
        (16, 2, 0),  # SCV_VEC whose presence flag is 2 (an empty vector)
    ],
    ids=["bool-2", "optional-flag-2"],
)
def test_non_canonical_bools_and_presence_flags_are_refused(value: tuple[int, ...]) -> None:
    # stellar-sdk reads them (as True / present) and writes 1 back: raw bytes handed out by the fast path (ScValue,
    # a contract data key's hash) would differ from the sdk path's, so the fast walk refuses them (-> fallback).
    raw = struct.pack(f">{len(value)}i", *value)
    canonical = struct.pack(f">{len(value)}i", *(1 if v == 2 else v for v in value))
    assert xdrskip.skip_SCVal(canonical, 0) == len(canonical)
    with pytest.raises(xdrskip.SkipError, match="non-canonical"):
        xdrskip.skip_SCVal(raw, 0)
