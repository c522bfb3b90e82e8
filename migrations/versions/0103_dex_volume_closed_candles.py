"""DEXVolumeProcessor: the dex_closed_candles history table (candles as they closed; partitioned by closed_at on
PostgreSQL like every history table).

Revision ID: 0103_dex_volume_closed_candles
Revises: 0102_dex_volume
"""

from __future__ import annotations

from alembic import op

from migrations.processor_tables import candle_columns_v1, create_history_table, drop_history_table

revision = "0103_dex_volume_closed_candles"
down_revision: str | None = "0102_dex_volume"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_history_table(
        op,
        "dex_closed_candles",
        candle_columns_v1(),
        (("tenant_id", "pair", "interval", "bucket_start"),),
    )


def downgrade() -> None:
    drop_history_table(op, "dex_closed_candles")
