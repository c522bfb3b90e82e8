"""Small constructors for stellar-sdk XDR values, so the sample builders read as data, not as wrapper soup.

stellar-sdk wraps every scalar (``Int64``, ``Uint32``, ``Hash`` …); these helpers take plain Python values.
"""

from __future__ import annotations

import hashlib
from decimal import Decimal

from stellar_sdk import Address, Asset, Keypair, StrKey, scval
from stellar_sdk import xdr as x

UNIT = 10_000_000  # stroops per XLM (and per unit of any classic asset)
MAX_INT64 = 2**63 - 1


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def i64(value: int) -> x.Int64:
    return x.Int64(value)


def u32(value: int) -> x.Uint32:
    return x.Uint32(value)


def u64(value: int) -> x.Uint64:
    return x.Uint64(value)


def hash32(value: bytes) -> x.Hash:
    return x.Hash(value)


def account_id(public_key: str) -> x.AccountID:
    return Keypair.from_public_key(public_key).xdr_account_id()


def muxed_account(public_key: str) -> x.MuxedAccount:
    return Keypair.from_public_key(public_key).xdr_muxed_account()


def contract_id_xdr(contract: str) -> x.ContractID:
    return x.ContractID(x.Hash(StrKey.decode_contract(contract)))


def sc_address(strkey: str) -> x.SCAddress:
    """``SCAddress`` of a ``G…``, ``C…`` or ``L…`` strkey."""
    return Address(strkey).to_xdr_sc_address()


def asset_xdr(asset: Asset) -> x.Asset:
    return asset.to_xdr_object()


def asset_string(asset: Asset) -> str:
    """SEP-11 form used in CAP-67 events: ``native`` or ``CODE:ISSUER``."""
    return "native" if asset.is_native() else f"{asset.code}:{asset.issuer}"


def amount_string(stroops: int) -> str:
    """Decimal string of a stroop amount, as stellar-sdk's operation builders take amounts."""
    return format(Decimal(stroops).scaleb(-7), "f")


# -- SCVal -------------------------------------------------------------------------------------------------------
def sym(value: str) -> x.SCVal:
    return scval.to_symbol(value)


def string(value: str) -> x.SCVal:
    return scval.to_string(value)


def i128(value: int) -> x.SCVal:
    return scval.to_int128(value)


def i128_value(value: x.SCVal) -> int:
    """The integer of an i128 ``SCVal``."""
    parts = value.i128
    if parts is None:
        raise ValueError(f"not an i128: {value}")
    return (parts.hi.int64 << 64) | parts.lo.uint64


def u32_val(value: int) -> x.SCVal:
    return scval.to_uint32(value)


def boolean(value: bool) -> x.SCVal:
    return scval.to_bool(value)


def address(strkey: str) -> x.SCVal:
    return scval.to_address(strkey)


def vec(*items: x.SCVal) -> x.SCVal:
    return scval.to_vec(list(items))


def symbol_map(items: dict[str, x.SCVal]) -> x.SCVal:
    """A map keyed by symbols, sorted as the host requires (maps are ordered by key)."""
    return x.SCVal(
        x.SCValType.SCV_MAP,
        map=x.SCMap([x.SCMapEntry(sym(key), items[key]) for key in sorted(items)]),
    )
