"""Fixtures for the storage tests: a migrated database on each backend, disposed of after the test."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from storage import migrate
from storage.db import create_engine


@pytest.fixture
async def engine(db_url: str) -> AsyncIterator[AsyncEngine]:
    """An engine on a freshly migrated database, SQLite and PostgreSQL."""
    engine = create_engine(db_url)
    try:
        await migrate.upgrade(engine)
        yield engine
    finally:
        await engine.dispose()


@pytest.fixture
async def pg_engine(pg_url: str) -> AsyncIterator[AsyncEngine]:
    """An engine on a freshly migrated PostgreSQL database (partitioning is PostgreSQL-only)."""
    engine = create_engine(pg_url)
    try:
        await migrate.upgrade(engine)
        yield engine
    finally:
        await engine.dispose()
