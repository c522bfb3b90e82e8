"""Helpers for API tests: settings, a migrated database, onboarding through the admin API."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from sqlalchemy import text
from starlette.testclient import TestClient

from core.settings import Settings
from storage import migrate
from storage.db import create_engine

ROOT = Path(__file__).resolve().parents[2]
ACME_YAML = (ROOT / "examples/tenants/acme-wallet.yaml").read_text()
ADMIN_TOKEN = "s3cr3t-admin-credential-for-tests"
JWT_SECRET = "jwt-secret-for-tests-" + "x" * 32
LOOPBACK = ("127.0.0.1", 40000)


def migrate_db(url: str) -> None:
    async def run() -> None:
        engine = create_engine(url)
        try:
            await migrate.upgrade(engine)
        finally:
            await engine.dispose()

    asyncio.run(run())


def sql(url: str, statement: str, **params: Any) -> list[Any]:
    """Read the database directly, as an outside observer of what the app wrote."""

    async def run() -> list[Any]:
        engine = create_engine(url)
        try:
            async with engine.connect() as conn:
                return list((await conn.execute(text(statement), params)).all())
        finally:
            await engine.dispose()

    return asyncio.run(run())


def execute(db_url: str, statement: str, **params: Any) -> None:
    """Run one statement that returns no rows (DDL, ANALYZE, a write) in a transaction of its own."""

    async def run() -> None:
        engine = create_engine(db_url)
        try:
            async with engine.begin() as conn:
                await conn.execute(text(statement), params)
        finally:
            await engine.dispose()

    asyncio.run(run())


def drop_table(url: str, table: str) -> None:
    """Take a table away under the service: a real fault for the tests of unexpected errors."""
    execute(url, f"DROP TABLE {table} CASCADE")


def set_tip(url: str, ledger: int) -> None:
    """Record `ledger` as the newest pubnet ledger ingested (`latest:pubnet`), as ingestion would."""
    from core.settings import Network
    from storage.checkpoints import Checkpoints

    async def run() -> None:
        engine = create_engine(url)
        try:
            async with engine.begin() as conn:
                await Checkpoints(engine).set(conn, "latest:pubnet", Network.pubnet.value, ledger)
        finally:
            await engine.dispose()

    asyncio.run(run())


def settings_for(database_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": database_url,
        "key_pepper": "pepper-for-tests",
        "admin_token": ADMIN_TOKEN,
        "admin_jwt_secret": JWT_SECRET,
        "audit_flush_seconds": 0,
        "auth_cache_seconds": 0,
        "redis_url": None,
    }
    values.update(overrides)
    return Settings(**values)


def tenant_yaml(tenant_id: str = "acme-wallet", **api: Any) -> str:
    """The demo tenant's YAML with another id and, optionally, other `api` settings."""
    import yaml

    doc = yaml.safe_load(ACME_YAML)
    doc["customer"]["id"] = tenant_id
    doc["customer"]["api"].update(api)
    return str(yaml.safe_dump(doc))


ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def onboard(client: TestClient, tenant_id: str = "acme-wallet", **api: Any) -> dict[str, Any]:
    response = client.post(
        "/admin/tenants",
        content=tenant_yaml(tenant_id, **api),
        headers={**ADMIN, "Content-Type": "application/yaml"},
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def ingest_samples(client: TestClient, tenant_id: str, folder: Path, types: list[str]) -> tuple[int, int]:
    """Ingest the project's sample ledgers (written to `folder`, the app's pubnet source) for `tenant_id`'s
    `types` through the app's own job runner, as the embedded mode runs every job. Returns (first, last)."""
    from ledgers.samples import ensure_sample_datastore

    info = ensure_sample_datastore(folder)
    jobs = client.app.state.flow.backends.jobs  # type: ignore[attr-defined]
    args = (tenant_id, info.first_ledger, info.last_ledger, types)
    assert client.portal.call(lambda: jobs.enqueue("backfill_range", *args, job_id=f"samples:{tenant_id}"))
    client.portal.call(jobs.drain)
    return info.first_ledger, info.last_ledger
