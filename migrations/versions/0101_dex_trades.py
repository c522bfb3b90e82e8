"""DEXTradeProcessor: the dex_trades history table (partitioned by closed_at on PostgreSQL).

A branch of its own (label ``dex_trades``) on the foundation, so processors can be added independently.

Revision ID: 0101_dex_trades
Revises: 0004_backfill_ranges
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from migrations.processor_tables import AMOUNT, create_history_table, drop_history_table

revision = "0101_dex_trades"
down_revision: str | None = "0004_backfill_ranges"
branch_labels = ("dex_trades",)
depends_on = None


def upgrade() -> None:
    create_history_table(
        op,
        "dex_trades",
        [
            sa.Column("trade_index", sa.Integer, nullable=False),
            sa.Column("trade_type", sa.String(16), nullable=False),
            sa.Column("seller", sa.String(56), nullable=True),
            sa.Column("buyer", sa.String(56), nullable=False),
            sa.Column("buyer_muxed", sa.String(69), nullable=True),
            sa.Column("offer_id", sa.BigInteger, nullable=True),
            sa.Column("pool_id", sa.String(56), nullable=True),
            sa.Column("sold_asset", sa.String(100), nullable=False),
            sa.Column("sold_amount", AMOUNT, nullable=False),
            sa.Column("bought_asset", sa.String(100), nullable=False),
            sa.Column("bought_amount", AMOUNT, nullable=False),
            sa.Column("price_n", AMOUNT, nullable=True),
            sa.Column("price_d", AMOUNT, nullable=True),
            sa.Column("price", sa.String(64), nullable=True),
            sa.Column("pair", sa.String(140), nullable=False),
        ],
        (
            ("tenant_id", "pair", "closed_at"),
            ("tenant_id", "seller", "ledger_sequence"),
            ("tenant_id", "buyer", "ledger_sequence"),
            ("tenant_id", "closed_at"),
        ),
    )


def downgrade() -> None:
    drop_history_table(op, "dex_trades")
