"""The periodic flush shared by buffered writers (audit log, usage counters)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from abc import ABC, abstractmethod

from storage.db import database_unavailable


class BufferedWriter(ABC):
    """Buffers in memory and writes every `flush_seconds` from a background task, and once more at close.

    A failed periodic flush is logged and retried at the next tick; subclasses keep what failed. A database outage
    is logged once when it starts and once when a flush succeeds again (a flush a second would otherwise write a
    traceback a second for as long as the outage lasts); any other failure is logged with its traceback each time.

    `close` never cancels a flush in progress: it lets it finish, then flushes once more. A flush cancelled while its
    COMMIT was on the wire cannot tell whether it committed; subclasses put back what a failed flush held, so a
    cancelled flush that had in fact committed would be written twice (usage counted twice, the CI failure of
    `test_periodic_flush_and_close`).
    """

    flush_seconds: float
    _task: asyncio.Task[None] | None = None

    def __init__(self, flush_seconds: float, name: str, log: logging.Logger) -> None:
        self.flush_seconds = flush_seconds
        self._name = name
        self._log = log
        self._in_outage = False
        self._stop = asyncio.Event()

    @abstractmethod
    async def flush(self) -> int:
        """Write what is buffered; returns how many items were written."""

    def start(self) -> None:
        """Start the periodic flush (no-op when `flush_seconds` is 0 or it already runs)."""
        if self.flush_seconds > 0 and self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name=f"{self._name}-flush")

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self.flush_seconds)
                return  # closing: `close` writes what is left
            try:
                await self.flush()
            except Exception as exc:
                if not database_unavailable(exc):
                    self._log.exception(
                        "%s: write failed; buffered items kept for the next flush", self._name
                    )
                elif not self._in_outage:
                    self._in_outage = True
                    self._log.warning(
                        "%s: the database is unavailable (%s); buffered items are kept and written once it is back",
                        self._name,
                        type(exc).__name__,
                    )
            else:
                if self._in_outage:
                    self._in_outage = False
                    self._log.warning("%s: the database is back; buffered items written", self._name)

    async def close(self) -> None:
        """Stop the periodic flush (letting a flush in progress finish) and write what is left."""
        if self._task is not None:
            self._stop.set()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
            self._stop = asyncio.Event()  # a writer started again after close flushes again
        try:
            await self.flush()
        except Exception:
            self._log.exception("%s: buffered items could not be written at shutdown", self._name)
