"""The fast decoder (`ledgers.fast`) against the stellar-sdk path: same rows, same view, or the same error.

- Equivalence: every corpus ledger (tests/corpus.py decodes each once per session with stellar-sdk; the facts
  registered here decode it once more with the fast decoder) gives the same rows for every processor and the
  same value for every part of `LedgerView`, with no fallback.
- Fuzz: mutated, truncated and extended small corpus ledgers and random bytes, with fixed seeds: the fast path
  returns what the sdk path returns, or raises what the sdk path raises (``ValueError``/``EOFError``: the
  project's decode error).
- Fallback: a ledger the fast decoder refuses is decoded by stellar-sdk, logged with its sequence and reason,
  and counted.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ledgers import fast, skippers
from ledgers.corpus import iter_corpus, iter_file, network_passphrase_for
from ledgers.model import gc_paused
from ledgers.view import LedgerView, touch_all
from processors.registry import default_registry
from tests import corpus
from tests.ledgers import skipimpl
from tests.ledgers.fuzz import FUZZ_FILES, mutants

_HEADER_FIELDS = (
    "sequence",
    "protocol_version",
    "close_time",
    "closed_at",
    "ledger_hash",
    "previous_ledger_hash",
    "lcm_version",
    "base_fee",
    "base_reserve",
    "max_tx_set_size",
    "total_coins",
    "fee_pool",
    "transaction_count",
    "network_passphrase",
)


def view_image(view: LedgerView) -> list[Any]:
    """Every value a processor may read of `view`, as one comparable list (model types compare by value)."""
    image: list[Any] = [getattr(view, name) for name in _HEADER_FIELDS]
    image += [view.tx_set_size, view.has_unified_events, view.upgrade_changes, view.evicted_keys]
    for tx in view.transactions:
        image.append(
            (
                tx,
                tx.fee_changes,
                tx.changes_before,
                tx.changes_after,
                tx.post_apply_fee_changes,
                tx.events,
                tx.soroban_events,
                tx.diagnostic_events,
                tx.return_value,
            )
        )
        image.extend((op, op.changes, op.events) for op in tx.operations)
    return image


def processor_rows(view: LedgerView) -> dict[str, Any]:
    return {p.name: p.extract(view) for p in default_registry().catalogue().values() if p.extract is not None}


class Reference:
    """What the sdk view gives (rows, image), computed once for comparisons with several fast views."""

    def __init__(self, sdk_view: LedgerView) -> None:
        self.view = sdk_view
        self.rows = processor_rows(sdk_view)
        self.image = view_image(sdk_view)


def differences(sdk_view: LedgerView | Reference, fast_view: LedgerView) -> list[str]:
    """What differs between the two views (header, every lazy part, every processor's rows); [] if nothing."""
    reference = sdk_view if isinstance(sdk_view, Reference) else Reference(sdk_view)
    sdk_view = reference.view
    found = []
    if not isinstance(fast_view, fast.FastLedgerView):
        found.append(f"the fast decoder fell back to stellar-sdk: {fast_view.decoder_fallback}")
    for name in _HEADER_FIELDS:
        if getattr(sdk_view, name) != getattr(fast_view, name):
            found.append(f"field {name}: {getattr(sdk_view, name)!r} != {getattr(fast_view, name)!r}")
    sdk_rows, fast_rows = reference.rows, processor_rows(fast_view)
    for name, tables in sdk_rows.items():
        if tables != fast_rows[name]:
            found.append(f"processor {name}: rows differ")
    sdk_image, fast_image = reference.image, view_image(fast_view)
    if sdk_image != fast_image:
        first = next(
            (i for i, (a, b) in enumerate(zip(sdk_image, fast_image, strict=False)) if a != b), len(sdk_image)
        )
        found.append(f"view parts differ from item {first} of {len(sdk_image)}")
    return found


@corpus.facts("fast_decoder_differences")
def _fast_decoder_differences(decoded: corpus.Decoded) -> dict[str, list[str]]:
    # The sdk view has already been read by every extractor (its lazy parts are cached): only the fast view is
    # decoded and converted here, once with each XDR skipper built here (`ledgers.skippers`).
    found = {}
    for name in skipimpl.available():
        with skipimpl.using(name):
            found[name] = differences(
                decoded.view, LedgerView.from_xdr(decoded.raw, decoded.passphrase, "fast")
            )
    return found


def _corpus_files(root: Path) -> list[str]:
    return sorted({file for file, _ in iter_corpus(root)})


@pytest.mark.parametrize("skipper", skippers.IMPLEMENTATIONS)
def test_fast_and_sdk_views_agree_on_every_corpus_ledger(corpus_root: Path, skipper: str) -> None:
    if skipper not in skipimpl.available():
        pytest.skip(f"the {skipper} XDR skippers are not built here")
    checked = 0
    failures = []
    for file in _corpus_files(corpus_root):
        for ledger in corpus.ledgers(corpus_root, file):
            found = ledger.facts("fast_decoder_differences")[skipper]
            if found:
                failures.append(f"{file}#{ledger.index} ({ledger.sequence}): {found}")
            checked += 1
    assert not failures, "\n".join(failures[:20])
    assert checked >= 413


# -- fuzz ---------------------------------------------------------------------------------------------------------
_DECODE_ERRORS = (ValueError, EOFError)


def _outcome(decode: Callable[[], LedgerView]) -> tuple[str, Any]:
    """("ok", image of the view) or ("error", the exception's class name); anything else propagates."""
    try:
        with gc_paused():
            view = decode()
            touch_all(view)
            return "ok", view_image(view)
    except _DECODE_ERRORS as exc:
        return "error", type(exc).__name__


@pytest.mark.parametrize(("file", "index"), FUZZ_FILES)
def test_fuzzed_ledgers_decode_as_stellar_sdk_does_or_fail_as_it_does(
    corpus_root: Path, file: str, index: int
) -> None:
    raw = corpus.raw_ledger(corpus_root, file, index)
    passphrase = network_passphrase_for(file)
    rng = random.Random(f"{file}#{index}")
    kinds: dict[str, int] = {}
    for mutant in mutants(raw, rng, 120):
        expected = _outcome(lambda m=mutant: LedgerView.from_xdr(m, passphrase, "sdk"))
        for skipper in skipimpl.available():  # the sdk outcome is computed once for both skippers
            with skipimpl.using(skipper):
                got = _outcome(lambda m=mutant: LedgerView.from_xdr(m, passphrase, "fast"))
            assert got == expected, (
                f"mutant {mutant[:64].hex()}…: fast ({skipper}) {got[0]}, sdk {expected[0]}"
            )
        kinds[expected[0]] = kinds.get(expected[0], 0) + 1
    assert kinds.get("error") and kinds.get("ok"), kinds  # the mutants exercise both outcomes


def test_random_bytes_are_refused_like_stellar_sdk_refuses_them() -> None:
    rng = random.Random(16)
    for size in [0, 1, 3, 4, 8, 64, 512, 4096] * 8:
        data = rng.randbytes(size)
        if size >= 4 and rng.random() < 0.5:  # a valid version, so the walk goes further
            data = rng.choice([b"\x00\x00\x00\x00", b"\x00\x00\x00\x01", b"\x00\x00\x00\x02"]) + data[4:]
        expected = _outcome(lambda d=data: LedgerView.from_xdr(d, corpus_passphrase(), "sdk"))
        for skipper in skipimpl.available():
            with skipimpl.using(skipper):
                got = _outcome(lambda d=data: LedgerView.from_xdr(d, corpus_passphrase(), "fast"))
            assert got == expected, skipper


def corpus_passphrase() -> str:
    return "Public Global Stellar Network ; September 2015"


# -- fallback -----------------------------------------------------------------------------------------------------
def _refuse_ledger_close_meta_ext(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the generated skippers older than stellar-sdk: they no longer know ``LedgerCloseMetaExt`` arm 0
    (what happens when stellar-sdk learns an arm and `ledgers.xdrskip` was not regenerated)."""

    def refuse(b: Any, o: int) -> int:
        raise skippers.UnknownArm("LedgerCloseMetaExt", 0)

    monkeypatch.setattr(skippers, "skip_LedgerCloseMetaExt", refuse)


def test_a_ledger_the_fast_decoder_refuses_is_decoded_by_stellar_sdk_and_logged(
    corpus_root: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    file = "stellar-go/testbucket/FFFFFC18--999.xdr.zst"
    raw = next(iter_file(corpus_root / file))
    passphrase = network_passphrase_for(file)
    sdk_view = LedgerView.from_xdr(raw, passphrase, "sdk")
    _refuse_ledger_close_meta_ext(monkeypatch)
    with caplog.at_level(logging.WARNING, logger="ledgers.view"):
        view = LedgerView.from_xdr(raw, passphrase, "fast")
    assert not isinstance(view, fast.FastLedgerView)
    assert view.decoder_fallback == "unknown_arm"
    assert view_image(view) == view_image(sdk_view)
    assert f"ledger {sdk_view.sequence} (unknown_arm" in caplog.text
    assert sdk_view.decoder_fallback is None  # the sdk path never tries the fast one


def test_the_sdk_decoder_never_tries_the_fast_path(
    corpus_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    file = "stellar-go/testbucket/FFFFFC18--999.xdr.zst"
    raw = next(iter_file(corpus_root / file))

    def fail(*args: Any) -> None:
        raise AssertionError("the fast decoder ran")

    monkeypatch.setattr(fast.FastLedgerView, "__init__", fail)
    assert LedgerView.from_xdr(raw, network_passphrase_for(file), "sdk").decoder_fallback is None


def test_an_unknown_ledger_version_raises_the_decode_error_with_the_reason_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    raw = b"\x00\x00\x00\x03" + bytes(400)  # LedgerCloseMeta v3 does not exist (yet)
    with pytest.raises(ValueError, match="unknown LedgerCloseMeta version 3"):
        LedgerView.from_xdr(raw, corpus_passphrase(), "fast")
    assert "unknown_arm: unknown arm 3 of LedgerCloseMeta" in caplog.text
    with pytest.raises(ValueError, match="unknown decoder"):
        LedgerView.from_xdr(raw, corpus_passphrase(), "other")  # type: ignore[arg-type]


def test_fast_decode_errors_name_a_reason() -> None:
    cases = {
        b"\x00\x00\x00\x09": "unknown_arm",
        b"\x00\x00\x00\x00" + bytes(10): "truncated",
    }
    for raw, reason in cases.items():
        with pytest.raises(fast.FastDecodeError) as caught:
            fast.FastLedgerView(raw, corpus_passphrase())
        assert caught.value.reason == reason
