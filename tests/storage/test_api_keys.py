"""API keys on both backends: the secret is shown once, stored nowhere, and checked in constant time."""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from core.errors import NotFound
from storage.api_keys import PREFIX_LENGTH, ApiKeyStore
from storage.tables import api_keys
from storage.tenants import TenantStore


@pytest.fixture
async def keys(engine: AsyncEngine) -> ApiKeyStore:
    tenants = TenantStore(engine)
    await tenants.create("acme", "Acme", "pubnet", {})
    await tenants.create("beta", "Beta", "testnet", {})
    return ApiKeyStore(engine, "test-pepper")


async def test_create_shows_secret_once_and_stores_no_trace(engine: AsyncEngine, keys: ApiKeyStore) -> None:
    issued = await keys.create("acme", ["read:*", "read:token_transfers"], name="ci")
    secret, key = issued.secret, issued.key
    assert secret.startswith("ofk_") and len(secret) == 47
    assert key.id.startswith("key_") and len(key.id) == 20
    assert key.prefix == secret[:PREFIX_LENGTH]
    assert (key.tenant_id, key.name, key.scopes, key.active) == (
        "acme",
        "ci",
        ("read:*", "read:token_transfers"),
        True,
    )
    assert secret not in repr(issued)

    async with engine.connect() as conn:
        row = (await conn.execute(select(api_keys))).one()
    hidden = secret[PREFIX_LENGTH:]
    for column, value in row._mapping.items():
        text_value = str(value)
        assert secret not in text_value, column
        # Not even a fragment of the part after the prefix.
        assert all(hidden[i : i + 8] not in text_value for i in range(len(hidden) - 7)), column
    assert row.key_hash not in {
        hashlib.sha256(secret.encode()).hexdigest(),
        hashlib.sha256(hidden.encode()).hexdigest(),
    }


async def test_verify(keys: ApiKeyStore) -> None:
    issued = await keys.create("acme")
    verified = await keys.verify(issued.secret)
    assert verified == issued.key
    assert verified is not None and verified.scopes == ("read:*",)

    other_suffix = issued.secret[:PREFIX_LENGTH] + secrets.token_urlsafe(32)[: 47 - PREFIX_LENGTH]
    assert len(other_suffix) == len(issued.secret)
    assert await keys.verify(other_suffix) is None
    assert await keys.verify(issued.secret[:-1] + ("A" if issued.secret[-1] != "A" else "B")) is None
    assert await keys.verify("ofk_" + secrets.token_urlsafe(32)) is None  # unknown prefix
    for malformed in ["", "ofk_", issued.secret + "x", issued.secret[:-1], "Bearer " + issued.secret[:40]]:
        assert await keys.verify(malformed) is None
    assert await keys.verify(issued.secret[:-1] + "!") is None  # not URL-safe

    # A key with the same secret under another pepper is another key.
    assert await ApiKeyStore(keys.engine, "other-pepper").verify(issued.secret) is None


async def test_revoke(keys: ApiKeyStore) -> None:
    issued = await keys.create("acme")
    assert await keys.revoke("beta", issued.key.id) is False  # not beta's key
    assert await keys.verify(issued.secret) is not None
    assert await keys.revoke("acme", "key_0000000000000000") is False

    assert await keys.revoke("acme", issued.key.id) is True
    assert await keys.verify(issued.secret) is None
    revoked = await keys.get(issued.key.id)
    assert revoked is not None and not revoked.active and revoked.revoked_at is not None
    assert await keys.revoke("acme", issued.key.id) is False  # no longer active; first time kept
    assert (await keys.get(issued.key.id)).revoked_at == revoked.revoked_at  # type: ignore[union-attr]


async def test_list_and_get(keys: ApiKeyStore) -> None:
    first = await keys.create("acme", name="one")
    second = await keys.create("acme", name="two")
    await keys.create("beta")
    await keys.revoke("acme", first.key.id)
    listed = await keys.list("acme")
    assert [k.id for k in listed] == [first.key.id, second.key.id]
    assert [k.active for k in listed] == [False, True]
    assert await keys.list("nobody") == []
    assert await keys.get(second.key.id) == second.key
    assert await keys.get("key_missing") is None


async def test_unknown_tenant_is_refused(keys: ApiKeyStore) -> None:
    with pytest.raises(NotFound) as caught:
        await keys.create("ghost")
    assert caught.value.code == "tenant_not_found"


async def test_touch_moves_forward_only(keys: ApiKeyStore) -> None:
    issued = await keys.create("acme")
    at = datetime(2025, 3, 1, 12, tzinfo=UTC)
    await keys.touch({issued.key.id: at, "key_unknown": at})
    assert (await keys.get(issued.key.id)).last_used_at == at  # type: ignore[union-attr]
    await keys.touch({issued.key.id: at - timedelta(hours=1)})
    assert (await keys.get(issued.key.id)).last_used_at == at  # type: ignore[union-attr]
    await keys.touch({})


async def test_delete_tenant_cascades(engine: AsyncEngine, keys: ApiKeyStore) -> None:
    issued = [await keys.create("acme") for _ in range(3)]
    kept = await keys.create("beta")
    assert await TenantStore(engine).delete("acme")
    assert await keys.list("acme") == []
    assert all([await keys.verify(i.secret) is None for i in issued])
    assert await keys.verify(kept.secret) == kept.key
