"""Fixtures for the storage tests: a migrated database on each backend, disposed of after the test."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.db import create_engine


@pytest.fixture
async def engine(migrated_db_url: str) -> AsyncIterator[AsyncEngine]:
    """An engine on a freshly migrated database, SQLite and PostgreSQL."""
    engine = create_engine(migrated_db_url)
    try:
        yield engine
    finally:
        await engine.dispose()


@pytest.fixture
async def pg_engine(migrated_pg: str) -> AsyncIterator[AsyncEngine]:
    """An engine on a freshly migrated PostgreSQL database (partitioning is PostgreSQL-only)."""
    engine = create_engine(migrated_pg)
    try:
        yield engine
    finally:
        await engine.dispose()
