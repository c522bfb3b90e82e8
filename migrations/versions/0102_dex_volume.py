"""DEXVolumeProcessor: the dex_volume candle table (a current-style table, not partitioned).

Follows the dex_trades branch: candles are derived from stored trades.

Revision ID: 0102_dex_volume
Revises: 0101_dex_trades
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from migrations.processor_tables import AMOUNT
from storage.tables import UTCDateTime

revision = "0102_dex_volume"
down_revision: str | None = "0101_dex_trades"
branch_labels = None
depends_on = None


def _price(name: str) -> list[sa.Column[object]]:
    return [
        sa.Column(f"{name}_n", AMOUNT, nullable=True),
        sa.Column(f"{name}_d", AMOUNT, nullable=True),
        sa.Column(name, sa.String(64), nullable=True),
    ]


def upgrade() -> None:
    op.create_table(
        "dex_volume",
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("pair", sa.String(140), nullable=False),
        sa.Column("interval", sa.String(4), nullable=False),
        sa.Column("bucket_start", UTCDateTime, nullable=False),
        sa.Column("base_asset", sa.String(100), nullable=False),
        sa.Column("counter_asset", sa.String(100), nullable=False),
        *_price("open"),
        *_price("high"),
        *_price("low"),
        *_price("close"),
        sa.Column("base_volume", AMOUNT, nullable=False),
        sa.Column("counter_volume", AMOUNT, nullable=False),
        sa.Column("trade_count", sa.Integer, nullable=False),
        sa.Column("vwap", sa.String(64), nullable=True),
        sa.Column("first_trade_id", sa.String(32), nullable=False),
        sa.Column("last_trade_id", sa.String(32), nullable=False),
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
