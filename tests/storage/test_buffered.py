"""The periodic flush of buffered writers (audit log, usage counters) during a database outage."""

from __future__ import annotations

import asyncio
import logging

import pytest
from sqlalchemy import exc as sa_exc

from storage.buffered import BufferedWriter

log = logging.getLogger("tests.buffered")


class _Writer(BufferedWriter):
    """Fails its flushes with what it is given, in turn (None: succeeds)."""

    def __init__(self, outcomes: list[BaseException | None]) -> None:
        super().__init__(0.01, "writer", log)
        self.outcomes = outcomes
        self.written = 0
        self.drained = asyncio.Event()  # set once every given outcome has been met

    async def flush(self) -> int:
        outcome = self.outcomes.pop(0) if self.outcomes else None
        if not self.outcomes:
            self.drained.set()
        if outcome is not None:
            raise outcome
        self.written += 1
        return 1


async def _run(writer: _Writer) -> None:
    writer.start()
    await asyncio.wait_for(writer.drained.wait(), 5)
    await asyncio.sleep(0.05)  # a few more ticks: the successful flushes after the last failure
    await writer.close()


async def test_an_outage_is_logged_when_it_starts_and_ends_not_at_every_flush(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # A pool checkout that timed out is one of the errors `storage.db.database_unavailable` counts as an outage.
    outage = sa_exc.TimeoutError("QueuePool limit reached, connection timed out")
    writer = _Writer([outage] * 5)
    with caplog.at_level(logging.WARNING, logger="tests.buffered"):
        await _run(writer)
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2, lines
    assert "database is unavailable" in lines[0] and "database is back" in lines[1]
    assert all(r.exc_info is None for r in caplog.records)
    assert writer.written >= 1


async def test_any_other_failure_is_logged_with_its_traceback_each_time(
    caplog: pytest.LogCaptureFixture,
) -> None:
    writer = _Writer([ValueError("a bug")] * 3)
    with caplog.at_level(logging.WARNING, logger="tests.buffered"):
        await _run(writer)
    failures = [r for r in caplog.records if "write failed" in r.getMessage()]
    assert len(failures) == 3 and all(r.exc_info is not None for r in failures)


class _SlowWriter(BufferedWriter):
    """Its first flush takes until `release` is set (a COMMIT on the wire); records how each flush ended."""

    def __init__(self) -> None:
        super().__init__(0.01, "slow", log)
        self.in_flight = asyncio.Event()
        self.release = asyncio.Event()
        self.ended: list[str] = []

    async def flush(self) -> int:
        if not self.ended and not self.in_flight.is_set():
            self.in_flight.set()
            try:
                await self.release.wait()
            except asyncio.CancelledError:
                self.ended.append("cancelled")
                raise
        self.ended.append("written")
        return 1


async def test_close_lets_a_flush_in_progress_finish_before_the_last_one() -> None:
    # A flush cancelled mid-COMMIT cannot know whether it committed; the usage counters put its tallies back, so a
    # cancelled flush that had committed counted its requests twice.
    writer = _SlowWriter()
    writer.start()
    await asyncio.wait_for(writer.in_flight.wait(), 5)
    closing = asyncio.create_task(writer.close())
    await asyncio.sleep(0.05)
    assert not closing.done()  # waiting for the flush in progress, not cancelling it
    writer.release.set()
    await asyncio.wait_for(closing, 5)
    assert writer.ended == ["written", "written"]  # the one in progress, then the last one


async def test_close_while_the_writer_sleeps_returns_at_once_and_a_restart_flushes_again() -> None:
    writer = _Writer([])
    writer.flush_seconds = 60
    writer.start()
    await asyncio.sleep(0)
    await asyncio.wait_for(writer.close(), 1)  # not a minute's sleep
    assert writer.written == 1
    writer.flush_seconds = 0.01
    writer.start()
    await asyncio.sleep(0.1)
    await writer.close()
    assert writer.written > 2
