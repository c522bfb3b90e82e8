"""Tenant config of the TokenTransferProcessor (CAP-67 unified token events: transfer, mint, burn, ...)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

from processors.config_types import CONFIG_MODEL_CONFIG, Address, AssetId, ContractAddress, RawAmount

TokenEventType = Literal["transfer", "mint", "burn", "clawback", "fee"]


class TokenTransferConfig(BaseModel):
    """Which token movements the tenant keeps. Empty filter lists mean "all"."""

    model_config = CONFIG_MODEL_CONFIG

    track_memos: bool = False
    """Keep the transaction memo and the muxed destination id with each row."""
    include_failed_txs: bool = False
    """Also keep the fee events of failed transactions (fees are charged even when a transaction fails)."""
    event_types: list[TokenEventType] = []
    assets: list[AssetId] = []
    accounts: list[Address] = []
    """Keep a movement when any of these is its sender or receiver."""
    contracts: list[ContractAddress] = []
    """Keep movements of tokens emitted by these contracts (Stellar Asset Contracts or SEP-41 tokens)."""
    min_amount: RawAmount | None = None
    """Smallest amount kept, in the token's raw units."""
