# mypy: disable-error-code="union-attr,arg-type"
# (stellar-sdk types every XDR union arm as Optional; the discriminant checked beside each access guarantees it.)
"""Small XDR values (keys, accounts, assets, ids) → the strings the view exposes.

Only `ledgers/` modules import this: it is the layer that knows stellar-sdk's XDR classes, so a faster decoder
can replace it without touching processors. Conversions here are called hundreds of thousands of times per
ledger, hence the caches on strkey encoding (a base32 + CRC16 per call otherwise) and enum identity checks.

Naming rules (the service's conventions, DESIGN "Ids, ordering, cursors, amounts"):
- accounts ``G…``; muxed accounts ``M…`` (kept beside the resolved ``G…``); contracts ``C…``;
- claimable balance ids ``B…`` and liquidity pool ids ``L…`` (stellar-sdk 16 encodes both as strkeys);
- assets ``native`` | ``CODE:ISSUER``; pool-share trustlines ``pool_share:L…`` (an account may hold several
  pool-share trustlines, so the marker carries the pool id to stay a unique key).
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from stellar_sdk import StrKey
from stellar_sdk import xdr as x

from ledgers import skippers

NATIVE = "native"
POOL_SHARE_PREFIX = "pool_share:"

_KEY_ED25519 = x.CryptoKeyType.KEY_TYPE_ED25519
_ASSET_NATIVE = x.AssetType.ASSET_TYPE_NATIVE
_ASSET_4 = x.AssetType.ASSET_TYPE_CREDIT_ALPHANUM4
_ASSET_12 = x.AssetType.ASSET_TYPE_CREDIT_ALPHANUM12
_ADDR_ACCOUNT = x.SCAddressType.SC_ADDRESS_TYPE_ACCOUNT
_ADDR_CONTRACT = x.SCAddressType.SC_ADDRESS_TYPE_CONTRACT
_ADDR_MUXED = x.SCAddressType.SC_ADDRESS_TYPE_MUXED_ACCOUNT
_ADDR_BALANCE = x.SCAddressType.SC_ADDRESS_TYPE_CLAIMABLE_BALANCE
_ADDR_POOL = x.SCAddressType.SC_ADDRESS_TYPE_LIQUIDITY_POOL


# SEP-23 version bytes: the strkey's first letter (G, C, M, L, B) in its top five bits.
_VERSION_ACCOUNT = 6 << 3
_VERSION_CONTRACT = 2 << 3
_VERSION_MUXED = 12 << 3
_VERSION_POOL = 11 << 3
_VERSION_BALANCE = 1 << 3


def _strkey(version: int, raw: bytes, sdk_encode: Callable[[bytes], str]) -> str:
    # The compiled encoder when built (`ledgers.skippers.strkey`): stellar-sdk's base32 is pure Python, ~4 us a
    # key, and a mainnet ledger brings a few hundred keys not cached yet (issue 16). Same strings either way.
    encode = skippers.strkey
    return sdk_encode(raw) if encode is None else encode(version, raw)


@lru_cache(maxsize=1 << 16)
def account_strkey(raw: bytes) -> str:
    """``G…`` of a 32-byte ed25519 public key."""
    return _strkey(_VERSION_ACCOUNT, raw, StrKey.encode_ed25519_public_key)


@lru_cache(maxsize=1 << 14)
def contract_strkey(raw: bytes) -> str:
    """``C…`` of a 32-byte contract id."""
    return _strkey(_VERSION_CONTRACT, raw, StrKey.encode_contract)


def muxed_strkey(raw: bytes, muxed_id: int) -> str:
    """``M…`` of an ed25519 key and a 64-bit id (SEP-23: key then big-endian id)."""
    return _strkey(_VERSION_MUXED, raw + struct.pack(">Q", muxed_id), StrKey.encode_med25519_public_key)


@lru_cache(maxsize=1 << 12)
def pool_strkey(raw: bytes) -> str:
    """``L…`` of a 32-byte liquidity pool id."""
    return _strkey(_VERSION_POOL, raw, StrKey.encode_liquidity_pool)


@lru_cache(maxsize=1 << 12)
def balance_strkey(raw: bytes) -> str:
    """``B…`` of a V0 claimable balance id (the strkey payload is the 1-byte id type then the 32-byte hash)."""
    return _strkey(_VERSION_BALANCE, b"\x00" + raw, StrKey.encode_claimable_balance)


def account_id(value: x.AccountID) -> str:
    """``G…`` of an XDR ``AccountID``."""
    return account_strkey(value.account_id.ed25519.uint256)


def muxed_account(value: x.MuxedAccount) -> tuple[str, str | None]:
    """``(G…, M… or None)`` of an XDR ``MuxedAccount``."""
    if value.type is _KEY_ED25519:
        return account_strkey(value.ed25519.uint256), None
    med = value.med25519
    raw = med.ed25519.uint256
    return account_strkey(raw), muxed_strkey(raw, med.id.uint64)


def asset(value: Any) -> str:
    """``native`` or ``CODE:ISSUER`` of an XDR ``Asset`` (or the same arms of ``TrustLineAsset``)."""
    kind = value.type
    if kind is _ASSET_NATIVE:
        return NATIVE
    if kind is _ASSET_4:
        alpha = value.alpha_num4
        return _asset_string(alpha.asset_code.asset_code4, alpha.issuer.account_id.ed25519.uint256)
    if kind is _ASSET_12:
        alpha = value.alpha_num12
        return _asset_string(alpha.asset_code.asset_code12, alpha.issuer.account_id.ed25519.uint256)
    raise ValueError(f"not a plain asset: {kind.name}")


@lru_cache(maxsize=1 << 12)
def _asset_string(code: bytes, issuer: bytes) -> str:
    return f"{asset_code(code)}:{account_strkey(issuer)}"


def asset_code(code: bytes) -> str:
    """An asset code without its zero padding (codes are ASCII letters and digits)."""
    return code.rstrip(b"\x00").decode("ascii", "replace")


def trustline_asset(value: x.TrustLineAsset) -> tuple[str, str | None]:
    """``(asset string, pool id L… or None)`` of an XDR ``TrustLineAsset``."""
    if value.liquidity_pool_id is not None:
        pool = pool_strkey(value.liquidity_pool_id.pool_id.hash)
        return POOL_SHARE_PREFIX + pool, pool
    return asset(value), None


def pool_id(value: x.PoolID) -> str:
    """``L…`` of an XDR ``PoolID``."""
    return pool_strkey(value.pool_id.hash)


def balance_id(value: x.ClaimableBalanceID) -> str:
    """``B…`` of an XDR ``ClaimableBalanceID``."""
    return balance_strkey(value.v0.hash)


def sc_address(value: x.SCAddress) -> str:
    """Strkey of any ``SCAddress``: ``G…``, ``C…``, ``M…``, ``B…`` or ``L…``."""
    kind = value.type
    if kind is _ADDR_ACCOUNT:
        return account_strkey(value.account_id.account_id.ed25519.uint256)
    if kind is _ADDR_CONTRACT:
        return contract_strkey(value.contract_id.contract_id.hash)
    if kind is _ADDR_MUXED:
        mux = value.muxed_account
        return muxed_strkey(mux.ed25519.uint256, mux.id.uint64)
    if kind is _ADDR_BALANCE:
        return balance_id(value.claimable_balance_id)
    if kind is _ADDR_POOL:
        return pool_id(value.liquidity_pool_id)
    raise ValueError(f"unknown SCAddress type {kind!r}")


def sc_address_from_strkey(value: str) -> x.SCAddress:
    """The ``SCAddress`` of a ``G…``/``C…``/``M…``/``B…``/``L…`` strkey (the inverse of `sc_address`)."""
    prefix = value[:1]
    if prefix == "G":
        return x.SCAddress(
            _ADDR_ACCOUNT,
            account_id=x.AccountID(
                x.PublicKey(
                    x.PublicKeyType.PUBLIC_KEY_TYPE_ED25519,
                    x.Uint256(StrKey.decode_ed25519_public_key(value)),
                )
            ),
        )
    if prefix == "C":
        return x.SCAddress(_ADDR_CONTRACT, contract_id=x.ContractID(x.Hash(StrKey.decode_contract(value))))
    if prefix == "M":
        raw = StrKey.decode_med25519_public_key(value)
        return x.SCAddress(
            _ADDR_MUXED,
            muxed_account=x.MuxedEd25519Account(
                x.Uint64(struct.unpack(">Q", raw[32:])[0]), x.Uint256(raw[:32])
            ),
        )
    if prefix == "B":
        raw = StrKey.decode_claimable_balance(value)
        return x.SCAddress(
            _ADDR_BALANCE,
            claimable_balance_id=x.ClaimableBalanceID(x.ClaimableBalanceIDType(raw[0]), v0=x.Hash(raw[1:])),
        )
    if prefix == "L":
        return x.SCAddress(
            _ADDR_POOL, liquidity_pool_id=x.PoolID(x.Hash(StrKey.decode_liquidity_pool(value)))
        )
    raise ValueError(f"{value!r} is not an address strkey (G, C, M, B or L)")


def signer_key(value: x.SignerKey) -> str:
    """Strkey of a signer key: ``G…`` ed25519, ``T…`` pre-auth tx, ``X…`` sha256 hash, ``P…`` signed payload."""
    kind = value.type
    if kind is x.SignerKeyType.SIGNER_KEY_TYPE_ED25519:
        return account_strkey(value.ed25519.uint256)
    if kind is x.SignerKeyType.SIGNER_KEY_TYPE_PRE_AUTH_TX:
        return StrKey.encode_pre_auth_tx(value.pre_auth_tx.uint256)
    if kind is x.SignerKeyType.SIGNER_KEY_TYPE_HASH_X:
        return StrKey.encode_sha256_hash(value.hash_x.uint256)
    payload = value.ed25519_signed_payload
    return StrKey.encode_ed25519_signed_payload(payload.to_xdr_bytes())


def network_id(passphrase: str) -> bytes:
    """The network id: sha256 of the passphrase (the prefix of every transaction hash payload)."""
    return hashlib.sha256(passphrase.encode()).digest()


def contract_id_from_preimage(network: bytes, preimage: x.ContractIDPreimage) -> str:
    """``C…`` of a contract created from `preimage` (sha256 of ``HashIDPreimage`` ``ENVELOPE_TYPE_CONTRACT_ID``)."""
    payload = (
        struct.pack(">I", x.EnvelopeType.ENVELOPE_TYPE_CONTRACT_ID.value) + network + preimage.to_xdr_bytes()
    )
    return contract_strkey(hashlib.sha256(payload).digest())


def liquidity_pool_id_from_params(params: x.LiquidityPoolParameters) -> str:
    """``L…`` of the pool defined by `params` (the pool id is sha256 of the parameters' XDR)."""
    return pool_strkey(hashlib.sha256(params.to_xdr_bytes()).digest())
