"""The generated skippers: committed as the generator writes them (`ledgers.xdrskip`, Python, and
``ledgers/_xdrskip.c``, compiled), exact on real ledgers, and the compiled ones identical to the Python ones:
the same end offset, or the same error, on every corpus ledger, on fuzzed ledgers and on random bytes for every
type. Tests of the compiled skippers skip (saying so) where they were not built: no C compiler at install."""

from __future__ import annotations

import os
import random
import struct
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from ledgers import skipgen, skipgen_c, skippers, xdrskip
from ledgers.corpus import iter_corpus
from tests import corpus
from tests.ledgers.fuzz import FUZZ_FILES, mutants

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def compiled() -> ModuleType:
    module = skippers.compiled()
    if module is None:
        pytest.skip("the compiled XDR skippers (ledgers._xdrskip) are not built: no C compiler at install?")
    return module


def outcome(skip: Callable[[Any, int], int], raw: Any, offset: int = 0) -> tuple[str, Any]:
    """("end", offset) or (exception class, message): what both skippers must agree on. Only the class of a
    RecursionError is compared (the interpreter's and the compiled walk's limits word it differently)."""
    try:
        return "end", skip(raw, offset)
    except RecursionError:
        return "RecursionError", ""
    except (ValueError, struct.error) as exc:
        return type(exc).__name__, str(exc)


def test_committed_modules_are_what_the_generator_writes() -> None:
    committed = (Path(xdrskip.__file__)).read_text()
    assert committed == skipgen.generate(), "run `python -m ledgers.skipgen` after changing it or stellar-sdk"
    committed_c = (ROOT / "ledgers" / "_xdrskip.c").read_text()
    assert committed_c == skipgen.generate_c(), (
        "run `python -m ledgers.skipgen` after changing it or stellar-sdk"
    )


def test_every_corpus_ledger_is_skipped_to_its_last_byte_by_both(
    corpus_root: Path, compiled: ModuleType
) -> None:
    count = 0
    for file, raw in iter_corpus(corpus_root):
        assert xdrskip.skip_LedgerCloseMeta(raw, 0) == len(raw), file
        assert compiled.skip_LedgerCloseMeta(raw, 0) == len(raw), file
        assert compiled.skip_LedgerCloseMeta(memoryview(raw), 0) == len(raw), file
        count += 1
    assert count >= 413


def test_the_python_skippers_walk_the_corpus_without_the_compiled_ones(corpus_root: Path) -> None:
    # Where the compiled skippers are built the test above covers this; here for a machine without a compiler.
    if skippers.compiled() is not None:
        pytest.skip("covered by test_every_corpus_ledger_is_skipped_to_its_last_byte_by_both")
    for file, raw in iter_corpus(corpus_root):
        assert xdrskip.skip_LedgerCloseMeta(raw, 0) == len(raw), file


@pytest.mark.parametrize(("file", "index"), FUZZ_FILES)
def test_both_skippers_agree_on_the_fuzzed_ledgers_of_the_decoder_fuzz_test(
    corpus_root: Path, compiled: ModuleType, file: str, index: int
) -> None:
    raw = corpus.raw_ledger(corpus_root, file, index)
    kinds: dict[str, int] = {}
    # The mutants of tests/ledgers/test_fast_decoder.py (same seed), and as many more.
    for seed in (f"{file}#{index}", f"{file}#{index}/skippers"):
        for mutant in mutants(raw, random.Random(seed), 120):
            expected = outcome(xdrskip.skip_LedgerCloseMeta, mutant)
            assert outcome(compiled.skip_LedgerCloseMeta, mutant) == expected, mutant[:64].hex()
            kinds[expected[0]] = kinds.get(expected[0], 0) + 1
    assert len(kinds) >= 3, kinds  # ends (some past the bytes) and at least two kinds of error


def _random_value(rng: random.Random, size: int) -> bytes:
    """Random words biased to small values, so that discriminants, flags and counts are often valid."""
    words = []
    for _ in range(size // 4):
        pick = rng.random()
        if pick < 0.6:
            words.append(rng.choice([0, 0, 0, 1, 1, 2, 3, 4, 5, 8, 16, 32, 0xFFFFFFFF]))
        else:
            words.append(rng.getrandbits(32))
    return struct.pack(f">{len(words)}I", *words) + rng.randbytes(size % 4)


def test_both_skippers_agree_on_random_bytes_for_every_type(compiled: ModuleType) -> None:
    rng = random.Random(16)
    names = sorted(name for name in vars(xdrskip) if name.startswith("skip_"))
    assert len(names) > 400
    assert names == sorted(name for name in vars(compiled) if name.startswith("skip_"))
    seen: dict[str, int] = {}
    for name in names:
        python, c = getattr(xdrskip, name), getattr(compiled, name)
        for size in (0, 3, 8, 40, 200, 1000):
            for _ in range(6):
                data = _random_value(rng, size)
                offset = rng.choice([0, 0, 4, size])
                expected = outcome(python, data, offset)
                assert outcome(c, data, offset) == expected, (name, data.hex(), offset)
                seen[expected[0]] = seen.get(expected[0], 0) + 1
    assert {"end", "error", "SkipError", "UnknownArm"} <= set(seen), seen


def _nested_vectors(depth: int) -> bytes:
    """An SCVal: `depth` vectors of one element each, around a void."""
    return struct.pack(">iII", 16, 1, 1) * depth + struct.pack(">i", 1)


def test_nesting_is_capped_where_stellar_sdk_caps_it(compiled: ModuleType) -> None:
    from stellar_sdk import xdr as x

    deepest = _nested_vectors(255)  # 511 levels: SCVal, SCVec, SCVal, ...
    x.SCVal.from_xdr_bytes(deepest)
    assert xdrskip.skip_SCVal(deepest, 0) == compiled.skip_SCVal(deepest, 0) == len(deepest)
    too_deep = _nested_vectors(256)
    with pytest.raises(ValueError, match="depth"):
        x.SCVal.from_xdr_bytes(too_deep)
    with pytest.raises(RecursionError, match=f"deeper than {skipgen_c.MAX_DEPTH}"):
        compiled.skip_SCVal(too_deep, 0)
    hostile = _nested_vectors(200_000)  # the C stack is never at risk: the walk stops at the cap
    assert (
        outcome(compiled.skip_SCVal, hostile)
        == outcome(xdrskip.skip_SCVal, hostile)
        == ("RecursionError", "")
    )
    # A walk that failed leaves nothing behind: the next one starts at depth 0.
    assert compiled.skip_SCVal(deepest, 0) == len(deepest)


def test_the_compiled_skippers_take_buffers_and_refuse_what_is_not_one(compiled: ModuleType) -> None:
    value = struct.pack(">iI", 15, 3) + b"abc\x00"  # SCV_SYMBOL "abc"
    for buffer in (value, bytearray(value), memoryview(value), memoryview(b"xxxx" + value)[4:]):
        assert compiled.skip_SCVal(buffer, 0) == len(value)
    with pytest.raises(TypeError):
        compiled.skip_SCVal("text", 0)
    with pytest.raises(TypeError):
        compiled.skip_SCVal(value)
    with pytest.raises(ValueError, match="negative offset"):
        compiled.skip_SCVal(value, -4)
    assert compiled.SkipError is xdrskip.SkipError and compiled.UnknownArm is xdrskip.UnknownArm


def test_unknown_arm_and_truncation_are_refused() -> None:
    with pytest.raises(xdrskip.UnknownArm):
        xdrskip.skip_LedgerCloseMeta(b"\x00\x00\x00\x07" + bytes(64), 0)
    with pytest.raises(xdrskip.SkipError):  # a string longer than its bound (SCSymbol<32>)
        xdrskip.skip_SCVal(b"\x00\x00\x00\x0f\x00\x00\x00\x40" + bytes(64), 0)


def test_the_compiled_unknown_arm_carries_the_union_and_value(compiled: ModuleType) -> None:
    with pytest.raises(xdrskip.UnknownArm) as caught:
        compiled.skip_LedgerCloseMeta(b"\x00\x00\x00\x07" + bytes(64), 0)
    assert (caught.value.union, caught.value.value, str(caught.value)) == (
        "LedgerCloseMeta",
        7,
        "unknown arm 7 of LedgerCloseMeta",
    )


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
    for name in ("python", *(["c"] if skippers.compiled() is not None else [])):
        module = xdrskip if name == "python" else skippers.compiled()
        assert module.skip_SCVal(canonical, 0) == len(canonical), name  # type: ignore[union-attr]
        with pytest.raises(xdrskip.SkipError, match="non-canonical"):
            module.skip_SCVal(raw, 0)  # type: ignore[union-attr]


def _implementation_in_a_fresh_process(setting: str | None) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if key != skippers.ENV_VAR}
    if setting is not None:
        env[skippers.ENV_VAR] = setting
    return subprocess.run(
        [sys.executable, "-c", "from ledgers import skippers; print(skippers.implementation())"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def test_the_environment_chooses_the_skippers() -> None:
    built = skippers.compiled() is not None
    assert _implementation_in_a_fresh_process(None).stdout.strip() == ("c" if built else "python")
    assert _implementation_in_a_fresh_process("python").stdout.strip() == "python"
    forced = _implementation_in_a_fresh_process("c")
    if built:
        assert forced.stdout.strip() == "c"
    else:
        assert "ImportError" in forced.stderr
    wrong = _implementation_in_a_fresh_process("fortran")
    assert wrong.returncode != 0 and "expected auto, c or python" in wrong.stderr


def test_a_compiled_module_of_another_schema_is_not_used(
    compiled: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(xdrskip, "SCHEMA", "0" * 16)
    with pytest.warns(RuntimeWarning, match="built from another schema"):
        assert skippers.compiled() is None
    with pytest.warns(RuntimeWarning), pytest.raises(ImportError):
        skippers.use("c")
