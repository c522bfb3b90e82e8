from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from core.settings import Settings
from storage.db import create_engine
from tests.api.helpers import settings_for


@pytest.fixture
def hook_settings(migrated_pg: str) -> Settings:
    return settings_for(migrated_pg, webhook_allow_private=True, webhook_timeout_seconds=1.0)


@pytest.fixture
async def engine(hook_settings: Settings) -> AsyncIterator[Any]:
    engine = create_engine(hook_settings.database_url)
    try:
        yield engine
    finally:
        await engine.dispose()
