"""Ingestion checkpoints: the last ledger fully written, per named stream (e.g. ``live:pubnet``).

`set` runs on the caller's connection so the ingestion engine advances the checkpoint in the same transaction
as the rows of that ledger: either both are committed or neither is, and a restart resumes exactly.
"""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from storage.tables import checkpoints, utcnow

LATEST_PREFIX = "latest:"
"""`latest:<network>`: the newest ledger ingested for a network by any stream (live tail or backfill)."""
LIVE_PREFIX = "live:"
"""`live:<network>`: the last ledger the network's live tail wrote."""
LIVE_START_PREFIX = "live-start:"
"""`live-start:<network>`: a start an operator asked for, waiting for the live tail to take it (its `ledger` is
the first ledger to ingest, not the last one written)."""
LIVE_TAIL_JOB = "live_tail"
"""The job that follows a network's tip (one at a time per network)."""


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


class LiveStart(NamedTuple):
    """What moving a network's live start does: where the tail was and where it will go on from."""

    network: str
    start: int  # the first ledger the tail will ingest
    live: int | None  # the live checkpoint when asked (the last ledger the tail wrote), None if it never ran
    latest: int | None  # the newest ledger ingested for the network by any stream

    @property
    def skipped(self) -> tuple[int, int] | None:
        """The ledgers the live tail will not ingest (`first, last`), when the start jumps ahead."""
        if self.live is not None and self.start > self.live + 1:
            return self.live + 1, self.start - 1
        return None


class LiveStarts:
    """Operators pin where a network's live tail starts; only the tail itself moves its checkpoint.

    The request is stored (`live-start:<network>`) rather than written over `live:<network>`, because a tail
    that is running would write its next ledger over it: the running tail sees the request and hands over,
    and its successor, holding the network's lease, takes it (`take`) before reading a ledger.
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def request(self, network: str, start: int) -> LiveStart:
        """Ask the live tail of `network` to go on from ledger `start` (replacing an earlier request)."""
        values = {"network": network, "ledger": start, "updated_at": utcnow(), "closed_at": None}
        async with self.engine.begin() as conn:
            dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
            statement = dialect.insert(checkpoints).values(name=LIVE_START_PREFIX + network, **values)
            await conn.execute(
                statement.on_conflict_do_update(index_elements=[checkpoints.c.name], set_=values)
            )
            live, latest = await _ledgers(conn, LIVE_PREFIX + network, LATEST_PREFIX + network)
        return LiveStart(network, start, live, latest)

    async def positions(self, network: str) -> tuple[int | None, int | None]:
        """The live checkpoint of `network` and its newest ledger ingested by any stream."""
        async with self.engine.connect() as conn:
            live, latest = await _ledgers(conn, LIVE_PREFIX + network, LATEST_PREFIX + network)
        return live, latest

    async def pending(self, network: str) -> int | None:
        """The start asked for and not yet taken by the tail, if any."""
        return await Checkpoints(self.engine).get(LIVE_START_PREFIX + network)

    async def take(self, network: str) -> int | None:
        """Move the live checkpoint to the requested start (minus one) and drop the request, in one
        transaction; the requested start, or None when there was none. Only the lease holder calls it."""
        async with self.engine.begin() as conn:
            (start,) = await _ledgers(conn, LIVE_START_PREFIX + network)
            if start is None:
                return None
            await Checkpoints(self.engine).set(conn, LIVE_PREFIX + network, network, start - 1)
            await conn.execute(delete(checkpoints).where(checkpoints.c.name == LIVE_START_PREFIX + network))
        return start


async def _ledgers(conn: AsyncConnection, *names: str) -> list[int | None]:
    rows = dict(
        (
            await conn.execute(
                select(checkpoints.c.name, checkpoints.c.ledger).where(checkpoints.c.name.in_(names))
            )
        ).all()
    )
    return [int(rows[name]) if name in rows else None for name in names]
