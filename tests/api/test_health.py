"""Liveness and readiness, with what failed named in the body."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from starlette.testclient import TestClient

from core.errors import ServiceUnavailable
from obsrvr_flow.wiring import build_app
from tests.api.helpers import settings_for


def test_healthz_and_readyz(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ready", "checks": {"database": "ok", "migrations": "ok"}}


def test_readyz_names_missing_migrations(pg_url: str) -> None:
    with TestClient(build_app(settings_for(pg_url))) as client:
        response = client.get("/readyz")
    assert response.status_code == 503
    assert "obsrvr-flow migrate" in response.json()["checks"]["migrations"]


def test_readyz_checks_redis(make_client: Callable[..., TestClient]) -> None:
    client = make_client(redis_url="redis://127.0.0.1:6379/0")
    assert client.get("/readyz").json()["checks"]["redis"] == "ok"


def test_unreachable_redis_fails_start_up_clearly(migrated_pg: str) -> None:
    # With OBSRVR_REDIS_URL set, Redis is required: the app refuses to start rather than serve half-working.
    with pytest.raises(ServiceUnavailable, match="Redis is not reachable"):
        with TestClient(build_app(settings_for(migrated_pg, redis_url="redis://127.0.0.1:1/0"))):
            pass


def test_readyz_names_unreachable_database(tmp_path: object) -> None:
    settings = settings_for("postgresql+asyncpg://root@127.0.0.1:1/nothing")
    with TestClient(build_app(settings)) as client:
        response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["database"].startswith("unreachable")
