"""ContractDataProcessor: contract_data (history, partitioned by closed_at on PostgreSQL), contract_data_current
(current storage) and contract_data_ttl_updates (staging of TTL moves, empty between ingestion batches).

Revision ID: 0301_contract_data
Revises: 0004_backfill_ranges
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

from migrations.processor_tables import create_history_table, drop_history_table
from storage.tables import UTCDateTime

revision = "0301_contract_data"
down_revision: str | None = "0004_backfill_ranges"
branch_labels = ("contract_data",)
depends_on = None


def _entry_columns() -> list[sa.Column[Any]]:
    return [
        sa.Column("key", sa.JSON, nullable=True),
        sa.Column("key_xdr", sa.Text, nullable=True),
        sa.Column("key_type", sa.String(32), nullable=True),
        sa.Column("key_symbol", sa.String(32), nullable=True),
        sa.Column("durability", sa.String(16), nullable=False),
        sa.Column("value", sa.JSON, nullable=True),
        sa.Column("value_xdr", sa.Text, nullable=True),
        sa.Column("instance_wasm_hash", sa.String(64), nullable=True),
        sa.Column("instance_asset", sa.String(80), nullable=True),
        sa.Column("live_until_ledger", sa.BigInteger, nullable=True),
        sa.Column("deleted", sa.Boolean, nullable=False),
    ]


def upgrade() -> None:
    create_history_table(
        op,
        "contract_data",
        [
            sa.Column("contract_id", sa.String(56), nullable=False),
            sa.Column("key_hash", sa.String(64), nullable=False),
            sa.Column("change", sa.String(16), nullable=False),
            *_entry_columns(),
        ],
        (
            ("tenant_id", "contract_id", "ledger_sequence"),
            ("tenant_id", "key_hash", "ledger_sequence"),
            ("tenant_id", "key_symbol", "ledger_sequence"),
            ("tenant_id", "closed_at"),
        ),
    )
    op.create_table(
        "contract_data_current",
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("contract_id", sa.String(56), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column("change", sa.String(16), nullable=False),
        *_entry_columns(),
        sa.Column("last_change_id", sa.String(32), nullable=False),
        sa.Column("last_change_ledger", sa.BigInteger, nullable=False),
        sa.Column("ledger_sequence", sa.BigInteger, nullable=False),
        sa.Column("closed_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "contract_id", "key_hash", name="pk_contract_data_current"),
    )
    op.create_index(
        "ix_contract_data_current_tenant_id_key_hash", "contract_data_current", ["tenant_id", "key_hash"]
    )
    op.create_index(
        "ix_contract_data_current_tenant_id_key_symbol", "contract_data_current", ["tenant_id", "key_symbol"]
    )
    op.create_table(
        "contract_data_ttl_updates",
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("ledger_sequence", sa.BigInteger, nullable=False),
        sa.Column("transaction_index", sa.Integer, nullable=False),
        sa.Column("operation_index", sa.Integer, nullable=False),
        sa.Column("event_index", sa.Integer, nullable=False),
        sa.Column("closed_at", UTCDateTime, nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column("live_until_ledger", sa.BigInteger, nullable=False),
        sa.Column("contract_id", sa.String(56), nullable=True),
        sa.Column("durability", sa.String(16), nullable=True),
        sa.Column("key_type", sa.String(32), nullable=True),
        sa.Column("key_symbol", sa.String(32), nullable=True),
        sa.PrimaryKeyConstraint(
            "tenant_id",
            "ledger_sequence",
            "transaction_index",
            "operation_index",
            "event_index",
            name="pk_contract_data_ttl_updates",
        ),
    )


def downgrade() -> None:
    op.drop_table("contract_data_ttl_updates")
    op.drop_table("contract_data_current")
    drop_history_table(op, "contract_data")
