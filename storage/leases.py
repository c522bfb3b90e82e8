"""Singletons across workers: at most one holder of a named lease at a time (e.g. the live tail of a network).

PostgreSQL: a session advisory lock held on a dedicated connection for as long as the holder runs; if the
holder's process dies, its connection closes and the lock is released by the server, so a crashed worker never
blocks the next one. SQLite (embedded mode) has a single process, so an in-process lock is enough there.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import AsyncIterator

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

_local_locks: dict[str, asyncio.Lock] = {}


def _lock_key(name: str) -> int:
    # Advisory locks take a signed 64-bit key: a stable hash of the name.
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


@contextlib.asynccontextmanager
async def try_lease(engine: AsyncEngine, name: str) -> AsyncIterator[bool]:
    """Yield True while this caller holds the lease `name`, or False at once if someone else does."""
    if engine.dialect.name != "postgresql":
        lock = _local_locks.setdefault(name, asyncio.Lock())
        if lock.locked():
            yield False
            return
        async with lock:
            yield True
        return
    key = _lock_key(name)
    async with engine.connect() as conn:
        acquired = bool(await conn.scalar(text("SELECT pg_try_advisory_lock(:key)"), {"key": key}))
        await conn.commit()
        try:
            yield acquired
        finally:
            if acquired:
                await conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
                await conn.commit()
