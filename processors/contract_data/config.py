"""Tenant config of the ContractDataProcessor (Soroban contract storage changes)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

from processors.config_types import CONFIG_MODEL_CONFIG, ContractAddress, Symbol

Durability = Literal["persistent", "temporary"]


class ContractDataConfig(BaseModel):
    """Which contract storage entries the tenant keeps. Empty filter lists mean "all"."""

    model_config = CONFIG_MODEL_CONFIG

    contracts: list[ContractAddress] = []
    key_symbols: list[Symbol] = []
    """Keep entries whose key is this symbol, or a vector starting with it (e.g. ``Balance``)."""
    durability: list[Durability] = []
    include_instances: bool = True
    """Keep contract instance entries (wasm hash, or the asset of a Stellar Asset Contract)."""
