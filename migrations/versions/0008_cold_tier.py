"""The cold tier's records: archive watermarks per tenant and history table, and the manifest of Parquet files
(`storage.cold.tables`).

Revision ID: 0008_cold_tier
Revises: 0007_ingest_totals
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from storage.tables import UTCDateTime

revision = "0008_cold_tier"
down_revision: str | None = "0007_ingest_totals"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "archive_watermarks",
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("table_name", sa.String(64), nullable=False),
        sa.Column("last_id", sa.String(32), nullable=False),
        sa.Column("last_ledger", sa.BigInteger(), nullable=False),
        sa.Column("last_closed_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "table_name", name="pk_archive_watermarks"),
    )
    op.create_table(
        "cold_files",
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("table_name", sa.String(64), nullable=False),
        sa.Column("key", sa.String(512), nullable=False),
        sa.Column("processor", sa.String(64), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("month", sa.Integer(), nullable=False),
        sa.Column("first_id", sa.String(32), nullable=False),
        sa.Column("last_id", sa.String(32), nullable=False),
        sa.Column("first_ledger", sa.BigInteger(), nullable=False),
        sa.Column("last_ledger", sa.BigInteger(), nullable=False),
        sa.Column("min_closed_at", UTCDateTime(), nullable=False),
        sa.Column("max_closed_at", UTCDateTime(), nullable=False),
        sa.Column("rows", sa.BigInteger(), nullable=False),
        sa.Column("bytes", sa.BigInteger(), nullable=False),
        sa.Column("raw_bytes", sa.BigInteger(), nullable=False),
        sa.Column("checksum", sa.String(64), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "table_name", "key", name="pk_cold_files"),
    )
    op.create_index(
        "ix_cold_files_tenant_id_table_name_last_id", "cold_files", ["tenant_id", "table_name", "last_id"]
    )


def downgrade() -> None:
    op.drop_index("ix_cold_files_tenant_id_table_name_last_id", table_name="cold_files")
    op.drop_table("cold_files")
    op.drop_table("archive_watermarks")
