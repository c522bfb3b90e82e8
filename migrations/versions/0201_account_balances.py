"""AccountBalanceProcessor: the account_balances history table (partitioned by closed_at on PostgreSQL) and the
account_balances_current table.

A branch of its own (label ``account_balances``) on the foundation, so processors' migrations stay independent.

Revision ID: 0201_account_balances
Revises: 0004_backfill_ranges
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

from migrations.processor_tables import AMOUNT, create_history_table, drop_history_table
from storage.tables import UTCDateTime

revision = "0201_account_balances"
down_revision: str | None = "0004_backfill_ranges"
branch_labels = ("account_balances",)
depends_on = None


def _balance_columns() -> list[sa.Column[Any]]:
    return [
        sa.Column("account_id", sa.String(69), nullable=False),
        sa.Column("asset", sa.String(100), nullable=False),
        sa.Column("balance_raw", AMOUNT, nullable=False),
        sa.Column("balance", sa.String(64), nullable=False),
        sa.Column("buying_liabilities", AMOUNT, nullable=True),
        sa.Column("selling_liabilities", AMOUNT, nullable=True),
        sa.Column("limit", AMOUNT, nullable=True),
        sa.Column("authorized", sa.Boolean, nullable=True),
        sa.Column("authorized_to_maintain_liabilities", sa.Boolean, nullable=True),
        sa.Column("clawback_enabled", sa.Boolean, nullable=True),
        sa.Column("source", sa.String(24), nullable=False),
        sa.Column("last_modified_ledger", sa.BigInteger, nullable=False),
        sa.Column("deleted", sa.Boolean, nullable=False),
        sa.Column("claimants", sa.JSON, nullable=True),
    ]


def upgrade() -> None:
    create_history_table(
        op,
        "account_balances",
        [*_balance_columns(), sa.Column("previous_balance_raw", AMOUNT, nullable=True)],
        (
            ("tenant_id", "account_id", "ledger_sequence"),
            ("tenant_id", "asset", "ledger_sequence"),
            ("tenant_id", "closed_at"),
        ),
    )
    op.create_table(
        "account_balances_current",
        sa.Column("tenant_id", sa.String(64), nullable=False),
        *_balance_columns(),
        sa.Column("ledger_sequence", sa.BigInteger, nullable=False),
        sa.Column("closed_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "account_id", "asset", name="pk_account_balances_current"),
    )
    op.create_index(
        "ix_account_balances_current_tenant_id_asset_balance_raw",
        "account_balances_current",
        ["tenant_id", "asset", "balance_raw"],
    )


def downgrade() -> None:
    op.drop_table("account_balances_current")
    drop_history_table(op, "account_balances")
