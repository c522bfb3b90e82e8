"""The application's state: everything a request handler needs, built once in the lifespan."""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from starlette.applications import Starlette
from starlette.requests import HTTPConnection

from core.settings import Settings
from core.tenant_config import TenantConfig
from processors.registry import Registry
from services.tenant_configs import stored_config

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from api.admin_credentials import AdminVerifier
    from api.app_metrics import ApiMetrics
    from api.graphql_ws.registry import Connections
    from api.response_cache import ResponseCache
    from resolvers.context import LiveRows
    from schema.validation_pool import ValidationPool
    from storage.api_keys import ApiKey, ApiKeyStore
    from storage.audit import AuditLog
    from storage.backends import Backends
    from storage.router import QueryRouter
    from storage.tenants import TenantRecord, TenantStore
    from storage.usage import UsageCounters


@dataclass
class Tenant:
    """A tenant as the request path sees it: the stored record and its parsed configuration."""

    record: TenantRecord
    config: TenantConfig

    @property
    def id(self) -> str:
        return self.record.id


@dataclass
class AppState:
    settings: Settings
    engine: AsyncEngine
    tenants: TenantStore
    keys: ApiKeyStore
    audit: AuditLog
    usage: UsageCounters
    backends: Backends
    admin: AdminVerifier
    router: QueryRouter
    registry: Registry
    metrics: ApiMetrics
    response_cache: ResponseCache
    websockets: Connections
    """The GraphQL WebSocket connections open here (per-tenant counts, revoked-key watch)."""
    subscriptions: LiveRows | None = None
    """The subscription row source (`services.subscriptions.SubscriptionHub`), one per process."""
    validation_pool: ValidationPool | None = None
    _tenant_cache: dict[str, tuple[float, Tenant | None]] = field(default_factory=dict)
    _key_cache: dict[bytes, tuple[float, ApiKey | None]] = field(default_factory=dict)
    _key_generation: int = 0
    _configs: dict[tuple[str, int, object, object], TenantConfig] = field(default_factory=dict)
    """Parsed configs by tenant id and stored version: parsing and validating a document costs more than the
    rest of a small request, and a stored version never changes (an update bumps `config_version`)."""

    async def verify_key(self, secret: str) -> ApiKey | None:
        """Active key for `secret`, or None; cached like tenants (keyed by a digest, never the secret)."""
        digest = hashlib.sha256(secret.encode()).digest()
        now = time.monotonic()
        hit = self._key_cache.get(digest)
        if hit is not None and hit[0] > now:
            return hit[1]
        generation = self._key_generation
        key = await self.keys.verify(secret)
        # A revocation during the lookup (forget_keys bumps the generation) must not be undone by caching
        # the verdict read before it.
        if self.settings.auth_cache_seconds > 0 and generation == self._key_generation:
            if len(self._key_cache) > 10_000:
                self._key_cache.clear()
            self._key_cache[digest] = (now + self.settings.auth_cache_seconds, key)
        return key

    def forget_keys(self) -> None:
        """Drop every cached key verdict (after a revocation, so it takes effect at once here)."""
        self._key_generation += 1
        self._key_cache.clear()

    async def tenant(self, tenant_id: str) -> Tenant | None:
        """The tenant with its parsed config, cached for `auth_cache_seconds` (hot path of every request).

        Changes made through this process (admin API) drop the entry at once; other replicas see them
        within the cache time.
        """
        now = time.monotonic()
        hit = self._tenant_cache.get(tenant_id)
        if hit is not None and hit[0] > now:
            return hit[1]
        record = await self.tenants.get(tenant_id)
        tenant = None if record is None else Tenant(record, self._config(record))
        if self.settings.auth_cache_seconds > 0:
            if len(self._tenant_cache) > 10_000:
                self._tenant_cache.clear()
            self._tenant_cache[tenant_id] = (now + self.settings.auth_cache_seconds, tenant)
        return tenant

    def _config(self, record: TenantRecord) -> TenantConfig:
        # The creation time too: a tenant deleted and created again starts again at version 1.
        version = (record.id, record.config_version, record.created_at, record.updated_at)
        config = self._configs.get(version)
        if config is None:
            if len(self._configs) > 10_000:
                self._configs.clear()
            config = self._configs[version] = stored_config(record, self.registry)
        return config

    def forget_tenant(self, tenant_id: str) -> None:
        self._tenant_cache.pop(tenant_id, None)


def app_state(owner: HTTPConnection | Starlette) -> AppState:
    """The AppState of a request (or of the Starlette app itself, as pure ASGI middleware sees it)."""
    app = owner if isinstance(owner, Starlette) else owner.app
    state: AppState = app.state.flow
    return state
