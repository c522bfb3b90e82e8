"""Tenant config of the TokenBalanceProcessor (current balances derived from token transfers)."""

from __future__ import annotations

from pydantic import BaseModel

from processors.config_types import CONFIG_MODEL_CONFIG, Address, AssetId


class TokenBalanceConfig(BaseModel):
    """Which balances the tenant keeps. Empty filter lists mean "all"."""

    model_config = CONFIG_MODEL_CONFIG

    accounts: list[Address] = []
    assets: list[AssetId] = []
