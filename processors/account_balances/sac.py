"""Which contracts holding ``["Balance", address]`` entries in a ledger are Stellar Asset Contracts, of what asset.

A SAC's contract id is a hash of its asset and the network passphrase (`sac_contract_id`), so it cannot be
inverted: the asset has to be guessed from the ledger itself and then proved by recomputing the id. Guesses,
cheapest and most telling first:

1. ``native``: the XLM SAC is by far the most common;
2. the last topic of the events of the transactions that changed the balance (every SAC event ends with the
   SEP-11 asset string: ``transfer``, ``mint``, ``burn``, ``clawback``, ``set_authorized``, ``approve`` …);
3. the ``METADATA.name`` of the contract's instance entry when the ledger changed it (a SAC deployment);
4. the assets of the trustlines and claimable balances changed in the same ledger.

Only the ledger at hand is read, so extraction stays a pure function of the ledger: a SAC balance changed with
none of these in its ledger (a RestoreFootprint of an archived balance, which moves no value) is not recognised.
Custom SEP-41 tokens use the same key shape; they never prove out and are left to the token balance processor.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from ledgers.assets import sac_contract_id
from ledgers.model import ContractDataEntry, Transaction
from processors.scvalues import shared

__all__ = ["resolve_sac_assets"]

NATIVE = "native"


def resolve_sac_assets(
    contracts: Mapping[str, Sequence[Transaction]],
    instances: Mapping[str, ContractDataEntry],
    classic_assets: Iterable[str],
    passphrase: str,
) -> dict[str, str]:
    """contract id -> asset string for those of `contracts` (each with the transactions that changed its
    balance entries) proved to be Stellar Asset Contracts on the network of `passphrase`."""
    found: dict[str, str] = {}
    wanted = set(contracts)

    def prove(asset: str | None, contract: str | None = None) -> None:
        if asset is None:
            return
        sac = sac_contract_id(asset, passphrase)  # cached; None for strings that are not assets
        if sac in wanted and (contract is None or sac == contract):
            found[sac] = asset
            wanted.discard(sac)

    prove(NATIVE)
    for contract in sorted(wanted):  # sorted: the same guesses in the same order on every run
        for tx in contracts[contract]:
            if contract not in wanted:
                break
            for asset, emitter in _event_asset_strings(tx):
                prove(asset, emitter)
    for contract in sorted(wanted & set(instances)):
        prove(_instance_asset(instances[contract]), contract)
    if wanted:
        for asset in sorted(classic_assets):
            if not wanted:
                break
            if not asset.startswith("pool_share:"):
                prove(asset)
    return found


def _event_asset_strings(tx: Transaction) -> Iterable[tuple[str | None, str | None]]:
    """(last topic as a string, emitting contract) of every contract event of `tx`'s operations."""
    if not tx.successful:
        return
    for op in tx.operations:
        for event in op.events:
            topics = event.topics
            if topics and event.contract_id is not None:
                yield shared(topics[-1]).string, event.contract_id


def _instance_asset(instance: ContractDataEntry) -> str | None:
    """The asset string a SAC instance keeps in its storage (``METADATA`` → ``name``), if it is one."""
    value = instance.value
    if value.type != "contract_instance":
        return None
    friendly = value.to_json()
    if "stellar_asset" not in (friendly.get("executable") or {}):
        return None
    metadata = (friendly.get("storage") or {}).get("METADATA")
    name = metadata.get("name") if isinstance(metadata, dict) else None
    return name if isinstance(name, str) else None
