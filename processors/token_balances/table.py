"""The `token_balances` current table and the `token_balances_tokens` table (REFERENCE §4).

`token_balances`: the current balance per (tenant, holder, asset). ``source`` tells where it comes from:
``account`` / ``trustline`` / ``contract`` (a Stellar Asset Contract balance) are read from ledger state and
``exact``; ``transfers`` is a custom SEP-41 token (asset = its contract id) summed from the tenant's stored
token transfers, ``exact`` only when the tenant's indexing covers the token's whole life (see `extract`).

`token_balances_tokens`: the contracts whose creation (instance entry created) a tenant's ingestion has seen,
with the ledger; what makes a custom token's sum exact.

`token_balances_archived`: per (tenant, holder, custom token), the net amount of the transfers that moved to
the cold tier (`archived`), so a sum stays whole after its oldest transfers left the hot store.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, String

from storage.amounts import Amount
from storage.columns import asset_column
from storage.processor_tables import current_table

BALANCES = "token_balances"
TOKENS = "token_balances_tokens"
ARCHIVED = "token_balances_archived"

token_balances = current_table(
    BALANCES,
    ("account_id", "asset"),
    Column("account_id", String(69), nullable=False),  # G… account or C… contract
    asset_column("asset"),  # native | CODE:ISSUER | a custom token's contract id
    Column("balance_raw", Amount, nullable=False),  # exact integer in the token's raw units
    Column("balance", String(64), nullable=False),  # 7 decimals for classic assets; raw integer for tokens
    Column("exact", Boolean, nullable=False),
    Column("source", String(24), nullable=False),  # account | trustline | contract | transfers
    Column("deleted", Boolean, nullable=False),  # the entry was removed (ledger-state sources only)
    Column("last_modified_ledger", BigInteger, nullable=False),
    indexes=(("tenant_id", "asset", "balance_raw"),),
)

token_balances_tokens = current_table(
    TOKENS,
    ("contract_id",),
    Column("contract_id", String(56), nullable=False),
    Column("created_ledger", BigInteger, nullable=False),
)

token_balances_archived = current_table(
    ARCHIVED,
    ("account_id", "asset"),
    Column("account_id", String(69), nullable=False),
    asset_column("asset"),
    Column("amount_raw", Amount, nullable=False),  # received minus sent, over the archived transfers
    # ledger_sequence / closed_at (from current_table): the last archived transfer that moved the pair
)
