"""Fixtures for the contract suites: a Redis URL and removal of the keys arq keeps outside our prefix."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import REDIS_URL


@pytest.fixture
def redis_url() -> str:
    return REDIS_URL


async def delete_arq_keys(client: Any, queue_name: str) -> None:
    """arq keeps job, result, retry and in-progress keys as `arq:<kind>:<job id>`; ArqJobQueue puts the
    queue name in every job id, so this finds exactly one test's keys."""
    keys = [key async for key in client.scan_iter(match=f"arq:*:{queue_name}:*")]
    if keys:
        await client.delete(*keys)
