"""SQL of the custom-token balances (the token balance processor's ``after_write``).

A custom SEP-41 token keeps its balances in its own contract storage, in a layout only its code knows, so its
balances are derived from the tenant's stored token transfer rows: for a holder, the sum of the amounts it
received minus the amounts it sent. Sums are always RECOMPUTED from the stored rows for the (holder, token)
pairs a batch touched, never adjusted by deltas: the transfer rows are written idempotently, so re-ingesting
any ledger, in any order, yields the same sums.

Concurrent batches of one tenant (parallel backfill chunks) would each sum without the other's uncommitted
rows; `lock_tenant` serialises the recomputation per tenant on PostgreSQL, so the last batch to commit sums
everything (each statement of a READ COMMITTED transaction sees what committed before it). SQLite has a
single writer.

Dialects: PostgreSQL sums ``NUMERIC`` amounts in SQL; SQLite stores amounts as sortable text
(`storage.amounts`), so its rows are summed in Python (the embedded mode's volumes are small).

The tables are passed in (storage does not import processors); their columns are those of the token
transfers table (``tenant_id``, ``from``, ``to``, ``asset``, ``asset_type``, ``amount_raw``,
``ledger_sequence``, ``closed_at``, ``in_successful_tx``) and of the token balance tables.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Table, func, select, text, tuple_, union_all, update
from sqlalchemy.ext.asyncio import AsyncConnection

from storage.db import dialect_name

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
    for start in range(0, len(ordered), _CHUNK):
        chunk = ordered[start : start + _CHUNK]
        if dialect_name(conn) == "postgresql":
            await _sum_in_sql(conn, transfers, tenant_id, chunk, out)
        else:
            await _sum_in_python(conn, transfers, tenant_id, chunk, out)
    return out


def _legs(transfers: Table, tenant_id: str, pairs: list[Pair]) -> Any:
    """Both sides of the pairs' movements as signed amounts: the receiver adds, the sender subtracts."""
    t = transfers.c
    legs = [
        select(
            side.label("holder"),
            t.asset.label("asset"),
            (t.amount_raw * sign).label("amount"),
            t.ledger_sequence.label("ledger"),
            t.closed_at.label("closed_at"),
        ).where(
            t.tenant_id == tenant_id,
            t.asset_type == _CUSTOM,
            t.in_successful_tx.is_(True),
            tuple_(side, t.asset).in_(pairs),
        )
        for side, sign in ((t.to, 1), (t["from"], -1))
    ]
    return union_all(*legs).subquery()


async def _sum_in_sql(
    conn: AsyncConnection, transfers: Table, tenant_id: str, pairs: list[Pair], out: dict[Pair, TokenSum]
) -> None:
    legs = _legs(transfers, tenant_id, pairs)
    query = select(
        legs.c.holder,
        legs.c.asset,
        func.sum(legs.c.amount),
        func.max(legs.c.ledger),
        func.max(legs.c.closed_at),
    ).group_by(legs.c.holder, legs.c.asset)
    for holder, asset, total, last_ledger, closed_at in (await conn.execute(query)).all():
        out[(holder, asset)] = TokenSum(int(total), int(last_ledger), closed_at)


async def _sum_in_python(
    conn: AsyncConnection, transfers: Table, tenant_id: str, pairs: list[Pair], out: dict[Pair, TokenSum]
) -> None:
    # The Amount type decodes SQLite's sortable text back to ints (columns of the table, not of the subquery).
    t = transfers.c
    for side, sign in ((t.to, 1), (t["from"], -1)):
        query = select(side, t.asset, t.amount_raw, t.ledger_sequence, t.closed_at).where(
            t.tenant_id == tenant_id,
            t.asset_type == _CUSTOM,
            t.in_successful_tx.is_(True),
            tuple_(side, t.asset).in_(pairs),
        )
        for holder, asset, amount, ledger, closed_at in (await conn.execute(query)).all():
            key = (holder, asset)
            seen = out.get(key)
            if seen is None:
                out[key] = TokenSum(sign * amount, ledger, closed_at)
            else:
                latest = (
                    (ledger, closed_at) if ledger > seen.last_ledger else (seen.last_ledger, seen.closed_at)
                )
                out[key] = TokenSum(seen.balance + sign * amount, *latest)


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
