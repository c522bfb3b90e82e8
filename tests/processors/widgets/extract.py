"""Extraction (one widget per ledger) and the tenant filter (which colors to keep)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from pydantic import BaseModel

from core.ids import row_id
from ledgers.view import LedgerView
from processors.config_types import CONFIG_MODEL_CONFIG
from storage.query import Row

Color = Literal["green", "blue"]


class WidgetConfig(BaseModel):
    model_config = CONFIG_MODEL_CONFIG

    colors: list[Color] = []
    """Colors to keep; empty keeps all."""


def extract(view: LedgerView) -> Mapping[str, list[Row]]:
    sequence = view.sequence
    return {
        "widgets": [
            {
                "id": row_id(sequence, 0, 0, 0),
                "ledger_sequence": sequence,
                "closed_at": view.closed_at,
                "tx_hash": None,
                "transaction_index": 0,
                "operation_index": 0,
                "event_index": 0,
                "in_successful_tx": True,
                "color": "green" if sequence % 2 == 0 else "blue",
                "transaction_count": len(view.transactions),
            }
        ]
    }


def select(rows: Mapping[str, list[Row]], config: WidgetConfig) -> dict[str, list[Row]]:
    colors = set(config.colors)
    return {table: [r for r in kept if not colors or r["color"] in colors] for table, kept in rows.items()}
