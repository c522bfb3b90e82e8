"""The `contract_events` history table (REFERENCE §4)."""

from __future__ import annotations

from sqlalchemy import JSON, Column, String, Text

from storage.processor_tables import history_table

contract_events = history_table(
    "contract_events",
    Column("contract_id", String(56), nullable=True),  # system events may carry none
    Column("type", String(16), nullable=False),  # contract | system | diagnostic
    Column("event_type", String(64), nullable=True),  # topic 0 as text (symbol or string)
    Column("topics", JSON, nullable=False),  # decoded ScVal JSON, one per topic
    Column("topics_xdr", JSON, nullable=False),  # base64 XDR, one per topic
    # Each topic flattened to text for indexed filters: symbols/strings/addresses as they are, other
    # values as their canonical JSON text.
    Column("topic0", Text, nullable=True),
    Column("topic1", Text, nullable=True),
    Column("topic2", Text, nullable=True),
    Column("topic3", Text, nullable=True),
    Column("data", JSON, nullable=True),
    Column("data_xdr", Text, nullable=True),
    indexes=(
        ("tenant_id", "contract_id", "ledger_sequence"),
        ("tenant_id", "event_type", "ledger_sequence"),
        ("tenant_id", "topic1"),
        ("tenant_id", "topic2"),
        ("tenant_id", "closed_at"),
    ),
)
