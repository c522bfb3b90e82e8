"""The tenant filter of token balances: `select(rows_by_table, config)`.

- ``accounts``: the holder is one of them (an ``M…`` entry stands for its ``G…`` account);
- ``assets``: the asset is one of them (``native``, ``CODE:ISSUER`` or a custom token's contract id).

Created-contract rows are kept unless ``assets`` is set and does not name the contract: they only decide
whether custom-token sums are exact. The same filter applies to the summed custom-token balances
(`after_write.touched_pairs`). Input rows are never modified.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from processors.account_balances.select import holder_accounts
from processors.token_balances.config import TokenBalanceConfig
from processors.token_balances.table import BALANCES, TOKENS

__all__ = ["select"]

Row = dict[str, Any]


def select(rows_by_table: Mapping[str, list[Row]], config: TokenBalanceConfig) -> dict[str, list[Row]]:
    """The rows this tenant keeps (see the module docstring)."""
    balances = rows_by_table.get(BALANCES, [])
    tokens = rows_by_table.get(TOKENS, [])
    if config.accounts:
        accounts = holder_accounts(config.accounts)
        balances = [row for row in balances if row["account_id"] in accounts]
    if config.assets:
        assets = frozenset(config.assets)
        balances = [row for row in balances if row["asset"] in assets]
        tokens = [row for row in tokens if row["contract_id"] in assets]
    return {BALANCES: list(balances), TOKENS: list(tokens)}
