"""Service-wide ingestion totals (ledgers, rows per table) per network, added to in each batch's transaction, so
any API replica's `/metrics` shows what every worker ingested.

Revision ID: 0007_ingest_totals
Revises: 0006_webhook_events
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_ingest_totals"
down_revision: str | None = "0006_webhook_events"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ingest_totals",
        sa.Column("network", sa.String(16), nullable=False),
        sa.Column("subject", sa.String(160), nullable=False),
        sa.Column("total", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("network", "subject", name="pk_ingest_totals"),
    )


def downgrade() -> None:
    op.drop_table("ingest_totals")
