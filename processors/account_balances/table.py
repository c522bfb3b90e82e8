"""The `account_balances` history table and the `account_balances_current` table (REFERENCE §4).

History: one row per holder and asset per ledger in which that balance changed, holding the state AFTER the
ledger. Its order key is ``(ledger_sequence, 0, 0, n)``: a row describes the ledger's net effect, not one
transaction (so transaction and operation index are 0), and ``n`` (``event_index``) numbers the ledger's balance
changes in order of their first entry change in application order, unique per ledger. ``tx_hash`` names the
last transaction that changed the balance (null for a ledger upgrade).

Current: the latest state per (tenant, holder, asset); removed entries stay, marked ``deleted``.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Column, String

from storage.amounts import Amount
from storage.columns import asset_column
from storage.processor_tables import current_table, history_table

HISTORY = "account_balances"
CURRENT = "account_balances_current"


def _balance_columns() -> list[Column[Any]]:
    """The columns both tables share (a Column belongs to one table, so each table gets its own)."""
    return [
        Column("account_id", String(69), nullable=False),  # G… account, C… contract or B… claimable balance
        asset_column("asset"),  # native | CODE:ISSUER | pool_share:L…
        Column("balance_raw", Amount, nullable=False),  # exact, stroops; 0 once deleted
        Column("balance", String(64), nullable=False),  # decimal string, 7 decimals
        Column("buying_liabilities", Amount, nullable=True),  # accounts and trustlines only
        Column("selling_liabilities", Amount, nullable=True),
        Column("limit", Amount, nullable=True),  # trustlines only
        Column("authorized", Boolean, nullable=True),  # trustlines and SAC balances
        Column("authorized_to_maintain_liabilities", Boolean, nullable=True),  # trustlines only
        Column("clawback_enabled", Boolean, nullable=True),  # trustlines, SAC and claimable balances
        Column("source", String(24), nullable=False),  # account | trustline | claimable_balance | contract
        Column("last_modified_ledger", BigInteger, nullable=False),
        Column("deleted", Boolean, nullable=False),
        Column("claimants", JSON, nullable=True),  # claimable balances: the claimant accounts
    ]


account_balances = history_table(
    HISTORY,
    *_balance_columns(),
    # The balance before the ledger (null: the entry did not exist), so a change can be told without a lookup.
    Column("previous_balance_raw", Amount, nullable=True),
    indexes=(
        ("tenant_id", "account_id", "ledger_sequence"),
        ("tenant_id", "asset", "ledger_sequence"),
        ("tenant_id", "closed_at"),
    ),
)

account_balances_current = current_table(
    CURRENT,
    ("account_id", "asset"),
    *_balance_columns(),
    indexes=(("tenant_id", "asset", "balance_raw"),),
)
