"""CLI test fixtures."""

from __future__ import annotations

import os

import pytest


@pytest.fixture
def env(pg_url: str) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("OBSRVR_")}
    return {**clean, "OBSRVR_DATABASE_URL": pg_url, "OBSRVR_KEY_PEPPER": "cli-test-pepper", "COLUMNS": "200"}
