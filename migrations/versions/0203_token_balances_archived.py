"""TokenBalanceProcessor: token_balances_archived, the net amounts of custom-token transfers that moved to the
cold tier, per holder and token (so summed balances stay whole after archival).

Revision ID: 0203_token_balances_archived
Revises: 0202_token_balances
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from migrations.processor_tables import AMOUNT
from storage.tables import UTCDateTime

revision = "0203_token_balances_archived"
down_revision: str | None = "0202_token_balances"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "token_balances_archived",
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("account_id", sa.String(69), nullable=False),
        sa.Column("asset", sa.String(100), nullable=False),
        sa.Column("amount_raw", AMOUNT, nullable=False),
        sa.Column("ledger_sequence", sa.BigInteger, nullable=False),
        sa.Column("closed_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "account_id", "asset", name="pk_token_balances_archived"),
    )


def downgrade() -> None:
    op.drop_table("token_balances_archived")
