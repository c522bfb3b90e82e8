"""Contract data: changes to Soroban contract storage, and the current storage per contract.

Rows (REFERENCE §4 contract_data; extraction rules in `extract`, tables in `table`):

- History (`contract_data`): one row per contract data entry change — ``change`` created | updated | removed |
  restored | evicted — with the key and value decoded (``key``, ``value``: ScVal JSON) and raw (``key_xdr``,
  ``value_xdr``: base64 XDR), ``key_hash`` (hex sha256 of the ``LedgerKey``, the hash TTL entries name),
  ``key_type``, ``key_symbol``, ``durability``, ``live_until_ledger`` (from the key's TTL entry in the same
  ledger, null when the ledger does not show it), ``deleted``, and for contract instances
  ``instance_wasm_hash`` or, for a Stellar Asset Contract, ``instance_asset`` (``native`` | ``CODE:ISSUER``).
  Changes hang on their transaction and operation; evictions (and upgrade changes) are ledger-level rows
  with transaction index 2^20-1, sorting after the ledger's transactions.
- Current storage (`contract_data_current`), keyed by (tenant, ``contract_id``, ``key_hash``): the last state
  of each key, removed and evicted keys kept with ``deleted`` true; ``last_change_id`` points at the history
  row; ``ledger_sequence`` is the ledger of the last write, data change or TTL move.

Decision on TTL changes without a data change (an ``ExtendFootprintTTL`` operation, an instance TTL bump
inside a call): they move ``live_until_ledger`` of the current row only, and make no history row. A TTL entry
names a key hash and nothing else, so such a row could say neither which contract it belongs to nor whether a
tenant's filter wants it; the current row, already filtered, is the one place it can land safely. They reach
``after_write`` (`current`) through the staging table `contract_data_ttl_updates`, empty between batches.
"""

from __future__ import annotations

from processors.base import Processor, graphql_module
from processors.contract_data.config import ContractDataConfig
from processors.contract_data.current import after_write
from processors.contract_data.extract import extract
from processors.contract_data.query import STORAGE_CHANGES, listings
from processors.contract_data.rest import routes
from processors.contract_data.select import select
from processors.contract_data.table import contract_data, contract_data_current, contract_data_ttl_updates
from processors.delivery import Subscription, WebhookEvent

processor = Processor(
    name="contract_data",
    type_name="ContractDataProcessor",
    version=1,
    requires=(),
    config_model=ContractDataConfig,
    description="Soroban contract storage changes with decoded keys and values, and current storage.",
    webhook_events=(
        WebhookEvent(
            "contract_data_change", "A change of contract storage the tenant keeps.", STORAGE_CHANGES
        ),
    ),
    subscriptions=(
        Subscription(
            "onContractData",
            STORAGE_CHANGES,
            "ContractData",
            "Contract storage changes as they are ingested.",
        ),
    ),
    listings=listings,
    graphql=graphql_module("processors.contract_data.graphql"),
    routes=routes,
    tables=(contract_data, contract_data_current, contract_data_ttl_updates),
    archive=(contract_data,),
    extract=extract,
    select=select,
    after_write=after_write,
)

__all__ = ["processor"]
