"""How processor tables are shaped, so every processor's rows share ids, ordering, tenancy and writes.

A processor has a history (event) table built with `history_table`: the tenant, the common row columns of
REFERENCE §4 (`id`, `ledger_sequence`, `closed_at`, `tx_hash`, `transaction_index`, `operation_index`,
`event_index`, `in_successful_tx`) and its own columns. Its natural key is the tenant plus the order key plus
`closed_at` (PostgreSQL requires the partition column in every unique key of a partitioned table); re-writing a
ledger therefore changes nothing. On PostgreSQL it is RANGE-partitioned by month on `closed_at`.

A processor that keeps state adds a current table built with `current_table`, keyed by the tenant and its
entity; a write replaces a row only with data from the same or a later ledger, so replaying an old range never
moves current state backwards.

`table.info["write"]` tells the hot store how to write: "insert" (ignore rows already there) or "latest".
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
)

from storage.partitions import PARTITION_COLUMN, add_default_partition, partition_table_kwargs
from storage.tables import UTCDateTime, metadata

ORDER_COLUMNS = ("ledger_sequence", "transaction_index", "operation_index", "event_index")
NATURAL_KEY = ("tenant_id", *ORDER_COLUMNS, PARTITION_COLUMN)


def _common_columns() -> list[Column[Any]]:
    return [
        Column("tenant_id", String(64), nullable=False),
        Column("id", String(32), nullable=False),
        Column("ledger_sequence", BigInteger, nullable=False),
        Column("transaction_index", Integer, nullable=False),
        # 0 for transaction-level rows (REFERENCE says null; 0 keeps the natural key a plain unique key).
        Column("operation_index", Integer, nullable=False),
        Column("event_index", Integer, nullable=False),
        Column(PARTITION_COLUMN, UTCDateTime, nullable=False),
        Column("tx_hash", String(64), nullable=True),
        Column("in_successful_tx", Boolean, nullable=False),
    ]


def history_table(
    name: str,
    *columns: Column[Any],
    indexes: tuple[tuple[str, ...], ...] = (),
    on: MetaData = metadata,
) -> Table:
    """A processor's event/history table, on the shared metadata unless `on` says otherwise (a test's own
    processor keeps its table out of the shared one); see the module docstring."""
    table = Table(
        name,
        on,
        *_common_columns(),
        *columns,
        PrimaryKeyConstraint(*NATURAL_KEY),
        Index(f"ix_{name}_tenant_id_id", "tenant_id", "id"),
        *(Index(f"ix_{name}_{'_'.join(cols)}", *cols) for cols in indexes),
        info={"write": "insert", "kind": "history"},
        **partition_table_kwargs(),
    )
    return add_default_partition(table)


def current_table(
    name: str,
    key: tuple[str, ...],
    *columns: Column[Any],
    indexes: tuple[tuple[str, ...], ...] = (),
    on: MetaData = metadata,
) -> Table:
    """A processor's current-state table keyed by `("tenant_id", *key)`; the columns in `key` must be among
    `columns`. Rows carry `ledger_sequence` (the ledger of the state) so older data never overwrites newer."""
    table = Table(
        name,
        on,
        Column("tenant_id", String(64), nullable=False),
        *columns,
        Column("ledger_sequence", BigInteger, nullable=False),
        Column(PARTITION_COLUMN, UTCDateTime, nullable=False),
        PrimaryKeyConstraint("tenant_id", *key),
        *(Index(f"ix_{name}_{'_'.join(cols)}", *cols) for cols in indexes),
        info={"write": "latest", "kind": "current"},
    )
    return table
