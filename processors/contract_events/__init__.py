"""Contract events: Soroban events with decoded topics and data."""

from __future__ import annotations

from processors.base import Processor
from processors.contract_events.config import ContractEventConfig

processor = Processor(
    name="contract_events",
    type_name="ContractEventProcessor",
    version=1,
    requires=(),
    config_model=ContractEventConfig,
    description="Soroban contract events with decoded topics and data, filterable by contract and topic.",
    webhook_events=("contract_event",),
)

__all__ = ["processor"]
