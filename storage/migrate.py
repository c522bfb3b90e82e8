"""Schema migrations (Alembic) driven from Python, on the service's own async engine.

The scripts ship inside the installed ``migrations`` package; they are found through the import system, so
no ``alembic.ini`` is needed and the current directory does not matter. Processors may add their migrations as
branches of their own (``branch_labels = ("<processor>",)``, based on a foundation revision), so several
processors can be added independently: "head" here means every head, and a revision is written as the sorted,
comma-separated list of heads. Each call runs in one transaction on
one connection of the given engine (both backends have transactional DDL here), so a failed migration leaves
the schema where it was.
"""

from __future__ import annotations

import importlib.util
from functools import lru_cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

VERSION_TABLE = "alembic_version"  # Alembic's default, which migrations/env.py keeps


def _script_location() -> str:
    spec = importlib.util.find_spec("migrations")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the 'migrations' package is not installed")
    return str(Path(next(iter(spec.submodule_search_locations))))


def _config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", _script_location())
    config.set_main_option("path_separator", "os")
    if connection is not None:
        config.attributes["connection"] = connection
    return config


@lru_cache(maxsize=1)
def head_revision() -> str:
    """The newest revision(s) the installed migrations know of (comma-separated when there are branches)."""
    heads = ScriptDirectory.from_config(_config()).get_heads()
    if not heads:
        raise RuntimeError("no migration scripts found")
    return ",".join(sorted(heads))


async def upgrade(engine: AsyncEngine, revision: str = "heads") -> None:
    """Migrate the database up to `revision` (default: every head)."""
    if revision == "head":
        revision = "heads"
    async with engine.begin() as conn:
        await conn.run_sync(lambda sync: command.upgrade(_config(sync), revision))


async def downgrade(engine: AsyncEngine, revision: str = "base") -> None:
    """Migrate the database down to `revision` (default: nothing left)."""
    async with engine.begin() as conn:
        await conn.run_sync(lambda sync: command.downgrade(_config(sync), revision))


async def current_revision(engine: AsyncEngine) -> str | None:
    """The revision(s) the database is at (comma-separated), or None for an empty database."""
    async with engine.connect() as conn:
        heads = await conn.run_sync(_stored_heads)
    return ",".join(sorted(heads)) if heads else None


def _stored_heads(sync: Connection) -> tuple[str, ...]:
    """The heads recorded in the version table, read directly: `MigrationContext.configure` logs two INFO lines
    (the dialect, the DDL mode) each time, and `/readyz` asks on every call."""
    if not inspect(sync).has_table(VERSION_TABLE):
        return ()
    return tuple(str(v) for v in sync.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars())


async def is_at_head(engine: AsyncEngine) -> bool:
    """Whether the database schema is the one this code expects."""
    return await current_revision(engine) == head_revision()
