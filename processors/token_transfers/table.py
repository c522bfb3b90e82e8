"""The `token_transfers` history table (REFERENCE §4)."""

from __future__ import annotations

from sqlalchemy import Column, Integer, String, Text

from storage.amounts import Amount
from storage.columns import asset_column
from storage.processor_tables import history_table

token_transfers = history_table(
    "token_transfers",
    Column("event_type", String(16), nullable=False),  # transfer | mint | burn | clawback | fee
    Column("from", String(69), nullable=True),  # G/M/C/L/B strkey; null for a mint
    Column("to", String(69), nullable=True),  # null for burn, clawback and fee
    asset_column("asset"),  # native | CODE:ISSUER | contract id (custom token)
    Column(
        "asset_type", String(24), nullable=False
    ),  # native | credit_alphanum4 | credit_alphanum12 | contract
    Column("asset_code", String(12), nullable=True),
    Column("asset_issuer", String(56), nullable=True),
    Column("contract_id", String(56), nullable=True),
    Column("amount_raw", Amount, nullable=False),  # exact, raw units (i128 for tokens; negative = fee refund)
    Column("amount", String(64), nullable=False),  # decimal string in the asset's units
    Column("decimals", Integer, nullable=True),  # 7 for classic assets; a token's own where known
    Column("to_muxed_id", String(80), nullable=True),  # with track_memos
    Column("memo", Text, nullable=True),  # with track_memos
    Column("memo_type", String(8), nullable=True),
    indexes=(
        ("tenant_id", "from", "ledger_sequence"),
        ("tenant_id", "to", "ledger_sequence"),
        ("tenant_id", "asset", "ledger_sequence"),
        ("tenant_id", "closed_at"),
    ),
)
