"""Fixtures: an app on a real, migrated PostgreSQL database, driven through Starlette's TestClient."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from obsrvr_flow.wiring import build_app
from tests.api.helpers import LOOPBACK, migrate_db, settings_for


@pytest.fixture
def migrated_pg(pg_url: str) -> str:
    migrate_db(pg_url)
    return pg_url


@pytest.fixture
def make_client(migrated_pg: str) -> Iterator[Callable[..., TestClient]]:
    clients: list[TestClient] = []

    def make(client_addr: tuple[str, int] = LOOPBACK, **overrides: Any) -> TestClient:
        client = TestClient(build_app(settings_for(migrated_pg, **overrides)), client=client_addr)
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def client(make_client: Callable[..., TestClient]) -> TestClient:
    return make_client()
