"""`api.graphql_ws.ticker.Ticker`: one task ticks every registered connection, survives a failing one, and ends
with the last."""

from __future__ import annotations

import asyncio

from api.graphql_ws.ticker import Ticker


async def test_ticks_every_registered_callback_until_none_is_left() -> None:
    ticker = Ticker(0.01)
    seen: dict[str, list[float]] = {"a": [], "b": []}

    def failing(now: float) -> None:
        raise RuntimeError("one connection's bug")

    ticker.add(1, seen["a"].append)
    ticker.add(2, failing)
    ticker.add(3, seen["b"].append)
    async with asyncio.timeout(30):  # a guard, not a timing assertion
        while len(seen["a"]) < 3 or len(seen["b"]) < 3:  # noqa: ASYNC110 (no event to wait on)
            await asyncio.sleep(0.01)
    assert seen["a"] == sorted(seen["a"])
    for handle in (1, 2, 3):
        ticker.discard(handle)
    task = ticker._task
    assert task is not None
    async with asyncio.timeout(30):
        await task  # ends by itself once nothing is registered
    ticker.add(4, seen["a"].append)  # and starts again with the next one
    assert ticker._task is not task and not ticker._task.done()
    await ticker.close()
