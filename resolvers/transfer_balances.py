"""Token balances summed from a tenant's stored transfers: the answer for a tenant that runs the token
transfer processor but not the token balance processor (REFERENCE §4). Such a balance only covers what was
indexed, so every row says `exact: false` and `source: "transfers"`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from processors.token_transfers.assets import format_amount
from storage.router import QueryRouter

CLASSIC_DECIMALS = 7


async def balances_from_transfers(
    router: QueryRouter, tenant_id: str, accounts: Sequence[str]
) -> dict[str, list[dict[str, Any]]]:
    """`{account: rows}`, rows shaped like the token balance processor's (`account_id`, `asset`,
    `balance_raw`, `balance`, `exact`, `source`, `deleted`, `last_modified_ledger`), ordered by asset."""
    flows = await router.net_flows(tenant_id, accounts)
    out: dict[str, list[dict[str, Any]]] = {}
    for account in accounts:
        rows = []
        for asset, flow in sorted(flows.get(account, {}).items()):
            decimals = flow.decimals if flow.decimals is not None else _default_decimals(asset)
            rows.append(
                {
                    "account_id": account,
                    "asset": asset,
                    "balance_raw": flow.amount,
                    "balance": format_amount(flow.amount, decimals),
                    "exact": False,
                    "source": "transfers",
                    "deleted": False,
                    "last_modified_ledger": flow.last_ledger,
                }
            )
        out[account] = rows
    return out


def _default_decimals(asset: str) -> int | None:
    # Classic assets (native, CODE:ISSUER) have 7 decimals; a custom token's are its own, unknown here.
    return CLASSIC_DECIMALS if asset == "native" or ":" in asset else None
