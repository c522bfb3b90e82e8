"""The compiled builder of entry changes and events (``ledgers._fastchanges``) against the Python readers.

The corpus equivalence (test_fast_decoder.py, parametrized by implementation) shows both give the stellar-sdk
path's values on every corpus ledger. Here: on hostile bytes the compiled builder never crashes and gives what
the Python readers give, or raises what they raise (it hands anything it does not expect to them); and it builds
most changes itself instead of handing them over.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from ledgers import fastentries, fastevents, skippers
from ledgers.corpus import PUBNET, network_passphrase_for
from ledgers.fast import FastLedgerView, _v3_soroban_events
from ledgers.view import LedgerView
from tests import corpus
from tests.ledgers import skipimpl
from tests.ledgers.fuzz import FUZZ_FILES

# A current pubnet ledger: accounts, trustlines, offers, events.
MAINNET = "wallet-backend/ledger-63092982.xdr.gz"

pytestmark = pytest.mark.skipif(
    "c" not in skipimpl.available(),
    reason="the compiled decoder parts (ledgers._fastchanges) are not built here",
)

Reader = Callable[[bytes, int], Any]


def _lists(view: FastLedgerView) -> Iterator[tuple[Reader, int]]:
    """Every entry change list and event list of `view`: (reader, offset)."""
    for tx in view.transactions:
        lazy = tx._raw
        p, layout = lazy.processing, lazy.layout
        for o in (p.fee_offset, p.post_offset, layout.before, layout.after, *layout.op_changes):
            if o is not None:
                yield fastentries.changes_at, o
        for o in layout.op_events:
            yield fastevents.events_at, o
        if layout.events is not None:
            yield fastevents.transaction_events_at, layout.events
        if layout.diagnostics is not None:
            yield fastevents.diagnostic_events_at, layout.diagnostics
        parts = lazy.soroban
        if parts is not None and parts.events is not None:
            assert _v3_soroban_events(lazy) is not None
            yield fastevents.events_at, parts.events
        if parts is not None and parts.diagnostics is not None:
            yield fastevents.diagnostic_events_at, parts.diagnostics


def _outcome(read: Reader, raw: bytes, o: int) -> tuple[str, Any]:
    try:
        return "ok", read(raw, o)
    except Exception as exc:  # the class is what is compared
        return "error", type(exc).__name__


def _mutants(raw: bytes, o: int, rng: random.Random, count: int) -> Iterator[bytes]:
    """`raw` damaged near `o`: bytes flipped, cut short, words overwritten with small or huge integers."""
    span = min(len(raw) - o, 2048)
    for i in range(count):
        data = bytearray(raw)
        kind = i % 3
        if kind == 0:
            for _ in range(rng.randint(1, 3)):
                data[o + rng.randrange(span)] = rng.randrange(256)
        elif kind == 1:
            del data[o + rng.randrange(span) :]
        else:
            at = o + rng.randrange(span // 4) * 4
            word = rng.choice([0, 1, 2, 3, 4, 9, 33, 65, 0x7FFFFFFF, 0xFFFFFFFF])
            data[at : at + 4] = word.to_bytes(4, "big")
        yield bytes(data)


def _ledgers(corpus_root: Path) -> Iterator[tuple[str, bytes, str]]:
    for file, index in FUZZ_FILES:
        yield file, corpus.raw_ledger(corpus_root, file, index), network_passphrase_for(file)
    yield MAINNET, corpus.raw_ledger(corpus_root, MAINNET), PUBNET


def test_damaged_lists_give_what_the_python_readers_give(corpus_root: Path) -> None:
    checked = 0
    for file, raw, passphrase in _ledgers(corpus_root):
        with skipimpl.using("c"):
            view = LedgerView.from_xdr(raw, passphrase, "fast")
        assert isinstance(view, FastLedgerView), file
        rng = random.Random(file)
        lists = list(_lists(view))
        for read, o in rng.sample(lists, min(len(lists), 40)):
            for mutant in _mutants(raw, o, rng, 30):
                with skipimpl.using("python"):
                    expected = _outcome(read, mutant, o)
                with skipimpl.using("c"):
                    got = _outcome(read, mutant, o)
                assert got == expected, f"{file} {read.__name__} at {o}: c {got[0]}, python {expected[0]}"
                checked += 1
    assert checked > 1000


def test_random_bytes_give_what_the_python_readers_give() -> None:
    rng = random.Random(16)
    for _ in range(2000):
        data = rng.randbytes(rng.choice([4, 12, 40, 100, 400]))
        read = rng.choice(
            [
                fastentries.changes_at,
                fastevents.events_at,
                fastevents.diagnostic_events_at,
                fastevents.transaction_events_at,
            ]
        )
        count = rng.choice([0, 1, 2, 3, 0xFFFFFFFF])
        data = count.to_bytes(4, "big") + data
        with skipimpl.using("python"):
            expected = _outcome(read, data, 0)
        with skipimpl.using("c"):
            got = _outcome(read, data, 0)
        assert got == expected, data.hex()


def test_most_changes_and_all_events_of_a_pubnet_ledger_are_built_in_c(
    corpus_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    handed_over: list[int] = []
    events_in_python: list[int] = []
    change_at, event_at = fastentries.change_at, fastevents._event_at

    def counting_change_at(raw: bytes, o: int) -> Any:
        handed_over.append(o)
        return change_at(raw, o)

    def counting_event_at(raw: bytes, o: int, *rest: Any) -> Any:
        events_in_python.append(o)
        return event_at(raw, o, *rest)

    monkeypatch.setattr(fastentries, "change_at", counting_change_at)
    monkeypatch.setattr(fastevents, "_event_at", counting_event_at)
    changes = events = 0
    with skipimpl.using("c"):
        view = LedgerView.from_xdr(corpus.raw_ledger(corpus_root, MAINNET), PUBNET, "fast")
        assert isinstance(view, FastLedgerView)
        for read, o in _lists(view):
            if read is fastentries.changes_at:
                changes += len(read(view._raw, o))
            else:
                events += len(read(view._raw, o))
    assert changes > 1000 and events > 100, (changes, events)
    assert len(handed_over) < changes // 10, (len(handed_over), changes)
    assert not events_in_python


def test_compiled_strkeys_are_stellar_sdks() -> None:
    """``_fastchanges.strkey`` (the encoder `ledgers.xdrconv` uses when it is built) gives stellar-sdk's strings for
    every kind the decoder writes and every payload length it accepts, and refuses what it cannot encode."""
    from stellar_sdk import StrKey

    from ledgers import _fastchanges  # type: ignore[attr-defined]

    strkey = _fastchanges.strkey
    rng = random.Random(16)
    for _ in range(2000):
        key = rng.randbytes(32)
        assert strkey(6 << 3, key) == StrKey.encode_ed25519_public_key(key)
        assert strkey(2 << 3, key) == StrKey.encode_contract(key)
        assert strkey(11 << 3, key) == StrKey.encode_liquidity_pool(key)
        assert strkey(1 << 3, b"\x00" + key) == StrKey.encode_claimable_balance(b"\x00" + key)
        muxed = key + rng.randbytes(8)
        assert strkey(12 << 3, muxed) == StrKey.encode_med25519_public_key(muxed)
    for length in range(129):  # every length: each remainder of the base32 groups, padding stripped
        payload = rng.randbytes(length)
        assert strkey(6 << 3, payload) == StrKey.encode_ed25519_public_key(payload), length
    for bad in ((256, b""), (-1, b""), (0, bytes(129))):
        with pytest.raises(ValueError):
            strkey(*bad)
    key = rng.randbytes(32)
    for same in (bytearray(key), memoryview(key)):  # any bytes-like value, as stellar-sdk's encoders take
        assert strkey(6 << 3, same) == StrKey.encode_ed25519_public_key(key)
    for bad_args in ((0, "text"), ("0", b""), (0,)):
        with pytest.raises(TypeError):
            strkey(*bad_args)


def test_the_decoder_writes_strkeys_with_either_encoder() -> None:
    """`ledgers.xdrconv` encodes with the compiled encoder under ``c`` and with stellar-sdk under ``python``: the
    same strings (its caches are bypassed here through the functions they wrap)."""
    from ledgers import skippers, xdrconv

    rng = random.Random(17)
    keys = [rng.randbytes(32) for _ in range(50)]
    encoders = (
        xdrconv.account_strkey.__wrapped__,
        xdrconv.contract_strkey.__wrapped__,
        xdrconv.pool_strkey.__wrapped__,
        xdrconv.balance_strkey.__wrapped__,
        lambda raw: xdrconv.muxed_strkey(raw, 2**64 - 1),
    )
    written: dict[str, list[str]] = {}
    for name in ("c", "python"):
        with skipimpl.using(name):
            assert (skippers.strkey is not None) == (name == "c")  # the compiled encoder only under ``c``
            written[name] = [encode(key) for encode in encoders for key in keys]
    assert written["c"] == written["python"]
    assert len(set(written["c"])) == len(written["c"])


def _changes_by_offset(raw: bytes, o: int) -> Iterator[tuple[int, int, Any]]:
    """(offset, end, change) of each change of the list at `o`, read by the Python reader."""
    count = int.from_bytes(raw[o : o + 4], "big")
    at = o + 4
    for _ in range(count):
        change, end = fastentries.change_at(raw, at)
        yield at, end, change
        at = end


# Built in C since the readers of the commonest remaining kinds moved there (docs/decisions.md "slots19").
_LATER_KINDS = {("entry", "liquidity_pool"), ("entry", "claimable_balance"), ("removed", "offer")}


def _later_kind(change: Any) -> tuple[str, str]:
    return ("removed" if change.kind == "removed" else "entry", change.entry_type)


def test_pools_claimable_balances_and_removed_offers_are_built_in_c_and_fuzzed(
    corpus_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    raw = corpus.raw_ledger(corpus_root, MAINNET)
    with skipimpl.using("c"):
        view = LedgerView.from_xdr(raw, PUBNET, "fast")
    assert isinstance(view, FastLedgerView)
    targets: list[tuple[int, int, int]] = []  # (list offset, change offset, change end)
    seen: set[tuple[str, str]] = set()
    with skipimpl.using("python"):
        for read, o in _lists(view):
            if read is fastentries.changes_at:
                for at, end, change in _changes_by_offset(raw, o):
                    if _later_kind(change) in _LATER_KINDS:
                        targets.append((o, at, end))
                        seen.add(_later_kind(change))
    assert seen == _LATER_KINDS, seen
    handed_over: list[int] = []
    change_at = fastentries.change_at

    def counting_change_at(raw: bytes, o: int) -> Any:
        handed_over.append(o)
        return change_at(raw, o)

    monkeypatch.setattr(fastentries, "change_at", counting_change_at)
    with skipimpl.using("c"):
        for list_o in sorted({o for o, _, _ in targets}):
            fastentries.changes_at(raw, list_o)
    assert not set(handed_over) & {at for _, at, _ in targets}
    monkeypatch.setattr(fastentries, "change_at", change_at)
    # Damaged inside those changes: the C readers give what the Python reader gives, or decline to it.
    rng = random.Random(19)
    checked = 0
    for list_o, at, end in rng.sample(targets, min(len(targets), 60)):
        for _ in range(25):
            data = bytearray(raw)
            position = at + rng.randrange(end - at)
            choice = rng.randrange(3)
            if choice == 0:
                data[position] = rng.randrange(256)
            elif choice == 1:
                del data[position:]
            else:
                position -= position % 4
                word = rng.choice([0, 1, 2, 3, 4, 5, 0x7FFFFFFF, 0xFFFFFFFF])
                data[position : position + 4] = word.to_bytes(4, "big")
            mutant = bytes(data)
            with skipimpl.using("python"):
                expected = _outcome(fastentries.changes_at, mutant, list_o)
            with skipimpl.using("c"):
                got = _outcome(fastentries.changes_at, mutant, list_o)
            assert got == expected, f"change at {at}: c {got}, python {expected}"
            checked += 1
    assert checked >= 500


def _account_id(seed: int) -> Any:
    from stellar_sdk import Keypair

    return Keypair.from_raw_ed25519_seed(bytes([seed]) * 32).xdr_account_id()


def _predicate(depth: int) -> Any:
    from stellar_sdk import xdr as x

    if depth == 0:
        return x.ClaimPredicate(
            x.ClaimPredicateType.CLAIM_PREDICATE_BEFORE_RELATIVE_TIME, rel_before=x.Int64(3600)
        )
    inner = [_predicate(depth - 1), x.ClaimPredicate(x.ClaimPredicateType.CLAIM_PREDICATE_UNCONDITIONAL)]
    return x.ClaimPredicate(x.ClaimPredicateType.CLAIM_PREDICATE_AND, and_predicates=inner)


def _entry(data: Any, sponsored: bool) -> Any:
    from stellar_sdk import xdr as x

    ext = x.LedgerEntryExt(0)
    if sponsored:
        v1 = x.LedgerEntryExtensionV1(x.SponsorshipDescriptor(_account_id(9)), x.LedgerEntryExtensionV1Ext(0))
        ext = x.LedgerEntryExt(1, v1=v1)
    return x.LedgerEntry(x.Uint32(63_000_000), data, ext)


def _synthetic_changes() -> bytes:
    """A ``LedgerEntryChanges`` with every shape the C readers of pools, claimable balances and removed keys take:
    both claimable balance extensions, nested predicates, several claimants, native and credit assets, sponsored
    entries, removed account, offer and trustline keys (the last read by Python)."""
    from stellar_sdk import Asset
    from stellar_sdk import xdr as x

    usd = Asset("USD", "GA5ZSEJYB37JRC5AVCIA5MOP4RHTM335X2KGX3IHOJAPP5RE34K4KZVN").to_xdr_object()
    long_code = Asset(
        "LONGCODE12", "GA5ZSEJYB37JRC5AVCIA5MOP4RHTM335X2KGX3IHOJAPP5RE34K4KZVN"
    ).to_xdr_object()
    native = Asset.native().to_xdr_object()
    Type, Change = x.LedgerEntryType, x.LedgerEntryChangeType
    changes = []
    for number, (asset_a, asset_b) in enumerate([(native, usd), (usd, long_code)]):
        params = x.LiquidityPoolConstantProductParameters(asset_a, asset_b, x.Int32(30))
        product = x.LiquidityPoolEntryConstantProduct(
            params, x.Int64(10**12 + number), x.Int64(-5), x.Int64(2**63 - 1), x.Int64(7)
        )
        body = x.LiquidityPoolEntryBody(x.LiquidityPoolType.LIQUIDITY_POOL_CONSTANT_PRODUCT, product)
        pool = x.LiquidityPoolEntry(x.PoolID(x.Hash(bytes([number + 1]) * 32)), body)
        data = x.LedgerEntryData(Type.LIQUIDITY_POOL, liquidity_pool=pool)
        changes.append(x.LedgerEntryChange(Change.LEDGER_ENTRY_UPDATED, updated=_entry(data, number == 1)))
    for number, flags in enumerate([None, 1, 0]):
        claimants = [
            x.Claimant(x.ClaimantType.CLAIMANT_TYPE_V0, x.ClaimantV0(_account_id(seed), _predicate(seed % 3)))
            for seed in range(number + 1)
        ]
        ext = x.ClaimableBalanceEntryExt(0)
        if flags is not None:
            v1 = x.ClaimableBalanceEntryExtensionV1(x.ClaimableBalanceEntryExtensionV1Ext(0), x.Uint32(flags))
            ext = x.ClaimableBalanceEntryExt(1, v1=v1)
        balance_id = x.ClaimableBalanceID(
            x.ClaimableBalanceIDType.CLAIMABLE_BALANCE_ID_TYPE_V0, v0=x.Hash(bytes([number + 7]) * 32)
        )
        balance = x.ClaimableBalanceEntry(
            balance_id, claimants, [usd, native, long_code][number], x.Int64(99), ext
        )
        data = x.LedgerEntryData(Type.CLAIMABLE_BALANCE, claimable_balance=balance)
        changes.append(x.LedgerEntryChange(Change.LEDGER_ENTRY_CREATED, created=_entry(data, number == 2)))
    removed = [
        x.LedgerKey(Type.OFFER, offer=x.LedgerKeyOffer(_account_id(3), x.Int64(2**62))),
        x.LedgerKey(Type.ACCOUNT, account=x.LedgerKeyAccount(_account_id(4))),
        x.LedgerKey(Type.TRUSTLINE, trust_line=x.LedgerKeyTrustLine(_account_id(5), x.TrustLineAsset(
            x.AssetType.ASSET_TYPE_CREDIT_ALPHANUM4, alpha_num4=usd.alpha_num4
        ))),
    ]  # fmt: skip
    changes += [x.LedgerEntryChange(Change.LEDGER_ENTRY_REMOVED, removed=key) for key in removed]
    return bytes(x.LedgerEntryChanges(changes).to_xdr_bytes())


def test_synthetic_pools_claimable_balances_and_removed_keys_read_alike_damaged_or_not() -> None:
    raw = _synthetic_changes()
    with skipimpl.using("python"):
        expected = fastentries.changes_at(raw, 0)
        offsets = [at for at, _, _ in _changes_by_offset(raw, 0)]
    with skipimpl.using("c"):
        got = fastentries.changes_at(raw, 0)
    assert got == expected
    assert [_later_kind(change) for change in got] == [
        ("entry", "liquidity_pool"), ("entry", "liquidity_pool"), ("entry", "claimable_balance"),
        ("entry", "claimable_balance"), ("entry", "claimable_balance"), ("removed", "offer"),
        ("removed", "account"), ("removed", "trustline"),
    ]  # fmt: skip
    assert got[3].entry.flags == 1 and len(got[4].entry.claimants) == 3
    handed_over: list[int] = []
    change_at = fastentries.change_at

    def counting_change_at(raw: bytes, o: int) -> Any:
        handed_over.append(o)
        return change_at(raw, o)

    fastentries.change_at = counting_change_at  # type: ignore[assignment]
    try:
        with skipimpl.using("c"):
            fastentries.changes_at(raw, 0)
    finally:
        fastentries.change_at = change_at  # type: ignore[assignment]
    assert handed_over == offsets[-1:], "only the removed trustline is read by Python"
    rng = random.Random(20)
    for mutant in _mutants(raw, 4, rng, 3000):
        with skipimpl.using("python"):
            expected_outcome = _outcome(fastentries.changes_at, mutant, 0)
        with skipimpl.using("c"):
            got_outcome = _outcome(fastentries.changes_at, mutant, 0)
        assert got_outcome == expected_outcome, mutant.hex()


def _claimable_with_predicate(predicate: bytes) -> bytes:
    """A ``LedgerEntryChanges`` of one created claimable balance whose single claimant has `predicate`."""
    entry = b"".join(
        [
            (63_000_000).to_bytes(4, "big"),
            (4).to_bytes(4, "big"),  # CLAIMABLE_BALANCE
            bytes(4) + bytes([7]) * 32,  # ClaimableBalanceID V0
            (1).to_bytes(4, "big"),  # one claimant: V0, destination, predicate
            bytes(4) + bytes(4) + bytes([1]) * 32,
            predicate,
            bytes(4),  # native
            (99).to_bytes(8, "big"),
            bytes(4),  # the entry's extension: void
            bytes(4),  # LedgerEntry.ext: void
        ]
    )
    return (1).to_bytes(4, "big") + bytes(4) + entry  # one change: created


def _not_nested(depth: int) -> bytes:
    """``NOT(NOT(... UNCONDITIONAL))``: `depth` NOTs (type 3, then a present optional predicate)."""
    return bytes.fromhex("0000000300000001") * depth + bytes(4)


def test_claimable_balances_are_refused_where_the_production_fallback_refuses_them() -> None:
    # The depth limit of the compiled skippers counts from where the skip starts: the C reader skips the whole
    # entry first, as the Python reader does, so a predicate nested near the limit meets the same verdict.
    for depth in (1, 4, 500, 505, 508, 509, 510, 511, 512, 513, 520):
        raw = _claimable_with_predicate(_not_nested(depth))
        with skipimpl.using("c"):
            fallback = _outcome(lambda raw, o: (fastentries.change_at(raw, o + 4)[0],), raw, 0)
            got = _outcome(fastentries.changes_at, raw, 0)
        assert got == fallback, depth


def test_a_skipper_refusing_the_bytes_hands_the_change_to_python_and_other_errors_go_up() -> None:
    raw = _synthetic_changes()
    with skipimpl.using("python"):
        expected = fastentries.changes_at(raw, 0)
    with skipimpl.using("c"):
        build = skippers.entry_changes
        context = list(fastentries._changes_context())
        which = context.index(skippers.skip_ClaimPredicate)

        def refusing(error: BaseException) -> Callable[[bytes, int], int]:
            def skip(raw: bytes, o: int) -> int:
                raise error

            return skip

        context[which] = refusing(skippers.SkipError("refused"))
        count = int.from_bytes(raw[:4], "big")
        assert build(raw, 4, count, fastentries.change_at, tuple(context)) == expected
        for error in (MemoryError(), KeyboardInterrupt()):
            context[which] = refusing(error)
            with pytest.raises(type(error)):
                build(raw, 4, count, fastentries.change_at, tuple(context))
