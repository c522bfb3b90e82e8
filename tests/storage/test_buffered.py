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
