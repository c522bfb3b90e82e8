"""Checkpoints on both backends: written inside the caller's transaction, and only with it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.checkpoints import Checkpoints, NetworkTip


class Rollback(Exception):
    pass


async def test_set_in_a_transaction(engine: AsyncEngine) -> None:
    checkpoints = Checkpoints(engine)
    assert await checkpoints.get("live:pubnet") is None
    async with engine.begin() as conn:
        await checkpoints.set(conn, "live:pubnet", "pubnet", 50_000_000)
        await checkpoints.set(conn, "live:testnet", "testnet", 1_000)
    assert await checkpoints.get("live:pubnet") == 50_000_000
    async with engine.begin() as conn:
        await checkpoints.set(conn, "live:pubnet", "pubnet", 50_000_001)
    assert await checkpoints.all() == {"live:pubnet": 50_000_001, "live:testnet": 1_000}


async def test_rolled_back_transaction_leaves_nothing(engine: AsyncEngine) -> None:
    checkpoints = Checkpoints(engine)
    with pytest.raises(Rollback):
        async with engine.begin() as conn:
            await checkpoints.set(conn, "backfill:pubnet:1-100", "pubnet", 100)
            raise Rollback
    assert await checkpoints.get("backfill:pubnet:1-100") is None
    assert await checkpoints.all() == {}

    async with engine.begin() as conn:
        await checkpoints.set(conn, "live:pubnet", "pubnet", 7)
    with pytest.raises(Rollback):
        async with engine.begin() as conn:
            await checkpoints.set(conn, "live:pubnet", "pubnet", 8)
            raise Rollback
    assert await checkpoints.get("live:pubnet") == 7


async def test_forward_only_never_moves_back(engine: AsyncEngine) -> None:
    store = Checkpoints(engine)
    async with engine.begin() as conn:
        await store.set(conn, "latest:pubnet", "pubnet", 100, forward_only=True)
        await store.set(conn, "latest:pubnet", "pubnet", 90, forward_only=True)
    assert await store.get("latest:pubnet") == 100
    async with engine.begin() as conn:
        await store.set(conn, "latest:pubnet", "pubnet", 101, forward_only=True)
        await store.set(conn, "range:x", "pubnet", 50)
        await store.set(conn, "range:x", "pubnet", 40)
    assert await store.all() == {"latest:pubnet": 101, "range:x": 40}


async def test_network_tips_keep_the_close_time_of_their_ledger(engine: AsyncEngine) -> None:
    store = Checkpoints(engine)
    at_100 = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    async with engine.begin() as conn:
        await store.set(conn, "latest:pubnet", "pubnet", 100, closed_at=at_100, forward_only=True)
        await store.set(
            conn, "latest:pubnet", "pubnet", 90, closed_at=datetime(2020, 1, 1, tzinfo=UTC), forward_only=True
        )
        await store.set(conn, "latest:testnet", "testnet", 5)  # written without a close time
        await store.set(conn, "live:pubnet", "pubnet", 100, closed_at=at_100)  # not a network tip
    assert await store.network_tips() == {
        "pubnet": NetworkTip(100, at_100),  # the older ledger moved neither the ledger nor its time
        "testnet": NetworkTip(5, None),
    }
