"""Contract data: changes to Soroban contract storage, and the current storage per contract."""

from __future__ import annotations

from processors.base import Processor
from processors.contract_data.config import ContractDataConfig

processor = Processor(
    name="contract_data",
    type_name="ContractDataProcessor",
    version=1,
    requires=(),
    config_model=ContractDataConfig,
    description="Soroban contract storage changes with decoded keys and values, and current storage.",
    webhook_events=("contract_data_change",),
)

__all__ = ["processor"]
