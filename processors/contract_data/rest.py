"""REST routes of contract data: a contract's storage history and its current storage."""

from __future__ import annotations

from processors.contract_data.query import CURRENT_STORAGE, STORAGE_CHANGES
from processors.rest_spec import RestParam, RestRoute

_CONTRACT = (RestParam("contract_id", "contracts", "The contract (C...)."),)
_KEYS = (
    RestParam(
        "key_symbol", "key_symbols", "The key when a symbol, or a vector key's first symbol (`Balance`)."
    ),
    RestParam("key_hash", "key_hashes", "Hex SHA-256 of the ledger key."),
    RestParam("durability", "durability", "persistent or temporary."),
)

routes = (
    RestRoute(
        path="/contracts/{contract_id}/data",
        processor="contract_data",
        listing=STORAGE_CHANGES,
        summary="Storage history of a contract",
        description="Every change of the contract's storage (created, updated, removed, restored, evicted).",
        path_params=_CONTRACT,
        params=(*_KEYS, RestParam("change", "changes", "created, updated, removed, restored or evicted.")),
    ),
    RestRoute(
        path="/contracts/{contract_id}/storage",
        processor="contract_data",
        listing=CURRENT_STORAGE,
        summary="Current storage of a contract",
        description="The contract's current storage entries, one per key, with their TTL.",
        path_params=_CONTRACT,
        params=(*_KEYS, RestParam("include_deleted", "include_deleted", "Also removed or evicted entries.")),
    ),
)
