"""Which asset a token event moves, and how its amount is written as a decimal string.

A CAP-67 event names its asset twice: by the emitting contract and, for the Stellar Asset Contract (SAC)
format, by a SEP-11 asset string in the last topic (``native`` or ``CODE:ISSUER``). Anyone can deploy a
contract that emits ``["transfer", from, to, "USDC:G…"]``, so the string alone proves nothing: an event is a
SAC event only when its contract id equals the SAC contract id of that asset string on the network
(REFERENCE §3). Every other token event belongs to a custom SEP-41 token, whose asset is its contract id.

Amounts (DESIGN "amounts"): ``amount_raw`` is the exact integer; ``amount`` is a decimal string in the
asset's units. Classic assets (and their SACs) have 7 decimals and are written with exactly 7 fraction
digits, as Horizon writes them (``"12.3456700"``, ``"-0.0000100"`` for a fee refund), so the string is
canonical and the same amount always reads the same. A custom token's decimals are not in the event (they
would need a contract call), so its ``amount`` is the raw integer as a string and ``decimals`` is null.
"""

from __future__ import annotations

from functools import lru_cache
from typing import NamedTuple

from ledgers.assets import CLASSIC_DECIMALS, NATIVE, format_amount, sac_contract_id

__all__ = ["CLASSIC_DECIMALS", "NATIVE", "AssetInfo", "classify", "format_amount", "sac_contract_id"]


class AssetInfo(NamedTuple):
    """The asset columns of a token transfer row."""

    asset: str  # native | CODE:ISSUER | the token's contract id
    asset_type: str  # native | credit_alphanum4 | credit_alphanum12 | contract
    asset_code: str | None
    asset_issuer: str | None
    decimals: int | None


def _sac_asset(asset_string: str) -> AssetInfo | None:
    """The classic asset of a SEP-11 string, or None when the string is not one."""
    if asset_string == NATIVE:
        return AssetInfo(NATIVE, NATIVE, None, None, CLASSIC_DECIMALS)
    code, sep, issuer = asset_string.partition(":")
    if not sep or not 1 <= len(code) <= 12:
        return None
    kind = "credit_alphanum4" if len(code) <= 4 else "credit_alphanum12"
    return AssetInfo(asset_string, kind, code, issuer, CLASSIC_DECIMALS)


@lru_cache(maxsize=1 << 14)
def classify(contract_id: str, asset_string: str | None, network_passphrase: str) -> AssetInfo:
    """The asset of an event emitted by `contract_id` whose last topic is `asset_string` (None if absent).

    Cached: a ledger moves a few hundred distinct assets, and computing a SAC id costs a hash and a strkey.
    """
    if asset_string is not None and sac_contract_id(asset_string, network_passphrase) == contract_id:
        info = _sac_asset(asset_string)
        if info is not None:
            return info
    return AssetInfo(contract_id, "contract", None, None, None)
