"""ContractEventProcessor: the contract_events history table (partitioned by closed_at on PostgreSQL).

Revision ID: 0002_contract_events
Revises: 0001_foundation
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from migrations.processor_tables import create_history_table, drop_history_table

revision = "0002_contract_events"
down_revision: str | None = "0001_foundation"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_history_table(
        op,
        "contract_events",
        [
            sa.Column("contract_id", sa.String(56), nullable=True),
            sa.Column("type", sa.String(16), nullable=False),
            sa.Column("event_type", sa.String(64), nullable=True),
            sa.Column("topics", sa.JSON, nullable=False),
            sa.Column("topics_xdr", sa.JSON, nullable=False),
            sa.Column("topic0", sa.Text, nullable=True),
            sa.Column("topic1", sa.Text, nullable=True),
            sa.Column("topic2", sa.Text, nullable=True),
            sa.Column("topic3", sa.Text, nullable=True),
            sa.Column("data", sa.JSON, nullable=True),
            sa.Column("data_xdr", sa.Text, nullable=True),
        ],
        (
            ("tenant_id", "contract_id", "ledger_sequence"),
            ("tenant_id", "event_type", "ledger_sequence"),
            ("tenant_id", "topic1"),
            ("tenant_id", "topic2"),
            ("tenant_id", "closed_at"),
        ),
    )


def downgrade() -> None:
    drop_history_table(op, "contract_events")
