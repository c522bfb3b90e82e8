"""Helpers for processor migrations. Frozen: a migration must create the same schema forever, so these
spell out columns here instead of reading today's `Table` objects (which later migrations may change)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from storage.amounts import Amount
from storage.partitions import partition_table_kwargs, prepare_partitioned_table
from storage.tables import UTCDateTime

HISTORY_KEY = (
    "tenant_id",
    "ledger_sequence",
    "transaction_index",
    "operation_index",
    "event_index",
    "closed_at",
)
AMOUNT = Amount  # NUMERIC(39,0) on PostgreSQL, sortable text on SQLite


def history_columns_v1() -> list[sa.Column[Any]]:
    """The common columns of a processor history table, version 1 (see storage/processor_tables.py)."""
    return [
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("ledger_sequence", sa.BigInteger, nullable=False),
        sa.Column("transaction_index", sa.Integer, nullable=False),
        sa.Column("operation_index", sa.Integer, nullable=False),
        sa.Column("event_index", sa.Integer, nullable=False),
        sa.Column("closed_at", UTCDateTime, nullable=False),
        sa.Column("tx_hash", sa.String(64), nullable=True),
        sa.Column("in_successful_tx", sa.Boolean, nullable=False),
    ]


def candle_columns_v1() -> list[sa.Column[Any]]:
    """A DEX volume candle's own columns, version 1: those of `dex_volume` (0102) and `dex_closed_candles`
    (0103) alike."""

    def price(name: str) -> list[sa.Column[Any]]:
        return [
            sa.Column(f"{name}_n", AMOUNT, nullable=True),
            sa.Column(f"{name}_d", AMOUNT, nullable=True),
            sa.Column(name, sa.String(64), nullable=True),
        ]

    return [
        sa.Column("pair", sa.String(140), nullable=False),
        sa.Column("interval", sa.String(4), nullable=False),
        sa.Column("bucket_start", UTCDateTime, nullable=False),
        sa.Column("base_asset", sa.String(100), nullable=False),
        sa.Column("counter_asset", sa.String(100), nullable=False),
        *price("open"),
        *price("high"),
        *price("low"),
        *price("close"),
        sa.Column("base_volume", AMOUNT, nullable=False),
        sa.Column("counter_volume", AMOUNT, nullable=False),
        sa.Column("trade_count", sa.Integer, nullable=False),
        sa.Column("vwap", sa.String(64), nullable=True),
        sa.Column("first_trade_id", sa.String(32), nullable=False),
        sa.Column("last_trade_id", sa.String(32), nullable=False),
    ]


def create_history_table(
    op: Any, name: str, columns: list[sa.Column[Any]], indexes: tuple[tuple[str, ...], ...]
) -> None:
    """Create a history table with the v1 common columns, its natural key, indexes and (PostgreSQL) its
    monthly partitions."""
    op.create_table(
        name,
        *history_columns_v1(),
        *columns,
        sa.PrimaryKeyConstraint(*HISTORY_KEY, name=f"pk_{name}"),
        **partition_table_kwargs(),
    )
    op.create_index(f"ix_{name}_tenant_id_id", name, ["tenant_id", "id"])
    for cols in indexes:
        op.create_index(f"ix_{name}_{'_'.join(cols)}", name, list(cols))
    prepare_partitioned_table(op.get_bind(), name)


def drop_history_table(op: Any, name: str) -> None:
    # Dropping the parent drops its partitions (default and monthly) with it.
    op.drop_table(name)
