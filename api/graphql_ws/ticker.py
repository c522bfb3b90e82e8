"""One timer for every GraphQL WebSocket connection of an API replica (`Connections.ticker`).

Each connection used to run a timer task of its own (keep-alive pings, the stalled-writer watch) waking twice a
ping interval: at 1,000 connections that was 1,000 entries in asyncio's timer heap, whose ordering every other
timer of the fan-out then paid for, and 1,000 task steps per half interval. One task now ticks every half
interval and calls each registered connection's synchronous `tick(now)`; a connection that must do something
asynchronous (close a slow consumer) starts that task itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

log = logging.getLogger("obsrvr_flow.api")

Tick = Callable[[float], None]


class Ticker:
    """Calls every registered `Tick` with the loop's time every `period` seconds, while any is registered."""

    def __init__(self, period: float) -> None:
        self.period = period
        self._ticks: dict[int, Tick] = {}
        self._task: asyncio.Task[None] | None = None

    def __len__(self) -> int:
        return len(self._ticks)

    def add(self, handle: int, tick: Tick) -> None:
        self._ticks[handle] = tick
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="graphql-ws-ticker")

    def discard(self, handle: int) -> None:
        self._ticks.pop(handle, None)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while self._ticks:  # ends with the last connection; `add` starts it again
            await asyncio.sleep(self.period)
            now = loop.time()
            for tick in list(self._ticks.values()):
                try:
                    tick(now)
                except Exception:  # one connection's failure must not stop the others' pings and watches
                    log.exception("WebSocket connection timer failed")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
