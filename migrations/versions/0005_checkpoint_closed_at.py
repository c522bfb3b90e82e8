"""Checkpoints remember the close time of their ledger, so ingestion lag (now minus the close time of the
last ledger ingested) is read from one row at scrape time. Null for checkpoints written before.

Revision ID: 0005_checkpoint_closed_at
Revises: 0004_backfill_ranges
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from storage.tables import UTCDateTime

revision = "0005_checkpoint_closed_at"
down_revision: str | None = "0004_backfill_ranges"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("checkpoints", sa.Column("closed_at", UTCDateTime, nullable=True))


def downgrade() -> None:
    # SQLite drops a column by copying the table (batch mode); PostgreSQL alters it in place.
    with op.batch_alter_table("checkpoints") as batch:
        batch.drop_column("closed_at")
