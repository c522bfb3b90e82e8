"""Leases: one holder at a time, a holder can be looked up without taking the lease, and a caller may wait a
little for a lease being released."""

from __future__ import annotations

import asyncio

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.db import create_engine
from storage.leases import lease_held, try_lease


async def test_a_holder_is_seen_without_taking_the_lease(db_url: str) -> None:
    holder, watcher = create_engine(db_url), create_engine(db_url)  # two engines, as two processes would
    statements: list[str] = []
    event.listen(watcher.sync_engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    try:
        assert not await lease_held(watcher, "lease-test")
        async with try_lease(holder, "lease-test") as held:
            assert held
            assert await lease_held(watcher, "lease-test")
            assert not await lease_held(watcher, "lease-other")
        assert not await lease_held(watcher, "lease-test")
    finally:
        await holder.dispose()
        await watcher.dispose()
    assert not [s for s in statements if "advisory_lock" in s]  # looked at pg_locks only


async def test_a_caller_may_wait_for_a_lease_being_released(db_url: str) -> None:
    holder, waiter = create_engine(db_url), create_engine(db_url)

    taken = asyncio.Event()

    async def hold(engine: AsyncEngine, seconds: float) -> None:
        async with try_lease(engine, "lease-wait") as held:
            assert held
            taken.set()
            await asyncio.sleep(seconds)

    try:
        holding = asyncio.create_task(hold(holder, 0.4))
        await taken.wait()
        async with try_lease(waiter, "lease-wait") as held:
            assert not held  # at once: someone holds it
        async with try_lease(waiter, "lease-wait", wait_seconds=5) as held:
            assert held  # once the holder let go
        await holding
    finally:
        await holder.dispose()
        await waiter.dispose()
