"""The generated skippers (`ledgers.xdrskip`): committed as the generator writes them, and exact on real ledgers."""

from __future__ import annotations

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
