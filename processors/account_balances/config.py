"""Tenant config of the AccountBalanceProcessor (balances from ledger entries)."""

from __future__ import annotations

from pydantic import BaseModel

from processors.config_types import CONFIG_MODEL_CONFIG, Address, AssetId, RawAmount


class AccountBalanceConfig(BaseModel):
    """Which balances the tenant keeps. Empty filter lists mean "all"."""

    model_config = CONFIG_MODEL_CONFIG

    accounts: list[Address] = []
    assets: list[AssetId] = []
    min_balance: RawAmount | None = None
    """Smallest balance kept, in raw units (stroops for classic assets)."""
    track_trustlines: bool = True
    """Keep trustline balances, not only native XLM balances."""
    include_claimable_balances: bool = False
    """Also keep claimable balances, with their claimants."""
