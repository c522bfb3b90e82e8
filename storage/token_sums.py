"""SQL of custom-token balances summed from stored token movements (derived state kept by a processor's
``after_write``).

A custom SEP-41 token keeps its balances in its own contract storage, in a layout only its code knows, so its
balances are derived from the tenant's stored token transfer rows: for a holder, the sum of the amounts it
received minus the amounts it sent. Sums are always RECOMPUTED from the stored rows for the (holder, token)
pairs a batch touched, never adjusted by deltas: the transfer rows are written idempotently, so re-ingesting
any ledger, in any order, yields the same sums.

Concurrent batches of one tenant (parallel backfill chunks) would each sum without the other's uncommitted
rows; `lock_tenant` serialises the recomputation per tenant on PostgreSQL, so the last batch to commit sums
everything (each statement of a READ COMMITTED transaction sees what committed before it). SQLite has a
single writer.

The sums are `storage.flows.sum_legs` (in SQL on PostgreSQL, in Python on SQLite).

The tables are passed in (storage does not import processors); their columns are those of the token
transfers table (``tenant_id``, ``from``, ``to``, ``asset``, ``asset_type``, ``amount_raw``,
``decimals``, ``ledger_sequence``, ``closed_at``, ``in_successful_tx``) and of the token balance tables.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Table, select, text, tuple_, update
from sqlalchemy.ext.asyncio import AsyncConnection

from storage.db import dialect_name
from storage.flows import sum_legs

__all__ = ["TokenSum", "custom_token_sums", "lock_tenant", "mark_exact", "seen_tokens"]

Pair = tuple[str, str]  # (holder, asset)
_CHUNK = 2000  # pairs per statement: 4 bind parameters each, well under the driver's 32767
_CUSTOM = "contract"


@dataclass(frozen=True)
class TokenSum:
    """A holder's summed balance of one custom token, and the last ledger that moved it."""

    balance: int
    last_ledger: int
    closed_at: datetime


async def lock_tenant(conn: AsyncConnection, key: str) -> None:
    """Serialise custom-token recomputation for `key` until the transaction ends (PostgreSQL only)."""
    if dialect_name(conn) == "postgresql":
        await conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": key})


async def custom_token_sums(
    conn: AsyncConnection, transfers: Table, tenant_id: str, pairs: Collection[Pair]
) -> dict[Pair, TokenSum]:
    """The summed balance of each (holder, custom token) pair over the tenant's stored transfer rows."""
    out: dict[Pair, TokenSum] = {}
    ordered = sorted(pairs)
    t = transfers.c
    for start in range(0, len(ordered), _CHUNK):
        chunk = ordered[start : start + _CHUNK]

        def where(side: Any, chunk: list[Pair] = chunk) -> list[Any]:
            return [
                t.tenant_id == tenant_id,
                t.asset_type == _CUSTOM,
                t.in_successful_tx.is_(True),
                tuple_(side, t.asset).in_(chunk),
            ]

        for key, flow in (await sum_legs(conn, transfers, where)).items():
            out[key] = TokenSum(flow.amount, flow.last_ledger, flow.closed_at)
    return out


async def seen_tokens(
    conn: AsyncConnection, tokens: Table, tenant_id: str, assets: Iterable[str]
) -> set[str]:
    """Which of `assets` the tenant's ingestion saw being created (rows of the tokens table)."""
    wanted = sorted(set(assets))
    found: set[str] = set()
    for start in range(0, len(wanted), _CHUNK):
        query = select(tokens.c.contract_id).where(
            tokens.c.tenant_id == tenant_id, tokens.c.contract_id.in_(wanted[start : start + _CHUNK])
        )
        found.update((await conn.execute(query)).scalars())
    return found


async def mark_exact(conn: AsyncConnection, balances: Table, tenant_id: str, assets: Collection[str]) -> None:
    """Mark every summed balance of `assets` exact (their creation has just been ingested: a backfill that
    reached back to a token's creation after its later ledgers were ingested)."""
    if not assets:
        return
    await conn.execute(
        update(balances)
        .where(
            balances.c.tenant_id == tenant_id,
            balances.c.asset.in_(sorted(assets)),
            balances.c.source == "transfers",
        )
        .values(exact=True)
    )
