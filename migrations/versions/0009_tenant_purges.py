"""Tenant purges: the progress record of each tenant deletion (`storage.purges.tenant_purges`), which keeps the
tenant id from being reused until its purge has finished.

Revision ID: 0009_tenant_purges
Revises: 0008_cold_tier
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from storage.tables import UTCDateTime

revision = "0009_tenant_purges"
down_revision: str | None = "0008_cold_tier"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "tenant_purges",
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("actor", sa.String(32), nullable=False),
        sa.Column("progress", sa.JSON(), nullable=False),
        sa.Column("completed", sa.JSON(), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("finished_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("tenant_id", name="pk_tenant_purges"),
    )


def downgrade() -> None:
    op.drop_table("tenant_purges")
