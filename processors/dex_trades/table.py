"""The `dex_trades` history table (REFERENCE §4); the meaning of each column is in `extract`'s docstring."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Integer, String

from storage.amounts import Amount
from storage.columns import asset_column
from storage.processor_tables import history_table

dex_trades = history_table(
    "dex_trades",
    Column("trade_index", Integer, nullable=False),  # the claim atom's position in the operation's result
    Column("trade_type", String(16), nullable=False),  # orderbook | liquidity_pool
    Column("seller", String(56), nullable=True),  # offer owner (G…); null for pools
    Column("buyer", String(56), nullable=False),  # operation source, else transaction source (G…)
    Column("buyer_muxed", String(69), nullable=True),  # its M… form when the source was muxed
    Column("offer_id", BigInteger, nullable=True),
    Column("pool_id", String(56), nullable=True),  # L…
    asset_column("sold_asset"),  # what the seller (offer owner / pool) gave
    Column("sold_amount", Amount, nullable=False),
    asset_column("bought_asset"),  # what the seller received
    Column("bought_amount", Amount, nullable=False),
    # bought per sold, reduced; null only if sold_amount were 0 (never seen: zero atoms are no trades)
    Column("price_n", Amount, nullable=True),
    Column("price_d", Amount, nullable=True),
    Column("price", String(64), nullable=True),  # price_n/price_d as a decimal string
    Column("pair", String(140), nullable=False),  # canonical BASE/COUNTER (processors.dex_trades.pairs)
    indexes=(
        ("tenant_id", "pair", "closed_at"),  # pair queries and the dex_volume refresh
        ("tenant_id", "seller", "ledger_sequence"),
        ("tenant_id", "buyer", "ledger_sequence"),
        ("tenant_id", "closed_at"),
    ),
)
