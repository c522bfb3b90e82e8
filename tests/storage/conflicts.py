"""Another SQLite writer committing while a transaction of ours reads: SQLite then refuses that transaction's
first write at once ("database is locked"), whatever the busy timeout. What `storage.db.retrying_write_conflicts`
is for; its users' tests (tests/storage/test_purges.py, test_usage.py) wrap one of their own reads with this."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

T = TypeVar("T")


async def prepare(other: AsyncEngine) -> None:
    """A table the other writer commits into (before the test starts counting)."""
    async with other.begin() as conn:
        await conn.execute(text("CREATE TABLE elsewhere (x INTEGER)"))


def commit_after_first_call(
    read: Callable[..., Awaitable[T]], other: AsyncEngine, calls: list[int]
) -> Callable[..., Awaitable[T]]:
    """`read`, after whose first call (only: the first attempt's snapshot is then older than the last commit)
    `other` commits a row; each call is counted in `calls`."""

    async def read_then_let_another_writer_commit(*args: Any) -> T:
        calls.append(1)
        found = await read(*args)
        if len(calls) == 1:
            async with other.begin() as conn:
                await conn.execute(text("INSERT INTO elsewhere VALUES (1)"))
        return found

    return read_then_let_another_writer_commit
