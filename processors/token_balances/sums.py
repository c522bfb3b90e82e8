"""The derived state of custom-token balances: sums of the tenant's stored token transfers, on the derived-state
toolkit (`storage.derived`, `storage.flows`).

A custom SEP-41 token keeps its balances in its own contract storage, in a layout only its code knows, so its
balances are derived from the tenant's stored token transfer rows: for a holder, the sum of the amounts it
received minus the amounts it sent. Sums are always RECOMPUTED from the stored rows for the (holder, token)
pairs a batch touched, never adjusted by deltas: the transfer rows are written idempotently, so re-ingesting
any ledger, in any order, yields the same sums.

Concurrent batches of one tenant (parallel backfill chunks) would each sum without the other's uncommitted
rows; the tenant's lock (`LOCK`) serialises the recomputation per tenant on PostgreSQL, so the last batch to
commit sums everything (each statement of a READ COMMITTED transaction sees what committed before it). SQLite
has a single writer.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from processors.token_balances.table import token_balances, token_balances_archived, token_balances_tokens
from processors.token_transfers.table import token_transfers
from storage.derived import archived_through, fetch_keyed, update_matching
from storage.flows import sum_legs
from storage.query import Filter, Row

__all__ = ["LOCK", "TokenSum", "counts_for_custom_sums", "custom_token_sums", "mark_exact", "seen_tokens"]

LOCK = "token sums"
Pair = tuple[str, str]  # (holder, asset)
# Transfers a custom token's balance counts: of the token (a contract) in a successful transaction.
_COUNTED = (Filter.eq("asset_type", "contract"), Filter.eq("in_successful_tx", True))


def counts_for_custom_sums(row: Row) -> bool:
    """Whether a transfer row counts in custom-token sums (`_COUNTED`, for rows in hand)."""
    return row["asset_type"] == "contract" and bool(row["in_successful_tx"])


@dataclass(frozen=True)
class TokenSum:
    """A holder's summed balance of one custom token, and the last ledger that moved it."""

    balance: int
    last_ledger: int
    closed_at: datetime


async def custom_token_sums(
    conn: AsyncConnection, tenant_id: str, pairs: Collection[Pair]
) -> dict[Pair, TokenSum]:
    """The summed balance of each (holder, custom token) pair over the tenant's stored transfer rows: the hot
    rows after the transfers' archive watermark, plus the archived baseline (`archived`). The caller holds
    `LOCK`, which archival takes too, so the watermark and the baseline read here belong together."""
    archived = await archived_through(conn, tenant_id, token_transfers)
    if archived is None:
        flows = await sum_legs(conn, token_transfers, tenant_id, _COUNTED, pairs=pairs)
        return {key: TokenSum(flow.amount, flow.last_ledger, flow.closed_at) for key, flow in flows.items()}
    # Hot rows at or below the watermark are archived ones not yet deleted (or re-ingested): the baseline
    # holds them.
    after = Filter(("id",), "gt", archived.last_id)
    flows = await sum_legs(conn, token_transfers, tenant_id, (*_COUNTED, after), pairs=pairs)
    base = await fetch_keyed(conn, token_balances_archived, tenant_id, ("account_id", "asset"), pairs)
    sums: dict[Pair, TokenSum] = {}
    for key in set(flows) | set(base):
        flow, old = flows.get(key), base.get(key)
        parts = [
            *([(flow.amount, flow.last_ledger, flow.closed_at)] if flow else []),
            *([(old["amount_raw"], old["ledger_sequence"], old["closed_at"])] if old else []),
        ]
        sums[key] = TokenSum(sum(p[0] for p in parts), max(p[1] for p in parts), max(p[2] for p in parts))
    return sums


async def seen_tokens(conn: AsyncConnection, tenant_id: str, assets: Iterable[str]) -> set[str]:
    """Which of `assets` the tenant's ingestion saw being created (rows of the tokens table)."""
    found = await fetch_keyed(
        conn, token_balances_tokens, tenant_id, ("contract_id",), {(a,) for a in assets}
    )
    return {contract for (contract,) in found}


async def mark_exact(conn: AsyncConnection, tenant_id: str, assets: Collection[str]) -> None:
    """Mark every summed balance of `assets` exact (their creation has just been ingested: a backfill that
    reached back to a token's creation after its later ledgers were ingested)."""
    if assets:
        chosen = (Filter.any_of("asset", sorted(assets)), Filter.eq("source", "transfers"))
        await update_matching(conn, token_balances, tenant_id, chosen, {"exact": True})
