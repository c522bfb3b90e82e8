"""TokenTransferProcessor: the token_transfers history table (partitioned by closed_at on PostgreSQL).

Revision ID: 0003_token_transfers
Revises: 0002_contract_events
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from migrations.processor_tables import AMOUNT, create_history_table, drop_history_table

revision = "0003_token_transfers"
down_revision: str | None = "0002_contract_events"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_history_table(
        op,
        "token_transfers",
        [
            sa.Column("event_type", sa.String(16), nullable=False),
            sa.Column("from", sa.String(69), nullable=True),
            sa.Column("to", sa.String(69), nullable=True),
            sa.Column("asset", sa.String(100), nullable=False),
            sa.Column("asset_type", sa.String(24), nullable=False),
            sa.Column("asset_code", sa.String(12), nullable=True),
            sa.Column("asset_issuer", sa.String(56), nullable=True),
            sa.Column("contract_id", sa.String(56), nullable=True),
            sa.Column("amount_raw", AMOUNT, nullable=False),
            sa.Column("amount", sa.String(64), nullable=False),
            sa.Column("decimals", sa.Integer, nullable=True),
            sa.Column("to_muxed_id", sa.String(80), nullable=True),
            sa.Column("memo", sa.Text, nullable=True),
            sa.Column("memo_type", sa.String(8), nullable=True),
        ],
        (
            ("tenant_id", "from", "ledger_sequence"),
            ("tenant_id", "to", "ledger_sequence"),
            ("tenant_id", "asset", "ledger_sequence"),
            ("tenant_id", "closed_at"),
        ),
    )


def downgrade() -> None:
    drop_history_table(op, "token_transfers")
