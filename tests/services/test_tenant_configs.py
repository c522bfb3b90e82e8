"""Stored tenant configs that stop validating (the rules moved under them) are the service's problem: the tenant's
requests are a logged 503, never a client-facing problem list; work for many tenants leaves it out; and applying
the tenant again fixes it. The migration of 0006 drops webhook events of processors a tenant does not enable, so
the documents stored before the events came from the catalogue stay valid."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import pytest
import yaml
from sqlalchemy import text
from starlette.testclient import TestClient

from core.errors import ServiceUnavailable
from processors.registry import default_registry
from services.tenant_configs import previous_config, stored_config, stored_configs
from storage import migrate
from storage.db import create_engine
from storage.tenants import TenantRecord
from tests.api.helpers import ADMIN, bearer, execute, onboard, sql, tenant_yaml


def _record(tenant_id: str, document: dict[str, Any]) -> TenantRecord:
    from datetime import UTC, datetime

    now = datetime.now(UTC)
    return TenantRecord(tenant_id, tenant_id, "pubnet", document, 1, now, now)


def _document(tenant_id: str, processor: str) -> dict[str, Any]:
    return {
        "customer": {
            "id": tenant_id,
            "name": tenant_id,
            "network": "pubnet",
            "processors": [{"type": processor}],
        }
    }


def test_stored_configs_leave_out_what_no_longer_validates(caplog: pytest.LogCaptureFixture) -> None:
    registry = default_registry()
    good = _record("good-one", _document("good-one", "TokenTransferProcessor"))
    gone = _record("gone-one", _document("gone-one", "RetiredProcessor"))
    assert [c.customer.id for c in stored_configs([good, gone], registry)] == ["good-one"]
    assert "gone-one" in caplog.text and "RetiredProcessor" in caplog.text
    with pytest.raises(ServiceUnavailable) as refused:
        stored_config(gone, registry)
    assert refused.value.code == "tenant_config_invalid" and "RetiredProcessor" not in refused.value.message
    assert previous_config(gone, registry) is None and previous_config(None, registry) is None


def test_a_tenant_whose_stored_config_broke_gets_503s_until_applied_again(
    make_client: Callable[..., TestClient], migrated_pg: str
) -> None:
    client = make_client()
    key = bearer(onboard(client, "shop")["api_key"]["secret"])
    assert client.get("/api/v1/shop/", headers=key).status_code == 200
    # What a processor leaving the registry does to a stored document: a type these processors do not know.
    document = sql(migrated_pg, "SELECT config FROM tenants WHERE id = 'shop'")[0][0]
    document = json.loads(document) if isinstance(document, str) else document
    document["customer"]["processors"][0]["type"] = "RetiredProcessor"
    execute(migrated_pg, "UPDATE tenants SET config = :c WHERE id = 'shop'", c=json.dumps(document))
    client = make_client()  # a replica that has not cached the tenant
    for response in (
        client.get("/api/v1/shop/", headers=key),
        client.post("/api/v1/shop/graphql", json={"query": "{ _meta { latestLedger } }"}, headers=key),
    ):
        assert response.status_code == 503, response.text
        assert "tenant_config_invalid" in response.text and "RetiredProcessor" not in response.text
    fixed = client.put("/admin/tenants/shop", content=tenant_yaml("shop"), headers=ADMIN)
    assert fixed.status_code == 200, fixed.text
    assert client.get("/api/v1/shop/", headers=key).status_code == 200


def test_migration_0006_drops_webhook_events_of_processors_not_enabled(pg_url: str) -> None:
    stored = {
        "customer": {
            "id": "old-shop",
            "name": "Old shop",
            "network": "pubnet",
            "processors": [
                {"type": "TokenTransferProcessor", "enabled": True, "config": {}},
                {"type": "DEXTradeProcessor", "enabled": False, "config": {}},
            ],
            "api": {
                "webhook_url": "https://shop.example/h",
                "webhook_events": ["token_transfer", "dex_trade"],
            },
        }
    }

    async def run() -> Any:
        engine = create_engine(pg_url)
        try:
            await migrate.upgrade(engine, "0005_checkpoint_closed_at")
            async with engine.begin() as conn:
                await conn.execute(
                    text(
                        "INSERT INTO tenants (id, name, network, config, config_version, created_at, updated_at)"
                        " VALUES ('old-shop', 'Old shop', 'pubnet', :config, 1, now(), now())"
                    ),
                    {"config": json.dumps(stored)},
                )
            await migrate.upgrade(engine)
            async with engine.connect() as conn:
                return (await conn.execute(text("SELECT config FROM tenants"))).scalar_one()
        finally:
            await engine.dispose()

    migrated = asyncio.run(run())
    migrated = json.loads(migrated) if isinstance(migrated, str) else migrated
    assert migrated["customer"]["api"]["webhook_events"] == ["token_transfer"]
    stored_config(_record("old-shop", migrated), default_registry())  # valid again
    assert yaml.safe_dump(migrated)  # and otherwise the same document
    migrated["customer"]["api"]["webhook_events"] = stored["customer"]["api"]["webhook_events"]
    assert migrated == stored
