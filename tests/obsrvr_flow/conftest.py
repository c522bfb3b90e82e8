"""CLI test fixtures."""

from __future__ import annotations

import os

import pytest


def _env(database_url: str) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("OBSRVR_")}
    return {
        **clean,
        "OBSRVR_DATABASE_URL": database_url,
        "OBSRVR_KEY_PEPPER": "cli-test-pepper",
        "COLUMNS": "200",
    }


@pytest.fixture
def env(pg_url: str) -> dict[str, str]:
    """The CLI's environment on an empty database (for the tests of `obsrvr-flow migrate` itself)."""
    return _env(pg_url)


@pytest.fixture
def migrated_env(migrated_pg: str) -> dict[str, str]:
    """The CLI's environment on a migrated database: running `obsrvr-flow migrate` first would cost a process."""
    return _env(migrated_pg)
