"""`ScValue`: both JSON forms and the accessors, on hand-built values (corpus round trips: test_view.py)."""

from __future__ import annotations

import json

import pytest
from stellar_sdk import Address, Keypair, scval
from stellar_sdk import xdr as x

from ledgers.scval import _DEPTH_LIMIT, ScValue, scval_from_json, scval_from_xdr_b64

ACCOUNT = Keypair.from_raw_ed25519_seed(bytes(32)).public_key  # a fixed, valid G…
CONTRACT = "CA3D5KRYM6CB7OWQ6TWYRR3Z4T7GNZLKERYNZGGA5SOAOPIFY6YQGAXE"


def _sym(name: str) -> x.SCVal:
    return scval.to_symbol(name)


def _roundtrip(value: ScValue) -> ScValue:
    return scval_from_json(json.loads(json.dumps(value.to_typed_json())))


def _all_kinds() -> list[x.SCVal]:
    muxed = x.SCAddress(
        x.SCAddressType.SC_ADDRESS_TYPE_MUXED_ACCOUNT,
        muxed_account=x.MuxedEd25519Account(x.Uint64(2**64 - 1), x.Uint256(bytes(range(32)))),
    )
    balance = x.SCAddress(
        x.SCAddressType.SC_ADDRESS_TYPE_CLAIMABLE_BALANCE,
        claimable_balance_id=x.ClaimableBalanceID(
            x.ClaimableBalanceIDType.CLAIMABLE_BALANCE_ID_TYPE_V0, v0=x.Hash(b"\x07" * 32)
        ),
    )
    pool = x.SCAddress(
        x.SCAddressType.SC_ADDRESS_TYPE_LIQUIDITY_POOL, liquidity_pool_id=x.PoolID(x.Hash(b"\x09" * 32))
    )
    instance = x.SCContractInstance(
        x.ContractExecutable(
            x.ContractExecutableType.CONTRACT_EXECUTABLE_WASM, wasm_hash=x.Hash(b"\x01" * 32)
        ),
        x.SCMap([x.SCMapEntry(_sym("admin"), scval.to_address(ACCOUNT))]),
    )
    sac_instance = x.SCContractInstance(
        x.ContractExecutable(x.ContractExecutableType.CONTRACT_EXECUTABLE_STELLAR_ASSET), None
    )
    return [
        scval.to_bool(True),
        scval.to_void(),
        x.SCVal(
            x.SCValType.SCV_ERROR, error=x.SCError(x.SCErrorType.SCE_CONTRACT, contract_code=x.Uint32(7))
        ),
        x.SCVal(
            x.SCValType.SCV_ERROR,
            error=x.SCError(x.SCErrorType.SCE_BUDGET, code=x.SCErrorCode.SCEC_EXCEEDED_LIMIT),
        ),
        scval.to_uint32(2**32 - 1),
        scval.to_int32(-(2**31)),
        scval.to_uint64(2**64 - 1),
        scval.to_int64(-(2**63)),
        scval.to_timepoint(1781828452),
        scval.to_duration(3600),
        scval.to_uint128(2**128 - 1),
        scval.to_int128(-(2**127)),
        scval.to_int128(-1),
        scval.to_uint256(2**256 - 1),
        scval.to_int256(-(2**255) + 12345),
        scval.to_bytes(b"\x00\xff"),
        scval.to_string("héllo"),
        x.SCVal(x.SCValType.SCV_STRING, str=x.SCString(b"\xff\xfe not utf-8")),
        _sym("transfer"),
        scval.to_vec([_sym("Balance"), scval.to_address(ACCOUNT)]),
        x.SCVal(x.SCValType.SCV_VEC, vec=None),
        scval.to_map({_sym("amount"): scval.to_int128(5), _sym("to_muxed_id"): scval.to_uint64(9)}),
        scval.to_map({scval.to_uint32(1): _sym("one"), scval.to_address(CONTRACT): scval.to_bool(False)}),
        scval.to_address(ACCOUNT),
        scval.to_address(CONTRACT),
        x.SCVal(x.SCValType.SCV_ADDRESS, address=muxed),
        x.SCVal(x.SCValType.SCV_ADDRESS, address=balance),
        x.SCVal(x.SCValType.SCV_ADDRESS, address=pool),
        x.SCVal(x.SCValType.SCV_CONTRACT_INSTANCE, instance=instance),
        x.SCVal(x.SCValType.SCV_CONTRACT_INSTANCE, instance=sac_instance),
        x.SCVal(x.SCValType.SCV_LEDGER_KEY_CONTRACT_INSTANCE),
        x.SCVal(x.SCValType.SCV_LEDGER_KEY_NONCE, nonce_key=x.SCNonceKey(x.Int64(-5))),
    ]


@pytest.mark.parametrize("val", _all_kinds(), ids=lambda v: v.type.name)
def test_typed_json_round_trips_every_kind(val: x.SCVal) -> None:
    value = ScValue(val)
    rebuilt = _roundtrip(value)
    assert rebuilt.xdr == val.to_xdr_bytes()
    assert rebuilt == value and hash(rebuilt) == hash(value)
    json.dumps(value.to_json())  # the friendly form is plain JSON


def test_friendly_json() -> None:
    assert ScValue(scval.to_int128(-(2**127))).to_json() == str(-(2**127))
    assert ScValue(scval.to_uint64(2**64 - 1)).to_json() == "18446744073709551615"
    assert ScValue(scval.to_uint32(7)).to_json() == 7
    assert ScValue(scval.to_void()).to_json() is None
    assert ScValue(scval.to_bytes(b"\x00\xff")).to_json() == "00ff"
    assert ScValue(scval.to_timepoint(12)).to_json() == "12"
    data = scval.to_map({_sym("amount"): scval.to_int128(5), _sym("to_muxed_id"): scval.to_uint64(9)})
    assert ScValue(data).to_json() == {"amount": "5", "to_muxed_id": "9"}
    key = scval.to_vec([_sym("Balance"), scval.to_address(CONTRACT)])
    assert ScValue(key).to_json() == ["Balance", CONTRACT]
    odd_keys = x.SCVal(
        x.SCValType.SCV_MAP,
        map=x.SCMap(
            [
                x.SCMapEntry(scval.to_uint32(1), _sym("one")),
                x.SCMapEntry(scval.to_vec([_sym("a")]), scval.to_bool(True)),
            ]
        ),
    )
    assert ScValue(odd_keys).to_json() == {"1": "one", '["a"]': True}


def test_typed_json_shape() -> None:
    data = scval.to_map({_sym("amount"): scval.to_int128(5)})
    assert ScValue(data).to_typed_json() == {"map": [{"key": {"symbol": "amount"}, "val": {"i128": "5"}}]}
    assert ScValue(scval.to_void()).to_typed_json() == {"void": None}
    bad = x.SCVal(x.SCValType.SCV_STRING, str=x.SCString(b"\xff"))
    assert ScValue(bad).to_typed_json() == {"string": {"hex": "ff"}}


def test_accessors() -> None:
    assert ScValue(_sym("fee")).symbol == "fee"
    assert ScValue(scval.to_string("x")).string == "x" and ScValue(scval.to_string("x")).symbol is None
    assert ScValue(scval.to_address(ACCOUNT)).address == ACCOUNT
    for val, expected in [
        (scval.to_int128(-(2**100)), -(2**100)),
        (scval.to_uint256(2**200), 2**200),
        (scval.to_int256(-3), -3),
        (scval.to_uint32(3), 3),
        (scval.to_int64(-3), -3),
    ]:
        assert ScValue(val).int == expected
    assert ScValue(scval.to_bool(True)).int is None and ScValue(scval.to_bool(True)).bool is True
    entries = [
        x.SCMapEntry(_sym("amount"), scval.to_int128(5)),
        x.SCMapEntry(scval.to_string("to"), _sym("z")),
    ]
    data = ScValue(x.SCVal(x.SCValType.SCV_MAP, map=x.SCMap(entries)))
    amount = data.map_get("amount")
    assert amount is not None and amount.int == 5
    to = data.map_get("to")
    assert to is not None and to.symbol == "z"
    assert data.map_get("missing") is None and ScValue(_sym("a")).map_get("a") is None
    items = data.map_items()
    assert items is not None and [k.symbol or k.string for k, _ in items] == ["amount", "to"]
    vec = ScValue(scval.to_vec([_sym("a"), _sym("b")])).vec
    assert vec is not None and [v.symbol for v in vec] == ["a", "b"]
    assert ScValue(scval.to_void()).is_void and ScValue(scval.to_bytes(b"\x01")).bytes == b"\x01"
    assert ScValue(_sym("a")).type == "symbol" and ScValue(scval.to_int128(1)).type == "i128"


def test_xdr_b64_and_parsing() -> None:
    value = ScValue(scval.to_int128(42))
    assert scval_from_xdr_b64(value.xdr_b64) == value
    assert "i128" in repr(value)


@pytest.mark.parametrize("bad", [5, {"i128": "1", "u32": 2}, {"nope": 1}, ["symbol", "a"]])
def test_scval_from_json_rejects_untyped_input(bad: object) -> None:
    with pytest.raises(ValueError):
        scval_from_json(bad)


def test_address_helpers_agree_with_stellar_sdk() -> None:
    for val in _all_kinds():
        if val.type is x.SCValType.SCV_ADDRESS:  # G, C, M, B and L addresses
            assert ScValue(val).address == Address.from_xdr_sc_address(val.address).address
    for strkey in (ACCOUNT, CONTRACT):
        expected = x.SCVal(x.SCValType.SCV_ADDRESS, address=Address(strkey).to_xdr_sc_address())
        assert scval_from_json({"address": strkey}).xdr == expected.to_xdr_bytes()


_READS = ("type", "symbol", "string", "address", "int", "bool", "bytes", "is_void", "vec")


def _reads(value: ScValue) -> list[tuple[str, object]]:
    """Every accessor's answer (with its type) or the class of what it raised."""
    out: list[tuple[str, object]] = []
    calls = [*((name, lambda n=name: getattr(value, n)) for name in _READS)]
    calls += [("map_items", value.map_items), ("map_get", lambda: value.map_get("amount"))]
    calls += [("to_json", value.to_json)]
    for name, call in calls:
        try:
            answer = call()
        except Exception as exc:  # the same error class either way is what is compared
            out.append((name, type(exc)))
        else:
            out.append((name, (type(answer), answer)))
    return out


def _sdk_read(data: bytes) -> ScValue:
    value = ScValue.from_xdr_bytes(data)
    value._scalar = None  # stellar-sdk's reading only
    return value


def _damaged(data: bytes) -> list[bytes]:
    """`data` cut, extended, with its padding or a length word changed, a bool of 2, a symbol of 33 bytes."""
    out = [data[:-1], data[:3], data + b"\x00" * 4, data + b"\x01"]
    if len(data) >= 8:
        out.append(data[:4] + b"\x00\x00\x00\x02" + data[8:])
        out.append(data[:4] + ((int.from_bytes(data[4:8], "big") + 1) % 2**32).to_bytes(4, "big") + data[8:])
        out.append(data[:-1] + b"\x01")
    out.append(scval.to_symbol("s" * 32).to_xdr_bytes())
    out.append(b"\x00\x00\x00\x0f\x00\x00\x00\x21" + b"s" * 33 + b"\x00" * 3)  # a 33-byte symbol
    return out


def _map(*pairs: tuple[x.SCVal, x.SCVal]) -> x.SCVal:
    return x.SCVal(x.SCValType.SCV_MAP, map=x.SCMap([x.SCMapEntry(key, val) for key, val in pairs]))


def _instance(storage: x.SCVal) -> x.SCVal:
    wasm = x.ContractExecutable(
        x.ContractExecutableType.CONTRACT_EXECUTABLE_WASM, wasm_hash=x.Hash(b"\x05" * 32)
    )
    return x.SCVal(x.SCValType.SCV_CONTRACT_INSTANCE, instance=x.SCContractInstance(wasm, storage.map))


def _nested(depth: int) -> x.SCVal:
    return _sym("bottom") if depth == 0 else scval.to_vec([_nested(depth - 1)])


def _composites() -> list[x.SCVal]:
    """Vectors and maps holding every kind read from bytes, nested; and some holding what is not (an error, a
    nonce key), or nested past `_DEPTH_LIMIT`; contract instances whose storage holds either."""
    kinds = {val.type: val for val in _all_kinds()}
    addresses = [val for val in _all_kinds() if val.type is x.SCValType.SCV_ADDRESS]
    absent_vec = x.SCVal(x.SCValType.SCV_VEC, vec=None)
    absent_map = x.SCVal(x.SCValType.SCV_MAP, map=None)
    inner = _map(
        (_sym("amount"), scval.to_int128(-7)),
        (scval.to_vec([_sym("a")]), scval.to_bytes(b"\x01\x02\x03")),
        (x.SCVal(x.SCValType.SCV_STRING, str=x.SCString(b"\xff key")), absent_map),
        (scval.to_bool(False), x.SCVal(x.SCValType.SCV_LEDGER_KEY_CONTRACT_INSTANCE)),
    )
    return [
        scval.to_vec(
            [
                inner,
                scval.to_vec([]),
                absent_vec,
                scval.to_timepoint(5),
                scval.to_duration(2**64 - 1),
                scval.to_uint256(2**255 + 3),
                scval.to_int256(-1),
                scval.to_string("héllo"),
                scval.to_bool(True),
                scval.to_void(),
                *addresses,
            ]
        ),
        _map((_sym("k"), absent_vec), (scval.to_uint32(3), scval.to_vec(addresses))),
        _map(),
        scval.to_vec([_sym("ok"), kinds[x.SCValType.SCV_ERROR]]),
        _map((_sym("instance"), kinds[x.SCValType.SCV_CONTRACT_INSTANCE])),
        _instance(
            _map((_sym("METADATA"), inner), (scval.to_vec([_sym("Admin")]), scval.to_address(CONTRACT)))
        ),
        _instance(_map((_sym("bad"), kinds[x.SCValType.SCV_ERROR]))),
        _instance(_map()),
        _nested(_DEPTH_LIMIT - 1),
        _nested(_DEPTH_LIMIT + 1),
    ]


@pytest.mark.parametrize("val", _all_kinds() + _composites(), ids=lambda v: v.type.name)
def test_values_read_from_bytes_agree_with_stellar_sdk(val: x.SCVal) -> None:
    # Values the fast decoder hands out are read straight from their XDR (`_scalar_of`): every accessor gives what
    # stellar-sdk's decoding gives, on the canonical bytes and on damaged ones (same value or same error).
    data = val.to_xdr_bytes()
    assert _reads(ScValue.from_xdr_bytes(data)) == _reads(ScValue(val))
    for bad in _damaged(data):
        assert _reads(ScValue.from_xdr_bytes(bad)) == _reads(_sdk_read(bad)), bad.hex()


def _damaged_inside() -> list[bytes]:
    """Composites whose damage is inside: an element's bool of 2, an element's non-zero padding, a count past
    the elements, an optional's flag of 2 in an element, a 33-byte symbol as a map key."""
    pair = scval.to_vec([_sym("a"), scval.to_bool(True)]).to_xdr_bytes()
    padded = scval.to_vec([_sym("abc"), scval.to_uint32(1)]).to_xdr_bytes()
    inner_vec = scval.to_vec([scval.to_vec([_sym("a")])]).to_xdr_bytes()
    long_key = b"\x00\x00\x00\x0f\x00\x00\x00\x21" + b"s" * 33 + b"\x00" * 3
    return [
        pair[:-1] + b"\x02",
        padded[:23] + b"\x01" + padded[24:],  # the symbol "abc"'s padding byte
        pair[:8] + b"\x00\x00\x00\x03" + pair[12:],
        inner_vec[:16] + b"\x00\x00\x00\x02" + inner_vec[20:],
        b"\x00\x00\x00\x11\x00\x00\x00\x01\x00\x00\x00\x01" + long_key + scval.to_uint32(1).to_xdr_bytes(),
    ]


@pytest.mark.parametrize("bad", _damaged_inside(), ids=lambda b: b.hex()[:24])
def test_composites_damaged_inside_fail_as_stellar_sdk_does(bad: bytes) -> None:
    assert _reads(ScValue.from_xdr_bytes(bad)) == _reads(_sdk_read(bad))


def _walk(value: ScValue) -> list[ScValue]:
    """`value` and every value inside it (read through the accessors)."""
    inner = list(value.vec or ()) + [part for pair in value.map_items() or () for part in pair]
    return [value, *(found for item in inner for found in _walk(item))]


_LEFT_TO_SDK = {x.SCValType.SCV_ERROR, x.SCValType.SCV_LEDGER_KEY_NONCE}


def _read_from_bytes(val: x.SCVal, depth: int = 0) -> bool:
    """Whether `val` is of the kinds read from bytes, and so is everything inside it, within the depth limit."""
    if val.type in _LEFT_TO_SDK or depth >= _DEPTH_LIMIT:
        return False
    inner = list(val.vec.sc_vec) if val.type is x.SCValType.SCV_VEC and val.vec is not None else []
    if val.type is x.SCValType.SCV_MAP and val.map is not None:
        inner = [part for entry in val.map.sc_map for part in (entry.key, entry.val)]
    if val.type is x.SCValType.SCV_CONTRACT_INSTANCE and val.instance.storage is not None:
        inner = [part for entry in val.instance.storage.sc_map for part in (entry.key, entry.val)]
    return all(_read_from_bytes(item, depth + 1) for item in inner)


@pytest.mark.parametrize("val", _all_kinds() + _composites(), ids=lambda v: v.type.name)
def test_which_values_stellar_sdk_decodes(val: x.SCVal) -> None:
    # Only errors and nonce keys (and values holding one, or nested too deep) are decoded
    # by stellar-sdk; every other value is read from its bytes, the values inside it too (issue 16).
    value = ScValue.from_xdr_bytes(val.to_xdr_bytes())
    parts = _walk(value)
    _reads(value)
    assert all(part._decoded is None for part in parts) is _read_from_bytes(val)
