"""Backfill progress: one row per planned chunk of a tenant's backfill.

Revision ID: 0004_backfill_ranges
Revises: 0003_token_transfers
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from storage.tables import UTCDateTime

revision = "0004_backfill_ranges"
down_revision: str | None = "0003_token_transfers"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "backfill_ranges",
        sa.Column(
            "tenant_id", sa.String(64), sa.ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("start_ledger", sa.BigInteger, nullable=False),
        sa.Column("end_ledger", sa.BigInteger, nullable=False),
        sa.Column("processors_key", sa.String(255), nullable=False),
        sa.Column("network", sa.String(16), nullable=False),
        sa.Column("processors", sa.JSON, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("ledgers_done", sa.BigInteger, nullable=False),
        sa.Column("ledgers_per_second", sa.Float, nullable=True),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("last_error", sa.Text, nullable=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint(
            "tenant_id", "start_ledger", "end_ledger", "processors_key", name="pk_backfill_ranges"
        ),
    )


def downgrade() -> None:
    op.drop_table("backfill_ranges")
