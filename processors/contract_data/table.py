"""The tables of the ContractDataProcessor (REFERENCE §4 contract_data; decisions in `processors.contract_data`).

- `contract_data`: history, one row per contract data change (created, updated, removed, restored) and per
  eviction, in order-key order.
- `contract_data_current`: current storage, one row per (tenant, contract, key hash): the last state of the
  key, removed and evicted keys kept and marked ``deleted``. Written by the processor's ``after_write`` (not by
  the engine's generic upsert, which would overwrite a known ``live_until_ledger`` with "unknown").
- `contract_data_ttl_updates`: a staging table, empty outside an ingestion transaction. It carries TTL changes
  without a data change (an ``ExtendFootprintTTL``, an instance bump inside a call) from `select` to
  ``after_write``, which moves ``live_until_ledger`` of the matching current rows and then deletes them. They
  travel through a table because the engine hands ``after_write`` only rows it has written.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Column, Integer, PrimaryKeyConstraint, String, Table, Text

from storage.columns import asset_column
from storage.partitions import PARTITION_COLUMN
from storage.processor_tables import current_table, history_table
from storage.tables import UTCDateTime, metadata

HISTORY = "contract_data"
CURRENT = "contract_data_current"
TTL_UPDATES = "contract_data_ttl_updates"
# Entry columns that are unknown together: the key's when ``key_xdr`` is null, the value's when ``value_xdr``
# is (evictions). Current storage then keeps the stored ones.
KEY_COLUMNS = ("key", "key_xdr", "key_type", "key_symbol")
VALUE_COLUMNS = ("value", "value_xdr", "instance_wasm_hash", "instance_asset")


def _entry_columns() -> list[Column[Any]]:
    """The columns describing one contract data entry, shared by history and current rows."""
    return [
        # Unknown (null) only for evictions, whose key the ledger view does not expose (see `extract`).
        Column("key", JSON, nullable=True),  # decoded ScVal JSON
        Column("key_xdr", Text, nullable=True),  # base64 ScVal XDR
        Column(
            "key_type", String(32), nullable=True
        ),  # ScVal type: vec | symbol | ledger_key_contract_instance…
        Column("key_symbol", String(32), nullable=True),  # the symbol key, or a vector key's first symbol
        Column("durability", String(16), nullable=False),  # persistent | temporary
        Column("value", JSON, nullable=True),  # decoded ScVal JSON; null for evictions
        Column("value_xdr", Text, nullable=True),
        Column("instance_wasm_hash", String(64), nullable=True),  # contract instances running Wasm (hex)
        asset_column(
            "instance_asset", nullable=True, length=80
        ),  # Stellar Asset Contract: native | CODE:ISSUER
        Column("live_until_ledger", BigInteger, nullable=True),  # from the key's TTL entry, null if unseen
        Column("deleted", Boolean, nullable=False),
    ]


contract_data = history_table(
    HISTORY,
    Column("contract_id", String(56), nullable=False),
    Column("key_hash", String(64), nullable=False),  # hex sha256 of the LedgerKey: what TTL entries name
    Column("change", String(16), nullable=False),  # created | updated | removed | restored | evicted
    *_entry_columns(),
    indexes=(
        ("tenant_id", "contract_id", "ledger_sequence"),
        ("tenant_id", "key_hash", "ledger_sequence"),
        ("tenant_id", "key_symbol", "ledger_sequence"),
        ("tenant_id", "closed_at"),
    ),
)

contract_data_current = current_table(
    CURRENT,
    ("contract_id", "key_hash"),
    Column("contract_id", String(56), nullable=False),
    Column("key_hash", String(64), nullable=False),
    Column("change", String(16), nullable=False),  # the last data change's kind
    *_entry_columns(),
    Column("last_change_id", String(32), nullable=False),  # row id of that change in `contract_data`
    Column("last_change_ledger", BigInteger, nullable=False),
    # `ledger_sequence` (added by `current_table`) is the ledger of the last write: a data change or a TTL move.
    indexes=(("tenant_id", "key_hash"), ("tenant_id", "key_symbol")),
)

contract_data_ttl_updates = Table(
    TTL_UPDATES,
    metadata,
    Column("tenant_id", String(64), nullable=False),
    Column("ledger_sequence", BigInteger, nullable=False),
    Column("transaction_index", Integer, nullable=False),
    Column("operation_index", Integer, nullable=False),
    Column("event_index", Integer, nullable=False),
    Column(PARTITION_COLUMN, UTCDateTime, nullable=False),
    Column("key_hash", String(64), nullable=False),
    Column("live_until_ledger", BigInteger, nullable=False),
    # What is known of the entry from data changes elsewhere in the same ledger (null when nothing is):
    # `select` drops an update only when these prove it is outside the tenant's filter.
    Column("contract_id", String(56), nullable=True),
    Column("durability", String(16), nullable=True),
    Column("key_type", String(32), nullable=True),
    Column("key_symbol", String(32), nullable=True),
    PrimaryKeyConstraint(
        "tenant_id", "ledger_sequence", "transaction_index", "operation_index", "event_index"
    ),
    info={"write": "insert", "kind": "staging"},
)
