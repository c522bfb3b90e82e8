"""Ingested ranges: the ledgers ingested per tenant and processor, by any path (`storage.tables.ingested_ranges`).

Revision ID: 0011_ingested_ranges
Revises: 0010_webhooks
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from storage.tables import UTCDateTime

revision = "0011_ingested_ranges"
down_revision: str | None = "0010_webhooks"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ingested_ranges",
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("processor", sa.String(64), nullable=False),
        sa.Column("first_ledger", sa.BigInteger(), nullable=False),
        sa.Column("last_ledger", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "processor", "first_ledger", name="pk_ingested_ranges"),
    )


def downgrade() -> None:
    op.drop_table("ingested_ranges")
