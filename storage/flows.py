"""Signed sums over a tenant's stored token movements (rows with ``from``, ``to``, ``asset``, ``amount_raw``,
``decimals``, ``event_type``, ``in_successful_tx``, ``ledger_sequence`` and ``closed_at``): what each holder
received minus what it sent, per asset. Two users: balances summed from transfers, for tenants that keep no
balances from ledger state (`net_flows`; REFERENCE §4: such sums are marked `exact: false`), and custom-token
sums (`storage.token_sums`), both through `sum_legs`.

`net_flows` counts a row when its transaction succeeded, or when it is a fee (fees are charged, and refunded,
whatever the outcome). PostgreSQL sums `NUMERIC` amounts in SQL; SQLite stores amounts as sortable text
(`storage.amounts`), so there the rows are summed in Python (the embedded mode's volumes are small).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Table, func, or_, select, union_all
from sqlalchemy.ext.asyncio import AsyncConnection

from storage.db import dialect_name

# Conditions on the transfer rows for one side of a movement (given that side's column: `to` or `from`).
LegFilter = Callable[[Any], Sequence[Any]]


@dataclass(frozen=True)
class Flow:
    """A holder's net amount of one asset, the largest `decimals` seen for it, and the last ledger (and its
    close time) that moved it."""

    amount: int
    decimals: int | None
    last_ledger: int
    closed_at: datetime


async def sum_legs(conn: AsyncConnection, transfers: Table, where: LegFilter) -> dict[tuple[str, str], Flow]:
    """`{(holder, asset): Flow}` over the rows `where` keeps on each side: the receiver adds, the sender
    subtracts."""
    t = transfers.c
    sides = ((t.to, 1), (t["from"], -1))
    out: dict[tuple[str, str], Flow] = {}
    if dialect_name(conn) == "postgresql":
        legs = union_all(
            *(
                select(
                    side.label("holder"),
                    t.asset.label("asset"),
                    (t.amount_raw * sign).label("amount"),
                    t.decimals.label("decimals"),
                    t.ledger_sequence.label("ledger"),
                    t.closed_at.label("closed_at"),
                ).where(*where(side))
                for side, sign in sides
            )
        ).subquery()
        query = select(
            legs.c.holder,
            legs.c.asset,
            func.sum(legs.c.amount),
            func.max(legs.c.decimals),
            func.max(legs.c.ledger),
            func.max(legs.c.closed_at),
        ).group_by(legs.c.holder, legs.c.asset)
        for holder, asset, total, decimals, ledger, closed_at in (await conn.execute(query)).all():
            out[(holder, asset)] = Flow(int(total), decimals, int(ledger), closed_at)
        return out
    # The Amount type decodes SQLite's sortable text back to ints (columns of the table, not of a subquery).
    for side, sign in sides:
        query = select(side, t.asset, t.amount_raw, t.decimals, t.ledger_sequence, t.closed_at).where(
            *where(side)
        )
        for holder, asset, amount, decimals, ledger, closed_at in (await conn.execute(query)).all():
            seen = out.get((holder, asset))
            if seen is None:
                out[(holder, asset)] = Flow(sign * amount, decimals, ledger, closed_at)
                continue
            out[(holder, asset)] = Flow(
                seen.amount + sign * amount,
                max((d for d in (seen.decimals, decimals) if d is not None), default=None),
                max(seen.last_ledger, ledger),
                max(seen.closed_at, closed_at),
            )
    return out


async def net_flows(
    conn: AsyncConnection, transfers: Table, tenant_id: str, holders: Sequence[str]
) -> dict[str, dict[str, Flow]]:
    """`{holder: {asset: Flow}}` for every holder in `holders` (an empty dict for one that never moved)."""
    out: dict[str, dict[str, Flow]] = {holder: {} for holder in holders}
    if not holders:
        return out
    t = transfers.c
    wanted = list(dict.fromkeys(holders))

    def where(side: Any) -> list[Any]:
        return [
            t.tenant_id == tenant_id,
            or_(t.in_successful_tx.is_(True), t.event_type == "fee"),
            side.in_(wanted),
        ]

    for (holder, asset), flow in (await sum_legs(conn, transfers, where)).items():
        out[holder][asset] = flow
    return out
