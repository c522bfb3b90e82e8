"""The token transfer row, built the same way by the unified-events path and the derivation path."""

from __future__ import annotations

from typing import Any

from core.ids import row_id
from processors.token_transfers.assets import classify, format_amount
from processors.token_transfers.events import Movement

Row = dict[str, Any]


def transfer_row(
    common: Row,
    transaction_index: int,
    operation_index: int,
    event_index: int,
    movement: Movement,
    asset_string: str | None,
    contract_id: str,
    passphrase: str,
) -> Row:
    info = classify(contract_id, asset_string, passphrase)
    amount = movement.amount
    return {
        "id": row_id(common["ledger_sequence"], transaction_index, operation_index, event_index),
        **common,
        "operation_index": operation_index,
        "event_index": event_index,
        "event_type": movement.event_type,
        "from": movement.from_,
        "to": movement.to,
        "asset": info.asset,
        "asset_type": info.asset_type,
        "asset_code": info.asset_code,
        "asset_issuer": info.asset_issuer,
        "contract_id": contract_id,
        "amount_raw": amount,
        "amount": format_amount(amount, info.decimals),
        "decimals": info.decimals,
        "to_muxed_id": movement.to_muxed_id,
    }
