"""The tenant store on both backends."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from core.errors import Conflict, NotFound
from storage.api_keys import ApiKeyStore
from storage.tenants import TenantStore

DOC = {"customer": {"id": "acme", "name": "Acme", "network": "pubnet", "processors": []}}


async def test_create_get_list(engine: AsyncEngine) -> None:
    store = TenantStore(engine)
    created = await store.create("acme", "Acme Wallet", "pubnet", DOC)
    assert (created.id, created.name, created.network, created.config_version) == (
        "acme",
        "Acme Wallet",
        "pubnet",
        1,
    )
    assert created.config == DOC
    assert created.created_at.tzinfo is not None and created.created_at == created.updated_at

    fetched = await store.get("acme")
    assert fetched == created
    assert await store.get("nobody") is None

    await store.create("beta", "Beta", "testnet", {"customer": {"id": "beta"}})
    assert [t.id for t in await store.list()] == ["acme", "beta"]


async def test_duplicate_id_is_a_conflict(engine: AsyncEngine) -> None:
    store = TenantStore(engine)
    await store.create("acme", "Acme", "pubnet", DOC)
    with pytest.raises(Conflict) as caught:
        await store.create("acme", "Other", "testnet", {})
    assert caught.value.code == "tenant_exists"
    assert caught.value.status == 409
    assert (await store.get("acme")).name == "Acme"  # type: ignore[union-attr]


async def test_update_bumps_version(engine: AsyncEngine) -> None:
    store = TenantStore(engine)
    created = await store.create("acme", "Acme", "pubnet", DOC)
    new_doc = {"customer": {"id": "acme", "name": "Acme Two", "network": "testnet"}}
    updated = await store.update("acme", "Acme Two", "testnet", new_doc)
    assert (updated.name, updated.network, updated.config, updated.config_version) == (
        "Acme Two",
        "testnet",
        new_doc,
        2,
    )
    assert updated.created_at == created.created_at
    assert updated.updated_at >= created.updated_at
    assert (await store.update("acme", "Acme Two", "testnet", new_doc)).config_version == 3
    assert await store.get("acme") == (await store.list())[0]


async def test_update_unknown_is_not_found(engine: AsyncEngine) -> None:
    with pytest.raises(NotFound) as caught:
        await TenantStore(engine).update("ghost", "Ghost", "pubnet", {})
    assert caught.value.code == "tenant_not_found"


async def test_delete_cascades_to_keys(engine: AsyncEngine) -> None:
    store, keys = TenantStore(engine), ApiKeyStore(engine, "pepper")
    await store.create("acme", "Acme", "pubnet", DOC)
    issued = await keys.create("acme")
    assert await store.delete("acme") is True
    assert await store.get("acme") is None
    assert await keys.get(issued.key.id) is None
    assert await keys.verify(issued.secret) is None
    assert await store.delete("acme") is False
