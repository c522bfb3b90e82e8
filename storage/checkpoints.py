"""Ingestion checkpoints: the last ledger fully written, per named stream (e.g. ``live:pubnet``).

`set` runs on the caller's connection so the ingestion engine advances the checkpoint in the same transaction
as the rows of that ledger: either both are committed or neither is, and a restart resumes exactly.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from storage.tables import checkpoints, utcnow


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
        self, conn: AsyncConnection, name: str, network: str, ledger: int, *, forward_only: bool = False
    ) -> None:
        """Record `ledger` for `name` on `conn` (inside the caller's transaction).

        The value is set as given, also backwards (rewinding a stream is a deliberate act of its owner),
        unless `forward_only`: then an older ledger leaves a newer checkpoint alone (used for
        `latest:<network>`, which a backfill of old ledgers must not move back).
        """
        dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
        now = utcnow()
        statement = dialect.insert(checkpoints).values(
            name=name, network=network, ledger=ledger, updated_at=now
        )
        statement = statement.on_conflict_do_update(
            index_elements=[checkpoints.c.name],
            set_={"network": network, "ledger": ledger, "updated_at": now},
            where=(checkpoints.c.ledger < statement.excluded.ledger) if forward_only else None,
        )
        await conn.execute(statement)

    async def all(self) -> dict[str, int]:
        """Every checkpoint, ``{name: ledger}``."""
        async with self.engine.connect() as conn:
            rows = (await conn.execute(select(checkpoints.c.name, checkpoints.c.ledger))).all()
        return {str(name): int(ledger) for name, ledger in rows}
