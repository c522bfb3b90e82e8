"""The `widgets` history table, on a metadata of its own (never the service's)."""

from __future__ import annotations

from sqlalchemy import Column, Integer, MetaData, String

from storage.processor_tables import history_table

WIDGETS_METADATA = MetaData()

widgets = history_table(
    "widgets",
    Column("color", String(16), nullable=False),
    Column("transaction_count", Integer, nullable=False),
    indexes=(("tenant_id", "color"),),
    on=WIDGETS_METADATA,
)
