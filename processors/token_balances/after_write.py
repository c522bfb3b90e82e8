"""Custom SEP-41 token balances, recomputed after each batch from the tenant's stored token transfers.

For the (holder, token) pairs the batch's token transfer rows touched (custom tokens only: native, trustline
and SAC balances are exact from ledger state), each balance is re-summed from every stored transfer row of the
tenant (`sums`), so re-ingesting a ledger changes nothing. A sum is ``exact`` when the
tenant's ingestion saw the token's creation (`extract`, ``token_balances_tokens``).

Assumptions behind ``exact: true``, which this processor cannot check from its own rows: the tenant's ledgers
from the token's creation on are all ingested (no backfill chunk missing), and the tenant's token transfer
filter keeps every movement of the token for the holder (no ``event_types``, ``min_amount``, ``assets`` or
``contracts`` filter that drops some, and either no ``accounts`` filter or the holder among them).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from processors.account_balances.select import holder_accounts
from processors.token_balances.config import TokenBalanceConfig
from processors.token_balances.sums import LOCK, custom_token_sums, mark_exact, seen_tokens
from processors.token_balances.table import BALANCES, TOKENS, token_balances
from storage.derived import lock
from storage.hot_writes import write_rows

__all__ = ["after_write", "touched_pairs"]

Row = dict[str, Any]
TRANSFERS = "token_transfers"


def touched_pairs(transfer_rows: list[Row], config: TokenBalanceConfig) -> set[tuple[str, str]]:
    """(holder, custom token) pairs moved by `transfer_rows` that the tenant's filter keeps."""
    accounts = holder_accounts(config.accounts) if config.accounts else None
    assets = frozenset(config.assets) if config.assets else None
    pairs: set[tuple[str, str]] = set()
    for row in transfer_rows:
        if row["asset_type"] != "contract" or not row["in_successful_tx"]:
            continue
        asset = row["asset"]
        if assets is not None and asset not in assets:
            continue
        for holder in (row["from"], row["to"]):
            if holder is not None and (accounts is None or holder in accounts):
                pairs.add((holder, asset))
    return pairs


async def after_write(
    conn: AsyncConnection,
    tenant_id: str,
    tenant_rows: Mapping[str, Mapping[str, list[Row]]],
    config: TokenBalanceConfig,
) -> None:
    """Bring the tenant's custom-token balances up to date with the rows this batch wrote."""
    pairs = touched_pairs(list(tenant_rows.get(TRANSFERS, {}).get(TRANSFERS, [])), config)
    created = {row["contract_id"] for row in tenant_rows.get(BALANCES, {}).get(TOKENS, [])}
    if not pairs and not created:
        return
    await lock(conn, LOCK, tenant_id)
    if pairs:
        sums = await custom_token_sums(conn, tenant_id, pairs)
        exact = await seen_tokens(conn, tenant_id, {a for _, a in pairs})
        rows = [
            {
                "tenant_id": tenant_id,
                "account_id": holder,
                "asset": asset,
                "balance_raw": total.balance,
                "balance": str(total.balance),  # a custom token's decimals are not known from its events
                "exact": asset in exact,
                "source": "transfers",
                "deleted": False,
                "last_modified_ledger": total.last_ledger,
                "ledger_sequence": total.last_ledger,
                "closed_at": total.closed_at,
            }
            for (holder, asset), total in sorted(sums.items())
        ]
        await write_rows(conn, token_balances, rows)
    await mark_exact(conn, tenant_id, created)
