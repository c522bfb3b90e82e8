"""Ingestion checkpoints: the last ledger fully written, per named stream (e.g. ``live:pubnet``).

`set` runs on the caller's connection so the ingestion engine advances the checkpoint in the same transaction
as the rows of that ledger: either both are committed or neither is, and a restart resumes exactly.
"""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from storage.tables import checkpoints, utcnow

LATEST_PREFIX = "latest:"
"""`latest:<network>`: the newest ledger ingested for a network by any stream (live tail or backfill)."""


class NetworkTip(NamedTuple):
    """The newest ledger ingested for a network and its close time (None if written before it was kept)."""

    ledger: int
    closed_at: datetime | None


class Checkpoints:
    """Read and write ingestion checkpoints."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def get(self, name: str) -> int | None:
        """The last ledger recorded for `name`, or None if it never ran."""
        async with self.engine.connect() as conn:
            ledger = await conn.scalar(select(checkpoints.c.ledger).where(checkpoints.c.name == name))
        return int(ledger) if ledger is not None else None

    async def set(
        self,
        conn: AsyncConnection,
        name: str,
        network: str,
        ledger: int,
        *,
        closed_at: datetime | None = None,
        forward_only: bool = False,
    ) -> None:
        """Record `ledger` (closed at `closed_at`) for `name` on `conn` (inside the caller's transaction).

        The value is set as given, also backwards (rewinding a stream is a deliberate act of its owner),
        unless `forward_only`: then an older ledger leaves a newer checkpoint alone (used for
        `latest:<network>`, which a backfill of old ledgers must not move back).
        """
        dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
        now = utcnow()
        values = {"network": network, "ledger": ledger, "updated_at": now, "closed_at": closed_at}
        statement = dialect.insert(checkpoints).values(name=name, **values)
        statement = statement.on_conflict_do_update(
            index_elements=[checkpoints.c.name],
            set_=values,
            where=(checkpoints.c.ledger < statement.excluded.ledger) if forward_only else None,
        )
        await conn.execute(statement)

    async def all(self) -> dict[str, int]:
        """Every checkpoint, ``{name: ledger}``."""
        async with self.engine.connect() as conn:
            rows = (await conn.execute(select(checkpoints.c.name, checkpoints.c.ledger))).all()
        return {str(name): int(ledger) for name, ledger in rows}

    async def network_tips(self) -> dict[str, NetworkTip]:
        """The `latest:<network>` checkpoint of every network ingested so far."""
        query = select(checkpoints.c.network, checkpoints.c.ledger, checkpoints.c.closed_at).where(
            checkpoints.c.name.startswith(LATEST_PREFIX, autoescape=True)
        )
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return {str(network): NetworkTip(int(ledger), closed_at) for network, ledger, closed_at in rows}
