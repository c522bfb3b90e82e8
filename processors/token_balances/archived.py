"""`on_archive` of the TokenBalanceProcessor: keep custom-token sums whole when transfers move to the cold tier.

A custom token's balance is the sum of the tenant's stored transfers of it (`sums`). Archival deletes the
oldest transfers from the hot store, where `after_write` sums; so, in the transaction that moves the
transfers' archive watermark, their net amounts per (holder, token) are added to ``token_balances_archived``,
and `sums.custom_token_sums` adds that baseline to the sum over the transfers after the watermark. The
watermark and the baseline commit together, so each archived transfer is counted exactly once: before
archival by the hot sum, after it by the baseline.

Every custom-token transfer of a successful transaction is folded, whatever the tenant's balance filters: the
filters only choose which pairs are summed, and a filter changed later must still find whole sums.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from processors.token_balances.config import TokenBalanceConfig
from processors.token_balances.sums import LOCK, counts_for_custom_sums
from processors.token_balances.table import token_balances_archived
from storage.derived import fetch_keyed, lock, replace_rows

__all__ = ["on_archive"]

Row = dict[str, Any]
TRANSFERS = "token_transfers"
_KEY = ("account_id", "asset")


def net_legs(transfers: list[Row]) -> dict[tuple[str, str], tuple[int, int, datetime]]:
    """Per (holder, custom token): received minus sent over `transfers`, and the last ledger and close time."""
    legs: dict[tuple[str, str], tuple[int, int, datetime]] = {}
    for row in transfers:
        if not counts_for_custom_sums(row):
            continue
        for holder, sign in ((row["to"], 1), (row["from"], -1)):
            if holder is None:
                continue
            key = (holder, row["asset"])
            amount, ledger, closed_at = legs.get(key, (0, row["ledger_sequence"], row["closed_at"]))
            legs[key] = (
                amount + sign * row["amount_raw"],
                max(ledger, row["ledger_sequence"]),
                max(closed_at, row["closed_at"]),
            )
    return legs


async def on_archive(
    conn: AsyncConnection, tenant_id: str, rows: Mapping[str, list[Row]], config: TokenBalanceConfig
) -> None:
    """Add the net amounts of the archived custom-token transfers in `rows` to the tenant's baseline."""
    legs = net_legs(list(rows.get(TRANSFERS, [])))
    if not legs:
        return
    # The same lock as the sums of `after_write`: an ingestion batch sums either before this commit (hot rows
    # and old baseline) or after it (new watermark and new baseline), never a mix.
    await lock(conn, LOCK, tenant_id)
    stored = await fetch_keyed(conn, token_balances_archived, tenant_id, _KEY, set(legs))
    merged = []
    for (holder, asset), (amount, ledger, closed_at) in sorted(legs.items()):
        before = stored.get((holder, asset))
        if before is not None:
            amount += before["amount_raw"]
            ledger = max(ledger, before["ledger_sequence"])
            closed_at = max(closed_at, before["closed_at"])
        merged.append(
            {
                "tenant_id": tenant_id,
                "account_id": holder,
                "asset": asset,
                "amount_raw": amount,
                "ledger_sequence": ledger,
                "closed_at": closed_at,
            }
        )
    await replace_rows(conn, token_balances_archived, merged)
