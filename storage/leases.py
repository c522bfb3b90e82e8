"""Singletons across workers: at most one holder of a named lease at a time (e.g. the live tail of a network).

PostgreSQL: a session advisory lock held on a dedicated connection for as long as the holder runs; if the
holder's process dies, its connection closes and the lock is released by the server, so a crashed worker never
blocks the next one. SQLite (embedded mode) has a single process, so an in-process lock is enough there.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import time
from collections.abc import AsyncIterator

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

LEASE_RETRY_SECONDS = 0.1
_local_locks: dict[str, asyncio.Lock] = {}


def _lock_key(name: str) -> int:
    # Advisory locks take a signed 64-bit key: a stable hash of the name.
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


async def lease_held(engine: AsyncEngine, name: str) -> bool:
    """Whether someone holds the lease `name` now, found without taking it (a check that took the lease, even
    for a moment, would make a holder starting meanwhile believe it taken and give up)."""
    if engine.dialect.name != "postgresql":
        lock = _local_locks.get(name)
        return lock is not None and lock.locked()
    # A bigint advisory lock shows in pg_locks as its high and low 32 bits (classid, objid), objsubid 1.
    unsigned = _lock_key(name) & 0xFFFF_FFFF_FFFF_FFFF
    async with engine.connect() as conn:
        held = await conn.scalar(
            text(
                "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted"
                " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
                " AND classid = CAST(:high AS oid) AND objid = CAST(:low AS oid) AND objsubid = 1)"
            ),
            {"high": unsigned >> 32, "low": unsigned & 0xFFFF_FFFF},
        )
    return bool(held)


@contextlib.asynccontextmanager
async def try_lease(engine: AsyncEngine, name: str, *, wait_seconds: float = 0.0) -> AsyncIterator[bool]:
    """Yield True while this caller holds the lease `name`, or False if someone else does: at once, or after
    trying again every `LEASE_RETRY_SECONDS` for `wait_seconds`."""
    if engine.dialect.name != "postgresql":
        lock = _local_locks.setdefault(name, asyncio.Lock())
        if lock.locked():
            if wait_seconds <= 0:
                yield False
                return
            try:
                await asyncio.wait_for(lock.acquire(), wait_seconds)
            except TimeoutError:
                yield False
                return
        else:
            await lock.acquire()
        try:
            yield True
        finally:
            lock.release()
        return
    key = _lock_key(name)
    deadline = time.monotonic() + wait_seconds
    async with engine.connect() as conn:
        while True:
            acquired = bool(await conn.scalar(text("SELECT pg_try_advisory_lock(:key)"), {"key": key}))
            await conn.commit()
            if acquired or time.monotonic() >= deadline:
                break
            await asyncio.sleep(LEASE_RETRY_SECONDS)
        try:
            yield acquired
        finally:
            if acquired:
                await conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
                await conn.commit()
