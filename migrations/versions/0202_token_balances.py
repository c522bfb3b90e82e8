"""TokenBalanceProcessor: the token_balances current table and the token_balances_tokens table (contracts whose
creation a tenant's ingestion saw).

Revision ID: 0202_token_balances
Revises: 0201_account_balances
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from migrations.processor_tables import AMOUNT
from storage.tables import UTCDateTime

revision = "0202_token_balances"
down_revision: str | None = "0201_account_balances"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "token_balances",
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("account_id", sa.String(69), nullable=False),
        sa.Column("asset", sa.String(100), nullable=False),
        sa.Column("balance_raw", AMOUNT, nullable=False),
        sa.Column("balance", sa.String(64), nullable=False),
        sa.Column("exact", sa.Boolean, nullable=False),
        sa.Column("source", sa.String(24), nullable=False),
        sa.Column("deleted", sa.Boolean, nullable=False),
        sa.Column("last_modified_ledger", sa.BigInteger, nullable=False),
        sa.Column("ledger_sequence", sa.BigInteger, nullable=False),
        sa.Column("closed_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "account_id", "asset", name="pk_token_balances"),
    )
    op.create_index(
        "ix_token_balances_tenant_id_asset_balance_raw",
        "token_balances",
        ["tenant_id", "asset", "balance_raw"],
    )
    op.create_table(
        "token_balances_tokens",
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("contract_id", sa.String(56), nullable=False),
        sa.Column("created_ledger", sa.BigInteger, nullable=False),
        sa.Column("ledger_sequence", sa.BigInteger, nullable=False),
        sa.Column("closed_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "contract_id", name="pk_token_balances_tokens"),
    )


def downgrade() -> None:
    op.drop_table("token_balances_tokens")
    op.drop_table("token_balances")
