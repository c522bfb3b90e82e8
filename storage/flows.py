"""Net flows of holders over a tenant's stored token transfer rows: what each holder received minus what it
sent, per asset. The REST/GraphQL fallback for token balances when a tenant does not run the token balance
processor (REFERENCE §4: such sums are marked `exact: false`).

A row counts when its transaction succeeded, or when it is a fee (fees are charged, and refunded, whatever
the outcome). PostgreSQL sums `NUMERIC` amounts in SQL; SQLite stores amounts as sortable text
(`storage.amounts`), so there the rows are summed in Python (the embedded mode's volumes are small).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table, func, or_, select, union_all
from sqlalchemy.ext.asyncio import AsyncConnection

from storage.db import dialect_name


@dataclass(frozen=True)
class Flow:
    """A holder's net amount of one asset, the largest `decimals` seen for it, and the last ledger moving it."""

    amount: int
    decimals: int | None
    last_ledger: int


def _counted(transfers: Table, tenant_id: str) -> list[Any]:
    t = transfers.c
    return [t.tenant_id == tenant_id, or_(t.in_successful_tx.is_(True), t.event_type == "fee")]


async def net_flows(
    conn: AsyncConnection, transfers: Table, tenant_id: str, holders: Sequence[str]
) -> dict[str, dict[str, Flow]]:
    """`{holder: {asset: Flow}}` for every holder in `holders` (an empty dict for one that never moved)."""
    out: dict[str, dict[str, Flow]] = {holder: {} for holder in holders}
    if not holders:
        return out
    t = transfers.c
    wanted = list(dict.fromkeys(holders))
    sides = ((t.to, 1), (t["from"], -1))
    if dialect_name(conn) == "postgresql":
        legs = union_all(
            *(
                select(
                    side.label("holder"),
                    t.asset.label("asset"),
                    (t.amount_raw * sign).label("amount"),
                    t.decimals.label("decimals"),
                    t.ledger_sequence.label("ledger"),
                ).where(*_counted(transfers, tenant_id), side.in_(wanted))
                for side, sign in sides
            )
        ).subquery()
        query = select(
            legs.c.holder,
            legs.c.asset,
            func.sum(legs.c.amount),
            func.max(legs.c.decimals),
            func.max(legs.c.ledger),
        ).group_by(legs.c.holder, legs.c.asset)
        for holder, asset, total, decimals, ledger in (await conn.execute(query)).all():
            out[holder][asset] = Flow(int(total), decimals, int(ledger))
        return out
    for side, sign in sides:
        rows = await conn.execute(
            select(side, t.asset, t.amount_raw, t.decimals, t.ledger_sequence).where(
                *_counted(transfers, tenant_id), side.in_(wanted)
            )
        )
        for holder, asset, amount, decimals, ledger in rows.all():
            seen = out[holder].get(asset)
            if seen is None:
                out[holder][asset] = Flow(sign * amount, decimals, ledger)
            else:
                out[holder][asset] = Flow(
                    seen.amount + sign * amount,
                    max((d for d in (seen.decimals, decimals) if d is not None), default=None),
                    max(seen.last_ledger, ledger),
                )
    return out
