from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest

from core.settings import Settings
from storage.db import create_engine
from tests.api.helpers import settings_for


def _hook_settings(database_url: str) -> Settings:
    return settings_for(database_url, webhook_allow_private=True, webhook_timeout_seconds=1.0)


@contextlib.asynccontextmanager
async def _engine_for(settings: Settings) -> AsyncIterator[Any]:
    engine = create_engine(settings.database_url)
    try:
        yield engine
    finally:
        await engine.dispose()


@pytest.fixture
def hook_settings(migrated_pg: str) -> Settings:
    return _hook_settings(migrated_pg)


@pytest.fixture
async def engine(hook_settings: Settings) -> AsyncIterator[Any]:
    async with _engine_for(hook_settings) as engine:
        yield engine


@pytest.fixture
def sqlite_hook_settings(migrated_sqlite: str) -> Settings:
    """The same settings on a SQLite database (the embedded mode)."""
    return _hook_settings(migrated_sqlite)


@pytest.fixture
async def sqlite_engine(sqlite_hook_settings: Settings) -> AsyncIterator[Any]:
    async with _engine_for(sqlite_hook_settings) as engine:
        yield engine
