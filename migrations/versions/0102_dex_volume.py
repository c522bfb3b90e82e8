"""DEXVolumeProcessor: the dex_volume candle table (a current-style table, not partitioned).

Follows the dex_trades branch: candles are derived from stored trades.

Revision ID: 0102_dex_volume
Revises: 0101_dex_trades
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from migrations.processor_tables import candle_columns_v1
from storage.tables import UTCDateTime

revision = "0102_dex_volume"
down_revision: str | None = "0101_dex_trades"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dex_volume",
        sa.Column("tenant_id", sa.String(64), nullable=False),
        *candle_columns_v1(),
        sa.Column("ledger_sequence", sa.BigInteger, nullable=False),
        sa.Column("closed_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "pair", "interval", "bucket_start", name="pk_dex_volume"),
    )
    op.create_index(
        "ix_dex_volume_tenant_id_interval_bucket_start",
        "dex_volume",
        ["tenant_id", "interval", "bucket_start"],
    )


def downgrade() -> None:
    op.drop_table("dex_volume")
