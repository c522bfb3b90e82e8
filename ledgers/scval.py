# mypy: disable-error-code="union-attr,arg-type"
# (stellar-sdk types every XDR union arm as Optional; the discriminant checked beside each access guarantees it.)
"""Soroban values (``SCVal``): the `ScValue` wrapper, its two JSON forms, and the inverse `scval_from_json`.

Two JSON forms, because one form cannot be both pleasant and exact:

* `ScValue.to_json` is the friendly form stored in ``topics``/``data`` columns and served by the APIs
  (REFERENCE §4): 64- to 256-bit integers, timepoints and durations as decimal strings (JSON numbers lose
  precision past 2^53), ``u32``/``i32`` as numbers, ``bool``, ``void`` → ``null``, addresses as strkeys
  (``G…``, ``C…``, ``M…``, ``B…``, ``L…``), symbols and strings as strings, bytes as lowercase hex, vectors as
  lists. **Maps are JSON objects**: Soroban structs and the Stellar Asset Contract's ``{amount, to_muxed_id}``
  are symbol-keyed maps, and an object lets a consumer write ``data.amount`` or filter on ``data->>'amount'``
  in SQL, which a list of pairs would not. Non-string keys are written as their own friendly JSON (a strkey
  or decimal string as is, anything else as compact JSON text). The friendly form is therefore lossy (the type
  of a number, the kind of a key), which is why exact round trips use the second form.
* `ScValue.to_typed_json` tags every value with its type — ``{"i128": "-5"}``, ``{"symbol": "transfer"}``,
  ``{"map": [{"key": …, "val": …}]}`` — in the spirit of stellar-xdr's JSON. `scval_from_json` reads this
  form back into byte-identical XDR (tested on every event topic and data value of the corpus). Strings that
  are not UTF-8 are written ``{"string": {"hex": …}}`` so that they round-trip too.

`ScValue` also offers direct accessors (`symbol`, `address`, `int`, `string`, `map_get` …) so that processors
do not build JSON to read one field.
"""

from __future__ import annotations

import base64
import builtins
import json
import struct
from typing import Any, Literal

from stellar_sdk import xdr as x

from ledgers import xdrconv

__all__ = ["ScValue", "scval_from_json", "scval_from_xdr_b64"]

T = x.SCValType
_U64 = (1 << 64) - 1

_TYPE_NAMES = {member: member.name[4:].lower() for member in T}  # SCV_I128 → "i128"
_TYPES_BY_NAME = {name: member for member, name in _TYPE_NAMES.items()}
_INT_TYPES = frozenset(
    {T.SCV_U32, T.SCV_I32, T.SCV_U64, T.SCV_I64, T.SCV_U128, T.SCV_I128, T.SCV_U256, T.SCV_I256}
)
_ERROR_TYPES = {member: member.name[4:].lower() for member in x.SCErrorType}  # SCE_CONTRACT → "contract"
_ERROR_TYPES_BY_NAME = {name: member for member, name in _ERROR_TYPES.items()}
_ERROR_CODES = {
    member: member.name[5:].lower() for member in x.SCErrorCode
}  # SCEC_ARITH_DOMAIN → "arith_domain"
_ERROR_CODES_BY_NAME = {name: member for member, name in _ERROR_CODES.items()}


class ScValue:
    """One Soroban value, immutable. Wraps the decoded XDR; JSON and XDR renderings are computed on demand.

    Equality and hashing follow the XDR encoding, so two values are equal exactly when their XDR is.
    """

    __slots__ = ("_decoded", "_scalar", "_xdr")

    def __init__(self, val: x.SCVal) -> None:
        self._decoded: x.SCVal | None = val
        self._xdr: bytes | None = None
        # The scalar read from `_xdr` (see `_scalar_of`): False until first asked, None when not a canonical
        # scalar (or no bytes were given: then stellar-sdk's value is at hand anyway).
        self._scalar: tuple[x.SCValType, Any] | Literal[False] | None = None

    @classmethod
    def from_xdr_bytes(cls, data: builtins.bytes) -> ScValue:
        """A value from its XDR, decoded by stellar-sdk only when something other than its XDR is asked (the
        fast decoder hands out event topics and contract data this way)."""
        value = cls.__new__(cls)
        value._decoded = None
        value._xdr = data
        value._scalar = False
        return value

    def _read_scalar(self) -> tuple[x.SCValType, Any] | None:
        scalar = self._scalar
        if scalar is False:
            scalar = self._scalar = _scalar_of(self._xdr)  # False only with bytes
        return scalar

    @property
    def _val(self) -> x.SCVal:
        decoded = self._decoded
        if decoded is None:
            decoded = self._decoded = x.SCVal.from_xdr_bytes(self._xdr)
        return decoded

    # -- identity ---------------------------------------------------------------------------------------------
    @property
    def type(self) -> str:
        """The value's type, lowercase without prefix: ``i128``, ``symbol``, ``map``, ``address`` …"""
        scalar = self._read_scalar()
        return _TYPE_NAMES[self._val.type if scalar is None else scalar[0]]

    @property
    def xdr(self) -> builtins.bytes:
        """The XDR encoding of this ``SCVal``."""
        if self._xdr is None:
            self._xdr = self._val.to_xdr_bytes()
        return self._xdr

    @property
    def has_xdr(self) -> builtins.bool:
        """Whether the XDR bytes are at hand (the value was read from them, or `xdr` encoded them once), so that
        `xdr` and `xdr_b64` cost no re-encoding."""
        return self._xdr is not None

    @property
    def xdr_b64(self) -> str:
        """The base64 XDR of this ``SCVal`` (the ``*_xdr`` columns)."""
        return base64.b64encode(self.xdr).decode("ascii")

    def __eq__(self, other: object) -> builtins.bool:
        return isinstance(other, ScValue) and self.xdr == other.xdr

    def __hash__(self) -> builtins.int:
        return hash(self.xdr)

    def __repr__(self) -> str:
        text = json.dumps(self.to_typed_json(), separators=(",", ":"))
        return f"ScValue({text if len(text) <= 120 else text[:117] + '...'})"

    # -- fast accessors -----------------------------------------------------------------------------------------
    @property
    def symbol(self) -> str | None:
        """The symbol, if this is a symbol."""
        scalar = self._read_scalar()
        if scalar is not None:
            return scalar[1] if scalar[0] is T.SCV_SYMBOL else None
        val = self._val
        return val.sym.sc_symbol.decode("utf-8", "replace") if val.type is T.SCV_SYMBOL else None

    @property
    def string(self) -> str | None:
        """The string (invalid UTF-8 replaced), if this is a string."""
        scalar = self._read_scalar()
        if scalar is not None:
            return scalar[1] if scalar[0] is T.SCV_STRING else None
        val = self._val
        return val.str.sc_string.decode("utf-8", "replace") if val.type is T.SCV_STRING else None

    @property
    def address(self) -> str | None:
        """The strkey (``G…``, ``C…``, ``M…``, ``B…``, ``L…``), if this is an address."""
        scalar = self._read_scalar()
        if scalar is not None:
            return scalar[1] if scalar[0] is T.SCV_ADDRESS else None
        val = self._val
        return xdrconv.sc_address(val.address) if val.type is T.SCV_ADDRESS else None

    @property
    def int(self) -> builtins.int | None:
        """The integer, for every integer type (``u32`` … ``i256``); None otherwise (bool is not an integer)."""
        scalar = self._read_scalar()
        if scalar is not None:
            return scalar[1] if scalar[0] in _INT_TYPES else None
        val = self._val
        return _int_of(val) if val.type in _INT_TYPES else None

    @property
    def bool(self) -> builtins.bool | None:
        """The boolean, if this is a bool."""
        scalar = self._read_scalar()
        if scalar is not None:
            return scalar[1] if scalar[0] is T.SCV_BOOL else None
        val = self._val
        return val.b if val.type is T.SCV_BOOL else None

    @property
    def bytes(self) -> builtins.bytes | None:
        """The raw bytes, if this is a bytes value."""
        scalar = self._read_scalar()
        if scalar is not None:
            return scalar[1] if scalar[0] is T.SCV_BYTES else None
        val = self._val
        return val.bytes.sc_bytes if val.type is T.SCV_BYTES else None

    @property
    def is_void(self) -> builtins.bool:
        scalar = self._read_scalar()
        return (self._val.type if scalar is None else scalar[0]) is T.SCV_VOID

    @property
    def vec(self) -> tuple[ScValue, ...] | None:
        """The elements, if this is a (present) vector."""
        scalar = self._read_scalar()
        if scalar is not None:
            return scalar[1] if scalar[0] is T.SCV_VEC else None
        val = self._val
        if val.type is not T.SCV_VEC or val.vec is None:
            return None
        return tuple(ScValue(item) for item in val.vec.sc_vec)

    def map_items(self) -> tuple[tuple[ScValue, ScValue], ...] | None:
        """The ``(key, value)`` pairs in stored order, if this is a (present) map."""
        scalar = self._read_scalar()
        if scalar is not None:
            return scalar[1] if scalar[0] is T.SCV_MAP else None
        val = self._val
        if val.type is not T.SCV_MAP or val.map is None:
            return None
        return tuple((ScValue(entry.key), ScValue(entry.val)) for entry in val.map.sc_map)

    def map_get(self, key: str) -> ScValue | None:
        """The value under symbol (or string) `key`, if this is a map holding it."""
        scalar = self._read_scalar()
        if scalar is not None:
            if scalar[0] is not T.SCV_MAP or scalar[1] is None:
                return None
            for entry_key, entry_value in scalar[1]:
                found = entry_key._scalar  # read with the map: a symbol's or string's text, or another kind
                if found[0] in _TEXT_TYPES and found[1] == key:
                    return entry_value
            return None
        val = self._val
        if val.type is not T.SCV_MAP or val.map is None:
            return None
        for entry in val.map.sc_map:
            k = entry.key
            if k.type is T.SCV_SYMBOL:
                if k.sym.sc_symbol.decode("utf-8", "replace") == key:
                    return ScValue(entry.val)
            elif k.type is T.SCV_STRING and k.str.sc_string.decode("utf-8", "replace") == key:
                return ScValue(entry.val)
        return None

    # -- JSON -------------------------------------------------------------------------------------------------
    def to_json(self) -> Any:
        """The friendly JSON form (see the module docstring)."""
        scalar = self._read_scalar()
        if scalar is None:
            return _friendly(self._val)
        kind, value = scalar
        if kind not in _CONVERTED_JSON:
            return value
        if kind is T.SCV_VEC:
            return None if value is None else [item.to_json() for item in value]
        if kind is T.SCV_MAP:
            return None if value is None else _friendly_pairs(value)
        if kind is T.SCV_BYTES:
            return value.hex()
        if kind is T.SCV_LEDGER_KEY_CONTRACT_INSTANCE:
            return "ledger_key_contract_instance"
        if kind is T.SCV_CONTRACT_INSTANCE:
            wasm, storage = value
            return {
                "executable": {"stellar_asset": None} if wasm is None else {"wasm": wasm.hex()},
                "storage": None if storage is None else _friendly_pairs(storage),
            }
        return str(value)  # 64- to 256-bit integers, timepoints, durations

    def to_typed_json(self) -> Any:
        """The tagged JSON form that `scval_from_json` turns back into identical XDR."""
        return _typed(self._val)

    @classmethod
    def from_xdr_b64(cls, value: str) -> ScValue:
        return cls(x.SCVal.from_xdr(value))


def scval_from_xdr_b64(value: str) -> ScValue:
    """The `ScValue` of a base64 ``SCVal``."""
    return ScValue.from_xdr_b64(value)


# -- values read from their XDR -------------------------------------------------------------------------------
# The values events and contract data carry (symbols, strings, addresses of every kind, integers, booleans,
# void, bytes, timepoints and durations, vectors and maps of those, contract instances with a Wasm or the Stellar
# Asset Contract as executable) are read here straight from the bytes the fast decoder hands out, instead of by
# stellar-sdk (~47 us a value, the largest cost left in extraction, issue 16). Only the canonical encoding is read
# (the value's bytes exactly, zero padding, a bool of 0 or 1, an optional's flag of 0 or 1, a symbol within its
# 32-byte limit), and a vector, map or instance only when every value inside it is one of those kinds: anything
# else returns None and the whole value goes to stellar-sdk as before, so both give the same value or error.
# Errors and nonce keys are left to stellar-sdk (rare).
_WIDE_INT_TYPES = _INT_TYPES - {T.SCV_U32, T.SCV_I32}
_TYPE_OF = {member.value: member for member in T}
_U32 = struct.Struct(">I")
_I32 = struct.Struct(">i")
_U64S = struct.Struct(">Q")
_I64S = struct.Struct(">q")
_U64_PAIR = struct.Struct(">QQ")
_I64_U64 = struct.Struct(">qQ")
_U64_QUAD = struct.Struct(">QQQQ")
_I64_U64_3 = struct.Struct(">qQQQ")
_SYMBOL_LIMIT = 32
_DEPTH_LIMIT = 16  # deeper values (none seen on mainnet) go to stellar-sdk
_ACCOUNT_ADDRESS = b"\x00\x00\x00\x00" * 2  # SC_ADDRESS_TYPE_ACCOUNT, PUBLIC_KEY_TYPE_ED25519
_CONTRACT_ADDRESS = b"\x00\x00\x00\x01"  # SC_ADDRESS_TYPE_CONTRACT
_MUXED_ADDRESS = b"\x00\x00\x00\x02"  # SC_ADDRESS_TYPE_MUXED_ACCOUNT: uint64 id, then the ed25519 key
_BALANCE_ADDRESS = b"\x00\x00\x00\x03\x00\x00\x00\x00"  # SC_ADDRESS_TYPE_CLAIMABLE_BALANCE, V0 id
_POOL_ADDRESS = b"\x00\x00\x00\x04"  # SC_ADDRESS_TYPE_LIQUIDITY_POOL
_TEXT_TYPES = frozenset({T.SCV_SYMBOL, T.SCV_STRING})
_WASM = x.ContractExecutableType.CONTRACT_EXECUTABLE_WASM.value
_STELLAR_ASSET = x.ContractExecutableType.CONTRACT_EXECUTABLE_STELLAR_ASSET.value
# Kinds whose friendly JSON is not the value read as it is (see `ScValue.to_json`).
_CONVERTED_JSON = _WIDE_INT_TYPES | {
    T.SCV_TIMEPOINT,
    T.SCV_DURATION,
    T.SCV_BYTES,
    T.SCV_VEC,
    T.SCV_MAP,
    T.SCV_LEDGER_KEY_CONTRACT_INSTANCE,
    T.SCV_CONTRACT_INSTANCE,
}


def _scalar_of(data: bytes) -> tuple[x.SCValType, Any] | None:
    """``(type, value)`` of a canonical `data` of a kind read here (see above): the text of a symbol or string
    (invalid UTF-8 replaced), the strkey of an address, the int of an integer, timepoint or duration, the bool,
    the bytes, None for void and the instance key, the elements of a vector (`ScValue`, None when absent), the
    ``(key, value)`` pairs of a map, ``(wasm hash or None, storage pairs or None)`` of an instance; else None."""
    node = _node_at(data, 0, 0)
    if node is None or node[2] != len(data):
        return None
    return node[0], node[1]


def _node_at(data: bytes, o: int, depth: int) -> tuple[x.SCValType, Any, int] | None:
    """``(type, value, end)`` of the canonical value at offset `o` of `data`, or None (see `_scalar_of`)."""
    size = len(data)
    if size - o < 4:
        return None
    kind = _TYPE_OF.get(_I32.unpack_from(data, o)[0])
    if kind is None:
        return None
    if kind in _TEXT_TYPES or kind is T.SCV_BYTES:
        if size - o < 8:
            return None
        length = _U32.unpack_from(data, o + 4)[0]
        start = o + 8
        end = start + length
        padded = start + (length + 3) // 4 * 4
        if (kind is T.SCV_SYMBOL and length > _SYMBOL_LIMIT) or padded > size:
            return None
        if data[end:padded] != b"\x00" * (padded - end):
            return None
        if kind is T.SCV_BYTES:
            return kind, data[start:end], padded
        return kind, data[start:end].decode("utf-8", "replace"), padded
    if kind is T.SCV_ADDRESS:
        head = data[o + 4 : o + 8]
        if data[o + 4 : o + 12] == _ACCOUNT_ADDRESS and size - o >= 44:
            return kind, xdrconv.account_strkey(data[o + 12 : o + 44]), o + 44
        if head == _CONTRACT_ADDRESS and size - o >= 40:
            return kind, xdrconv.contract_strkey(data[o + 8 : o + 40]), o + 40
        if head == _MUXED_ADDRESS and size - o >= 48:
            return (
                kind,
                xdrconv.muxed_strkey(data[o + 16 : o + 48], _U64S.unpack_from(data, o + 8)[0]),
                o + 48,
            )
        if data[o + 4 : o + 12] == _BALANCE_ADDRESS and size - o >= 44:
            return kind, xdrconv.balance_strkey(data[o + 12 : o + 44]), o + 44
        if head == _POOL_ADDRESS and size - o >= 40:
            return kind, xdrconv.pool_strkey(data[o + 8 : o + 40]), o + 40
        return None
    if kind is T.SCV_VEC or kind is T.SCV_MAP:
        return _composite_at(data, o, depth, kind)
    if kind is T.SCV_CONTRACT_INSTANCE:
        return _instance_at(data, o, depth)
    fixed = _FIXED_SIZES.get(kind, 0)
    if not fixed or o + fixed > size:
        return None
    end = o + fixed
    if kind is T.SCV_U32:
        return kind, _U32.unpack_from(data, o + 4)[0], end
    if kind is T.SCV_I32:
        return kind, _I32.unpack_from(data, o + 4)[0], end
    if kind is T.SCV_U64 or kind is T.SCV_TIMEPOINT or kind is T.SCV_DURATION:
        return kind, _U64S.unpack_from(data, o + 4)[0], end
    if kind is T.SCV_I64:
        return kind, _I64S.unpack_from(data, o + 4)[0], end
    if kind is T.SCV_U128:
        hi, lo = _U64_PAIR.unpack_from(data, o + 4)
        return kind, (hi << 64) | lo, end
    if kind is T.SCV_I128:
        hi, lo = _I64_U64.unpack_from(data, o + 4)
        return kind, (hi << 64) | lo, end
    if kind is T.SCV_U256 or kind is T.SCV_I256:
        hh, hl, lh, ll = (_U64_QUAD if kind is T.SCV_U256 else _I64_U64_3).unpack_from(data, o + 4)
        return kind, (hh << 192) | (hl << 128) | (lh << 64) | ll, end
    if kind is T.SCV_BOOL:
        flag = _U32.unpack_from(data, o + 4)[0]
        return (kind, flag == 1, end) if flag <= 1 else None
    return kind, None, end  # void and the contract instance key: no body


# Kinds of a fixed size read by `_node_at` (discriminant included); a kind missing here and not read above goes
# to stellar-sdk.
_FIXED_SIZES = {
    T.SCV_U32: 8,
    T.SCV_I32: 8,
    T.SCV_U64: 12,
    T.SCV_I64: 12,
    T.SCV_TIMEPOINT: 12,
    T.SCV_DURATION: 12,
    T.SCV_U128: 20,
    T.SCV_I128: 20,
    T.SCV_U256: 36,
    T.SCV_I256: 36,
    T.SCV_BOOL: 8,
    T.SCV_VOID: 4,
    T.SCV_LEDGER_KEY_CONTRACT_INSTANCE: 4,
}


def _composite_at(data: bytes, o: int, depth: int, kind: x.SCValType) -> tuple[x.SCValType, Any, int] | None:
    """A vector's elements or a map's pairs as `ScValue`s read from their own bytes (see `_scalar_of`)."""
    found = _optional_items(data, o + 4, depth, kind is T.SCV_MAP)
    return None if found is None else (kind, found[0], found[1])


def _instance_at(data: bytes, o: int, depth: int) -> tuple[x.SCValType, Any, int] | None:
    """A contract instance: ``(wasm hash or None for the Stellar Asset Contract, storage pairs or None)``. Other
    executables (newer arms) go to stellar-sdk."""
    size = len(data)
    if size - o < 8:
        return None
    executable = _U32.unpack_from(data, o + 4)[0]
    if executable == _WASM and size - o >= 40:
        wasm: builtins.bytes | None = data[o + 8 : o + 40]
        o += 40
    elif executable == _STELLAR_ASSET:
        wasm = None
        o += 8
    else:
        return None
    found = _optional_items(data, o, depth, True)
    return None if found is None else (T.SCV_CONTRACT_INSTANCE, (wasm, found[0]), found[1])


def _optional_items(data: bytes, o: int, depth: int, pairs: builtins.bool) -> tuple[Any, int] | None:
    """``(items, end)`` of an optional ``SCVec`` or ``SCMap`` at `o` (its presence flag): None for an absent one,
    the elements, or the ``(key, value)`` pairs with `pairs`; None when something inside is not read here."""
    size = len(data)
    if size - o < 4 or depth >= _DEPTH_LIMIT:
        return None
    present = _U32.unpack_from(data, o)[0]
    if present == 0:
        return None, o + 4
    if present != 1 or size - o < 8:
        return None
    count = _U32.unpack_from(data, o + 4)[0]
    o += 8
    items: list[ScValue] = []
    for _ in range(2 * count if pairs else count):
        node = _node_at(data, o, depth + 1)
        if node is None:
            return None
        value = ScValue.__new__(ScValue)
        value._decoded = None
        value._xdr = data[o : node[2]]
        value._scalar = node[0], node[1]
        items.append(value)
        o = node[2]
    if not pairs:
        return tuple(items), o
    both = iter(items)
    return tuple(zip(both, both, strict=True)), o


# -- integers -------------------------------------------------------------------------------------------------
def _int_of(val: x.SCVal) -> int:
    kind = val.type
    if kind is T.SCV_U32:
        return int(val.u32.uint32)
    if kind is T.SCV_I32:
        return int(val.i32.int32)
    if kind is T.SCV_U64:
        return int(val.u64.uint64)
    if kind is T.SCV_I64:
        return int(val.i64.int64)
    if kind is T.SCV_U128:
        return (val.u128.hi.uint64 << 64) | val.u128.lo.uint64
    if kind is T.SCV_I128:
        return (val.i128.hi.int64 << 64) | val.i128.lo.uint64  # hi is signed: the shift keeps the sign
    if kind is T.SCV_U256:
        u = val.u256
        return (u.hi_hi.uint64 << 192) | (u.hi_lo.uint64 << 128) | (u.lo_hi.uint64 << 64) | u.lo_lo.uint64
    if kind is T.SCV_I256:
        i = val.i256
        return (i.hi_hi.int64 << 192) | (i.hi_lo.uint64 << 128) | (i.lo_hi.uint64 << 64) | i.lo_lo.uint64
    raise ValueError(f"not an integer: {kind.name}")


# -- friendly form --------------------------------------------------------------------------------------------
def _friendly(val: x.SCVal) -> Any:
    kind = val.type
    if kind is T.SCV_SYMBOL:
        return val.sym.sc_symbol.decode("utf-8", "replace")
    if kind is T.SCV_ADDRESS:
        return xdrconv.sc_address(val.address)
    if kind is T.SCV_U32 or kind is T.SCV_I32:
        return _int_of(val)
    if kind in _INT_TYPES:
        return str(_int_of(val))
    if kind is T.SCV_VEC:
        return None if val.vec is None else [_friendly(item) for item in val.vec.sc_vec]
    if kind is T.SCV_MAP:
        return None if val.map is None else _friendly_map(val.map.sc_map)
    if kind is T.SCV_STRING:
        return val.str.sc_string.decode("utf-8", "replace")
    if kind is T.SCV_BYTES:
        return val.bytes.sc_bytes.hex()
    if kind is T.SCV_BOOL:
        return val.b
    if kind is T.SCV_VOID:
        return None
    if kind is T.SCV_TIMEPOINT:
        return str(val.timepoint.time_point.uint64)
    if kind is T.SCV_DURATION:
        return str(val.duration.duration.uint64)
    if kind is T.SCV_ERROR:
        return _error_json(val.error)
    if kind is T.SCV_CONTRACT_INSTANCE:
        inst = val.instance
        storage = inst.storage
        return {
            "executable": _executable_json(inst.executable),
            "storage": None if storage is None else _friendly_map(storage.sc_map),
        }
    if kind is T.SCV_LEDGER_KEY_CONTRACT_INSTANCE:
        return "ledger_key_contract_instance"
    if kind is T.SCV_LEDGER_KEY_NONCE:
        return {"nonce": str(val.nonce_key.nonce.int64)}
    if kind is T.SCV_EXECUTABLE_TAG:
        return val.executable_tag.sc_string.decode("utf-8", "replace")
    raise ValueError(f"unknown SCVal type {kind!r}")


def _friendly_map(entries: list[x.SCMapEntry]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for entry in entries:
        key = _friendly(entry.key)
        if not isinstance(key, str):
            key = json.dumps(key, separators=(",", ":"), sort_keys=True)
        out[key] = _friendly(entry.val)
    return out


def _friendly_pairs(pairs: tuple[tuple[ScValue, ScValue], ...]) -> dict[str, Any]:
    """`_friendly_map` of pairs read from their bytes."""
    out: dict[str, Any] = {}
    for entry_key, entry_value in pairs:
        key = entry_key.to_json()
        if not isinstance(key, str):
            key = json.dumps(key, separators=(",", ":"), sort_keys=True)
        out[key] = entry_value.to_json()
    return out


def _error_json(error: x.SCError) -> dict[str, Any]:
    if error.type is x.SCErrorType.SCE_CONTRACT:
        return {"type": "contract", "code": int(error.contract_code.uint32)}
    code: Any = error.code
    return {"type": _ERROR_TYPES[error.type], "code": _ERROR_CODES[code]}


def _executable_json(executable: x.ContractExecutable) -> Any:
    if executable.type is x.ContractExecutableType.CONTRACT_EXECUTABLE_WASM:
        return {"wasm": executable.wasm_hash.hash.hex()}
    if executable.type is x.ContractExecutableType.CONTRACT_EXECUTABLE_STELLAR_ASSET:
        return {"stellar_asset": None}
    # Newer arms (external references) are kept exact as XDR rather than guessed at.
    return {"xdr": base64.b64encode(executable.to_xdr_bytes()).decode("ascii")}


# -- typed form -----------------------------------------------------------------------------------------------
def _typed(val: x.SCVal) -> dict[str, Any]:
    kind = val.type
    tag = _TYPE_NAMES[kind]
    if kind is T.SCV_U32 or kind is T.SCV_I32:
        return {tag: _int_of(val)}
    if kind in _INT_TYPES:
        return {tag: str(_int_of(val))}
    if kind is T.SCV_SYMBOL:
        return {tag: _text_or_hex(val.sym.sc_symbol)}
    if kind is T.SCV_STRING:
        return {tag: _text_or_hex(val.str.sc_string)}
    if kind is T.SCV_ADDRESS:
        return {tag: xdrconv.sc_address(val.address)}
    if kind is T.SCV_VEC:
        return {tag: None if val.vec is None else [_typed(item) for item in val.vec.sc_vec]}
    if kind is T.SCV_MAP:
        return {tag: None if val.map is None else _typed_map(val.map.sc_map)}
    if kind is T.SCV_BYTES:
        return {tag: val.bytes.sc_bytes.hex()}
    if kind is T.SCV_BOOL:
        return {tag: val.b}
    if kind is T.SCV_VOID or kind is T.SCV_LEDGER_KEY_CONTRACT_INSTANCE:
        return {tag: None}
    if kind is T.SCV_TIMEPOINT:
        return {tag: str(val.timepoint.time_point.uint64)}
    if kind is T.SCV_DURATION:
        return {tag: str(val.duration.duration.uint64)}
    if kind is T.SCV_ERROR:
        return {tag: _error_json(val.error)}
    if kind is T.SCV_CONTRACT_INSTANCE:
        inst = val.instance
        storage = inst.storage
        return {
            tag: {
                "executable": _executable_json(inst.executable),
                "storage": None if storage is None else _typed_map(storage.sc_map),
            }
        }
    if kind is T.SCV_LEDGER_KEY_NONCE:
        return {tag: str(val.nonce_key.nonce.int64)}
    if kind is T.SCV_EXECUTABLE_TAG:
        return {tag: _text_or_hex(val.executable_tag.sc_string)}
    raise ValueError(f"unknown SCVal type {kind!r}")


def _typed_map(entries: list[x.SCMapEntry]) -> list[dict[str, Any]]:
    return [{"key": _typed(entry.key), "val": _typed(entry.val)} for entry in entries]


def _text_or_hex(raw: bytes) -> Any:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return {"hex": raw.hex()}


def _bytes_of_text(value: Any) -> bytes:
    if isinstance(value, dict):
        return bytes.fromhex(value["hex"])
    return str(value).encode("utf-8")


# -- inverse ----------------------------------------------------------------------------------------------------
def scval_from_json(value: Any) -> ScValue:
    """Rebuild the `ScValue` of a typed JSON value (`ScValue.to_typed_json`), byte-identical in XDR.

    Raises `ValueError` (naming the offending tag) on anything that is not the typed form.
    """
    return ScValue(_from_typed(value))


def _from_typed(value: Any) -> x.SCVal:
    if not isinstance(value, dict) or len(value) != 1:
        raise ValueError(f"a typed SCVal is a one-key object like {{'i128': '5'}}, not {value!r}")
    ((tag, payload),) = value.items()
    kind = _TYPES_BY_NAME.get(tag)
    if kind is None:
        raise ValueError(f"unknown SCVal type tag {tag!r}")
    if kind is T.SCV_BOOL:
        return x.SCVal(kind, b=bool(payload))
    if kind is T.SCV_VOID or kind is T.SCV_LEDGER_KEY_CONTRACT_INSTANCE:
        return x.SCVal(kind)
    if kind is T.SCV_U32:
        return x.SCVal(kind, u32=x.Uint32(int(payload)))
    if kind is T.SCV_I32:
        return x.SCVal(kind, i32=x.Int32(int(payload)))
    if kind is T.SCV_U64:
        return x.SCVal(kind, u64=x.Uint64(int(payload)))
    if kind is T.SCV_I64:
        return x.SCVal(kind, i64=x.Int64(int(payload)))
    if kind is T.SCV_TIMEPOINT:
        return x.SCVal(kind, timepoint=x.TimePoint(x.Uint64(int(payload))))
    if kind is T.SCV_DURATION:
        return x.SCVal(kind, duration=x.Duration(x.Uint64(int(payload))))
    if kind is T.SCV_U128:
        n = int(payload)
        return x.SCVal(kind, u128=x.UInt128Parts(x.Uint64(n >> 64), x.Uint64(n & _U64)))
    if kind is T.SCV_I128:
        n = int(payload)
        return x.SCVal(kind, i128=x.Int128Parts(x.Int64(n >> 64), x.Uint64(n & _U64)))
    if kind is T.SCV_U256:
        n = int(payload)
        return x.SCVal(
            kind,
            u256=x.UInt256Parts(
                x.Uint64(n >> 192),
                x.Uint64((n >> 128) & _U64),
                x.Uint64((n >> 64) & _U64),
                x.Uint64(n & _U64),
            ),
        )
    if kind is T.SCV_I256:
        n = int(payload)
        return x.SCVal(
            kind,
            i256=x.Int256Parts(
                x.Int64(n >> 192), x.Uint64((n >> 128) & _U64), x.Uint64((n >> 64) & _U64), x.Uint64(n & _U64)
            ),
        )
    if kind is T.SCV_BYTES:
        return x.SCVal(kind, bytes=x.SCBytes(bytes.fromhex(payload)))
    if kind is T.SCV_STRING:
        return x.SCVal(kind, str=x.SCString(_bytes_of_text(payload)))
    if kind is T.SCV_SYMBOL:
        return x.SCVal(kind, sym=x.SCSymbol(_bytes_of_text(payload)))
    if kind is T.SCV_EXECUTABLE_TAG:
        return x.SCVal(kind, executable_tag=x.SCString(_bytes_of_text(payload)))
    if kind is T.SCV_VEC:
        return x.SCVal(
            kind, vec=None if payload is None else x.SCVec([_from_typed(item) for item in payload])
        )
    if kind is T.SCV_MAP:
        return x.SCVal(kind, map=None if payload is None else _map_from_typed(payload))
    if kind is T.SCV_ADDRESS:
        return x.SCVal(kind, address=xdrconv.sc_address_from_strkey(payload))
    if kind is T.SCV_ERROR:
        return x.SCVal(kind, error=_error_from_json(payload))
    if kind is T.SCV_CONTRACT_INSTANCE:
        storage = payload["storage"]
        return x.SCVal(
            kind,
            instance=x.SCContractInstance(
                _executable_from_json(payload["executable"]),
                None if storage is None else _map_from_typed(storage),
            ),
        )
    if kind is T.SCV_LEDGER_KEY_NONCE:
        return x.SCVal(kind, nonce_key=x.SCNonceKey(x.Int64(int(payload))))
    raise ValueError(f"unsupported SCVal type tag {tag!r}")


def _map_from_typed(entries: list[dict[str, Any]]) -> x.SCMap:
    return x.SCMap([x.SCMapEntry(_from_typed(entry["key"]), _from_typed(entry["val"])) for entry in entries])


def _error_from_json(payload: dict[str, Any]) -> x.SCError:
    kind = _ERROR_TYPES_BY_NAME[payload["type"]]
    if kind is x.SCErrorType.SCE_CONTRACT:
        return x.SCError(kind, contract_code=x.Uint32(int(payload["code"])))
    return x.SCError(kind, code=_ERROR_CODES_BY_NAME[payload["code"]])


def _executable_from_json(payload: dict[str, Any]) -> x.ContractExecutable:
    if "wasm" in payload:
        return x.ContractExecutable(
            x.ContractExecutableType.CONTRACT_EXECUTABLE_WASM,
            wasm_hash=x.Hash(bytes.fromhex(payload["wasm"])),
        )
    if "stellar_asset" in payload:
        return x.ContractExecutable(x.ContractExecutableType.CONTRACT_EXECUTABLE_STELLAR_ASSET)
    return x.ContractExecutable.from_xdr(payload["xdr"])
