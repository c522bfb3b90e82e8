"""Stellar assets beyond their strings (`ledgers.strkeys.parse_asset`): the Stellar Asset Contract of a classic
asset, and amounts written as decimal strings.

Classic assets (and their SACs) have 7 decimals and are written with exactly 7 fraction digits, as Horizon writes
them (``"12.3456700"``, ``"-0.0000100"`` for a fee refund), so the string is canonical and the same amount always
reads the same.
"""

from __future__ import annotations

from functools import lru_cache

from stellar_sdk import Asset

__all__ = ["CLASSIC_DECIMALS", "NATIVE", "format_amount", "sac_contract_id"]

CLASSIC_DECIMALS = 7
NATIVE = "native"


@lru_cache(maxsize=1 << 14)
def sac_contract_id(asset_string: str, network_passphrase: str) -> str | None:
    """The Stellar Asset Contract id of a SEP-11 asset string on a network (None if not an asset string)."""
    try:
        asset = Asset.native() if asset_string == NATIVE else Asset(*asset_string.split(":", 1))
        return asset.contract_id(network_passphrase)
    except (ValueError, TypeError):  # stellar-sdk raises ValueError subclasses on bad codes / issuers
        return None


def format_amount(raw: int, decimals: int | None) -> str:
    """``raw`` as a decimal string with exactly `decimals` fraction digits (the raw integer when unknown)."""
    if not decimals:
        return str(raw)
    if decimals < 0:
        raise ValueError(f"negative decimals: {decimals}")
    # The digits padded to one more than the fraction, then split: called for every amount of every row, this
    # costs half of a `divmod` and a nested format spec.
    digits = str(-raw if raw < 0 else raw).zfill(decimals + 1)
    return f"{'-' if raw < 0 else ''}{digits[:-decimals]}.{digits[-decimals:]}"
