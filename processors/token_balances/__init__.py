"""Token balances: current balance per (account, asset), derived from token transfers."""

from __future__ import annotations

from processors.base import Processor
from processors.token_balances.config import TokenBalanceConfig

processor = Processor(
    name="token_balances",
    type_name="TokenBalanceProcessor",
    version=1,
    requires=("TokenTransferProcessor",),
    config_model=TokenBalanceConfig,
    description="Current balance per account and asset, including SEP-41 tokens, derived from transfers.",
)

__all__ = ["processor"]
