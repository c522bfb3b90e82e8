"""What a contract instance entry runs: a Wasm hash, or the classic asset of a Stellar Asset Contract (SAC).

An instance entry is the contract data entry whose key is ``ScvLedgerKeyContractInstance``; its value is an
``ScContractInstance`` holding the executable and the instance storage. A SAC's executable names no asset:
the asset sits in the instance storage under the key ``["AssetInfo"]`` (soroban-env-host's token contract),
as ``["Native"]`` or ``["AlphaNum4" | "AlphaNum12", {asset_code: String, issuer: Bytes(32)}]``.

As stellar/go's ``sac.AssetFromContractData`` does, the asset is trusted only when the SAC contract id derived
from it equals the entry's contract id; otherwise (or when the layout does not fit) the asset is None.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any, NamedTuple

from stellar_sdk import Asset, StrKey

__all__ = ["INSTANCE_KEY_TYPE", "InstanceInfo", "instance_info"]

INSTANCE_KEY_TYPE = "ledger_key_contract_instance"  # `ScValue.type` of an instance entry's key
NATIVE = "native"
# `ScValue.to_json` writes a non-string map key as compact JSON text (ledgers.scval), so the SAC's
# ``["AssetInfo"]`` storage key reads as this string in the friendly form.
_ASSET_INFO_KEY = json.dumps(["AssetInfo"], separators=(",", ":"))
_ALPHANUM = frozenset({"AlphaNum4", "AlphaNum12"})


class InstanceInfo(NamedTuple):
    """The ``instance_wasm_hash`` and ``instance_asset`` columns of an instance row."""

    wasm_hash: str | None
    asset: str | None


_NONE = InstanceInfo(None, None)


def instance_info(contract_id: str, value_json: Any, network_passphrase: str) -> InstanceInfo:
    """The executable of an instance entry, from its value's friendly JSON (`ScValue.to_json`)."""
    if not isinstance(value_json, dict):
        return _NONE
    executable = value_json.get("executable")
    if not isinstance(executable, dict):
        return _NONE
    wasm = executable.get("wasm")
    if isinstance(wasm, str):
        return InstanceInfo(wasm, None)
    if "stellar_asset" in executable:
        storage = value_json.get("storage")
        asset_info = storage.get(_ASSET_INFO_KEY) if isinstance(storage, dict) else None
        return InstanceInfo(None, _sac_asset(contract_id, asset_info, network_passphrase))
    return _NONE


def _sac_asset(contract_id: str, asset_info: Any, network_passphrase: str) -> str | None:
    """``native`` or ``CODE:ISSUER`` from the friendly JSON of the SAC's ``AssetInfo``, verified."""
    if not isinstance(asset_info, list) or not asset_info:
        return None
    if asset_info == ["Native"]:
        asset = NATIVE
    elif len(asset_info) == 2 and asset_info[0] in _ALPHANUM and isinstance(asset_info[1], dict):
        fields = asset_info[1]
        code, issuer_hex = fields.get("asset_code"), fields.get("issuer")
        if not isinstance(code, str) or not isinstance(issuer_hex, str):
            return None
        try:
            asset = f"{code}:{StrKey.encode_ed25519_public_key(bytes.fromhex(issuer_hex))}"
        except ValueError:
            return None
    else:
        return None
    return asset if _sac_contract_id(asset, network_passphrase) == contract_id else None


@lru_cache(maxsize=1 << 12)
def _sac_contract_id(asset: str, network_passphrase: str) -> str | None:
    """The SAC contract id of an asset string on a network (None when stellar-sdk refuses the asset)."""
    try:
        parsed = Asset.native() if asset == NATIVE else Asset(*asset.split(":", 1))
        return parsed.contract_id(network_passphrase)
    except (ValueError, TypeError):  # stellar-sdk raises ValueError subclasses for bad codes and issuers
        return None
