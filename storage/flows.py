"""Signed sums over a tenant's stored token movements (rows with ``from``, ``to``, ``asset``, ``amount_raw``,
``decimals``, ``event_type``, ``in_successful_tx``, ``ledger_sequence`` and ``closed_at``): what each holder
received minus what it sent, per asset. Two users: balances summed from transfers, for tenants that keep no
balances from ledger state (`net_flows`; REFERENCE §4: such sums are marked `exact: false`), and custom-token
sums kept by a processor's `after_write`, both through `sum_legs`.

Which rows count is the caller's filters (`storage.query.Filter`; balances from transfers count a row when its
transaction succeeded or when it is a fee). PostgreSQL sums `NUMERIC` amounts in SQL; SQLite stores amounts as
sortable text (`storage.amounts`), so there the rows are summed in Python (the embedded mode's volumes are small).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Table, and_, func, select, tuple_, union_all
from sqlalchemy.ext.asyncio import AsyncConnection

from storage.db import dialect_name
from storage.hot_query import condition
from storage.query import Filter

_CHUNK = 2000  # holders (or holder/asset pairs) per statement, well under the driver's bind parameter limit


@dataclass(frozen=True)
class Flow:
    """A holder's net amount of one asset, the largest `decimals` seen for it, and the last ledger (and its
    close time) that moved it."""

    amount: int
    decimals: int | None
    last_ledger: int
    closed_at: datetime


async def sum_legs(
    conn: AsyncConnection,
    movements: Table,
    tenant_id: str,
    filters: Sequence[Filter] = (),
    *,
    holders: Collection[str] | None = None,
    pairs: Collection[tuple[str, str]] | None = None,
) -> dict[tuple[str, str], Flow]:
    """`{(holder, asset): Flow}` over the tenant's rows matching `filters`, each counted on both sides: the
    receiver (``to``) adds, the sender (``from``) subtracts. Only the sides whose holder is in `holders`, or whose
    (holder, asset) is in `pairs`, are counted."""
    wanted: list[Any] = sorted(pairs) if pairs is not None else sorted(set(holders or ()))
    out: dict[tuple[str, str], Flow] = {}
    t = movements.c
    for start in range(0, len(wanted), _CHUNK):
        chunk = wanted[start : start + _CHUNK]

        def where(side: Any, chunk: list[Any] = chunk) -> ColumnElement[bool]:
            chosen = tuple_(side, t.asset).in_(chunk) if pairs is not None else side.in_(chunk)
            return and_(t.tenant_id == tenant_id, chosen, *(condition(movements, f) for f in filters))

        for key, flow in (await _sum(conn, movements, where)).items():
            out[key] = flow
    return out


async def _sum(conn: AsyncConnection, transfers: Table, where: Any) -> dict[tuple[str, str], Flow]:
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
                ).where(where(side))
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
            where(side)
        )
        for holder, asset, amount, decimals, ledger, closed_at in (await conn.execute(query)).all():
            add_flow(out, (holder, asset), Flow(sign * amount, decimals, ledger, closed_at))
    return out


def add_flow(out: dict[tuple[str, str], Flow], key: tuple[str, str], flow: Flow) -> None:
    """Add `flow` to `out[key]`: amounts summed, the largest decimals, the last ledger and close time (legs
    summed in Python, and a tenant's hot and cold parts of one sum)."""
    seen = out.get(key)
    if seen is None:
        out[key] = flow
        return
    out[key] = Flow(
        seen.amount + flow.amount,
        max((d for d in (seen.decimals, flow.decimals) if d is not None), default=None),
        max(seen.last_ledger, flow.last_ledger),
        max(seen.closed_at, flow.closed_at),
    )


async def net_flows(
    conn: AsyncConnection,
    movements: Table,
    tenant_id: str,
    holders: Sequence[str],
    filters: Sequence[Filter] = (),
) -> dict[str, dict[str, Flow]]:
    """`{holder: {asset: Flow}}` for every holder in `holders` (an empty dict for one that never moved), over the
    tenant's rows matching `filters`."""
    out: dict[str, dict[str, Flow]] = {holder: {} for holder in holders}
    if not holders:
        return out
    for (holder, asset), flow in (
        await sum_legs(conn, movements, tenant_id, filters, holders=holders)
    ).items():
        out[holder][asset] = flow
    return out
