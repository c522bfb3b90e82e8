"""Managing a tenant's webhook endpoints, shared by the admin API and the CLI: add (validated), remove, rotate
the signing secret, enable and disable, and keep the tenant YAML's ``webhook_url`` in step as the config endpoint.

Validation before anything is stored: the URL by the SSRF guard (`services.webhooks.ssrf.check_url`), the events
and filter by the event catalogue (`services.webhooks.events.EventCatalogue.validate`: known events of processors
the tenant enables, filter keys of every event's listing), the signing scheme, and the tenant's endpoint count
(`webhook_max_endpoints`, 409 beyond it). Every problem is a 4xx naming the field.

The secret is returned once, by `add` and `rotate`; after that only its ed25519 public key is ever shown.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from core.errors import Conflict, NotFound, invalid_parameter
from core.settings import Settings
from core.tenant_config import TenantConfig
from core.validation import checked_text, text_problems
from services.webhooks.events import EventCatalogue, Subscription
from services.webhooks.signing import SIGNING_SCHEMES, new_secret
from services.webhooks.ssrf import Resolver, WebhookUrlRefused, check_url
from storage.db import retrying_write_conflicts
from storage.jobs import JobQueue
from storage.tables import utcnow
from storage.webhooks import endpoints as store
from storage.webhooks.endpoints import BACKFILLING, Endpoint
from storage.webhooks.tables import ENABLED, HMAC

API, CONFIG = "api", "config"
MAX_DESCRIPTION = 200
CONFIG_URL_PARAMETER = "customer.api.webhook_url"
BACKFILL_WEBHOOK_JOB = "backfill_webhook"  # registered by workers.webhook_jobs (main queue)


@dataclass(frozen=True)
class NewEndpoint:
    """What a tenant asks for. `since_ledger`: record the stored history from that ledger into the outbox
    first (the endpoint is ``backfilling`` until the backfill job is done)."""

    url: str
    events: Sequence[str]
    filter: Mapping[str, Any] = field(default_factory=dict)
    description: str | None = None
    signing: str = HMAC
    ordered: bool = True
    max_concurrency: int | None = None
    since_ledger: int | None = None


@dataclass(frozen=True)
class Keyed:
    """An endpoint with its new secret (shown once)."""

    endpoint: Endpoint
    secret: str


@dataclass(frozen=True)
class ConfigSync:
    """What `sync_config` did: ``created`` (with the secret, shown once), ``updated``, ``removed``,
    ``unchanged`` or ``none`` (the YAML has no webhook)."""

    action: str
    endpoint: Endpoint | None = None
    secret: str | None = None


async def queue_backfill(jobs: JobQueue, endpoint_id: str, first: int, last: int | None) -> dict[str, Any]:
    """Queue the ``backfill_webhook`` job recording the endpoint's stored history from ledger `first` (to `last`,
    default the newest stored) into its outbox; the job id is deterministic, so asking twice queues it once."""
    job_id = f"{BACKFILL_WEBHOOK_JOB}:{endpoint_id}:{first}:{last or 'latest'}"
    queued = await jobs.enqueue(BACKFILL_WEBHOOK_JOB, endpoint_id, first, last, job_id=job_id)
    return {"job_id": job_id, "queued": queued, "from_ledger": first, "to_ledger": last}


def config_sync_view(sync: ConfigSync) -> dict[str, Any] | None:
    """What the tenant is told about its config endpoint after an apply (None when there is none)."""
    if sync.endpoint is None:
        return None
    view: dict[str, Any] = {"endpoint_id": sync.endpoint.id, "action": sync.action, "url": sync.endpoint.url}
    if sync.secret is not None:
        view["secret"] = sync.secret
        view["note"] = "the webhook secret is shown only once; store it now"
    return view


def config_endpoint_id(tenant_id: str) -> str:
    """The id of a tenant's config endpoint: stable, so `tenants apply` finds it again."""
    return "ep_cfg_" + hashlib.sha256(tenant_id.encode()).hexdigest()[:24]


def new_endpoint_id() -> str:
    return "ep_" + base64.b32encode(secrets.token_bytes(15)).decode().lower()


class WebhookEndpoints:
    """The endpoint operations over one database; `resolver` and `now` are injectable for tests."""

    def __init__(
        self,
        engine: AsyncEngine,
        catalogue: EventCatalogue,
        settings: Settings,
        *,
        resolver: Resolver | None = None,
        now: Callable[[], datetime] = utcnow,
    ) -> None:
        self.engine = engine
        self.catalogue = catalogue
        self.settings = settings
        self.resolver = resolver
        self.now = now

    async def list(self, tenant_id: str) -> list[Endpoint]:
        async with self.engine.connect() as conn:
            return await store.tenant_endpoints(conn, tenant_id)

    async def by_id(self, endpoint_id: str) -> Endpoint:
        """The endpoint, whichever tenant's (ids are unique across tenants), or 404."""
        async with self.engine.connect() as conn:
            found = await store.endpoint_by_id(conn, endpoint_id)
        if found is None:
            raise NotFound(f"no webhook endpoint '{endpoint_id}'", code="webhook_endpoint_not_found")
        return found

    async def get(self, tenant_id: str, endpoint_id: str) -> Endpoint:
        """The tenant's endpoint, or 404 ``webhook_endpoint_not_found``."""
        async with self.engine.connect() as conn:
            found = await store.endpoint_by_id(conn, endpoint_id)
        if found is None or found.tenant_id != tenant_id:
            raise NotFound(
                f"tenant '{tenant_id}' has no webhook endpoint '{endpoint_id}'",
                code="webhook_endpoint_not_found",
            )
        return found

    async def add(self, config: TenantConfig, spec: NewEndpoint) -> Keyed:
        """Validate and store a new endpoint of the tenant `config`; its secret is in the result, only there."""
        # Text the database cannot store (NUL, lone surrogates) is a 400 naming where it is, before anything.
        problems = text_problems({"events": spec.events, "filter": spec.filter})
        if problems:
            raise invalid_parameter(problems[0].split(":", 1)[0], problems[0].split(": ", 1)[1])
        subscription = self.catalogue.validate(spec.events, spec.filter, config)
        signing = _signing(spec.signing)
        description = _description(spec.description)
        concurrency = self._concurrency(spec)
        if spec.since_ledger is not None and (
            isinstance(spec.since_ledger, bool)
            or not isinstance(spec.since_ledger, int)
            or spec.since_ledger < 1
        ):
            raise invalid_parameter("since_ledger", "must be a ledger sequence (a positive integer)")
        await check_url(spec.url, allow_private=self.settings.webhook_allow_private, resolver=self.resolver)
        tenant_id = config.customer.id
        secret, public_key = new_secret(signing)
        now = self.now()
        endpoint = _endpoint(
            new_endpoint_id(),
            tenant_id,
            spec.url,
            subscription,
            signing=signing,
            secret=secret,
            public_key=public_key,
            ordered=spec.ordered,
            max_concurrency=concurrency,
            source=API,
            status=BACKFILLING if spec.since_ledger is not None else ENABLED,
            description=description,
            now=now,
        )

        async def count_and_insert() -> None:
            async with self.engine.begin() as conn:
                # Counted in the inserting transaction; two concurrent adds may pass together, the limit is a
                # quota against accidents, not a security boundary.
                if await store.count_endpoints(conn, tenant_id) >= self.settings.webhook_max_endpoints:
                    raise Conflict(
                        f"tenant '{tenant_id}' already has {self.settings.webhook_max_endpoints} webhook "
                        "endpoints (OBSRVR_WEBHOOK_MAX_ENDPOINTS); remove one first",
                        code="too_many_webhook_endpoints",
                    )
                await store.insert_endpoint(conn, endpoint)

        # It reads before it writes: on SQLite a commit of the live tail in between refuses it ("database is
        # locked", whatever the busy timeout), so it runs again rather than answering 500.
        await retrying_write_conflicts(count_and_insert)
        return Keyed(endpoint, secret)

    async def remove(self, tenant_id: str, endpoint_id: str) -> None:
        async with self.engine.begin() as conn:
            if not await store.delete_endpoint(conn, tenant_id, endpoint_id):
                raise NotFound(
                    f"tenant '{tenant_id}' has no webhook endpoint '{endpoint_id}'",
                    code="webhook_endpoint_not_found",
                )

    async def rotate(self, tenant_id: str, endpoint_id: str, signing: str | None = None) -> Keyed:
        """A new secret (of `signing`, default the endpoint's scheme); the old one also signs for
        `webhook_rotation_grace_hours`."""
        current = await self.get(tenant_id, endpoint_id)
        scheme = _signing(signing) if signing is not None else current.signing
        secret, public_key = new_secret(scheme)
        now = self.now()
        async with self.engine.begin() as conn:
            await store.rotate_secret(
                conn,
                endpoint_id,
                signing=scheme,
                secret=secret,
                public_key=public_key,
                previous_expires_at=now + timedelta(hours=self.settings.webhook_rotation_grace_hours),
                now=now,
            )
            rotated = await store.endpoint_by_id(conn, endpoint_id)
        assert rotated is not None
        return Keyed(rotated, secret)

    async def enable(self, tenant_id: str, endpoint_id: str) -> Endpoint:
        """Enable the endpoint; its pending messages are due at once. An endpoint still backfilling stays so
        (the backfill enables it when it is done)."""
        current = await self.get(tenant_id, endpoint_id)
        if current.status == BACKFILLING:
            raise Conflict(
                f"webhook endpoint '{endpoint_id}' is backfilling; it is enabled when the backfill is done",
                code="webhook_endpoint_backfilling",
            )
        async with self.engine.begin() as conn:
            await store.enable_endpoint(conn, endpoint_id, self.now())
        return await self.get(tenant_id, endpoint_id)

    async def disable(
        self, tenant_id: str, endpoint_id: str, reason: str = "disabled by the tenant"
    ) -> Endpoint:
        await self.get(tenant_id, endpoint_id)
        async with self.engine.begin() as conn:
            await store.disable_endpoint(conn, endpoint_id, reason, self.now())
        return await self.get(tenant_id, endpoint_id)

    async def check_config(self, config: TenantConfig) -> Subscription | None:
        """The config endpoint the YAML asks for, validated (before the tenant is stored, so a refused URL
        stores nothing): None when it asks for none (no ``webhook_url``, or no ``webhook_events``). The URL is
        checked without DNS (a tenant file applies where the customer's name does not resolve yet); every
        connection checks the addresses it resolves to."""
        api = config.customer.api
        if not api.webhook_url or not api.webhook_events:
            return None
        try:
            await check_url(
                str(api.webhook_url),
                allow_private=self.settings.webhook_allow_private,
                resolver=self.resolver,
                resolve=False,
            )
        except WebhookUrlRefused as exc:
            raise WebhookUrlRefused(exc.reason, parameter=CONFIG_URL_PARAMETER) from None
        return self.catalogue.validate(list(api.webhook_events), {}, config)

    async def sync_config(self, config: TenantConfig) -> ConfigSync:
        """Make the tenant's config endpoint match its YAML: created (secret returned once), URL and events
        updated, or removed when the YAML no longer has a webhook (its outbox and log go with it)."""
        tenant_id = config.customer.id
        endpoint_id = config_endpoint_id(tenant_id)
        subscription = await self.check_config(config)
        now = self.now()

        async def sync() -> ConfigSync:
            async with self.engine.begin() as conn:
                existing = await store.endpoint_by_id(conn, endpoint_id)
                if subscription is None:
                    if existing is None:
                        return ConfigSync("none")
                    await store.delete_endpoint(conn, tenant_id, endpoint_id)
                    return ConfigSync("removed", existing)
                url = str(config.customer.api.webhook_url)
                if existing is not None:
                    if existing.url == url and existing.events == subscription.events:
                        return ConfigSync("unchanged", existing)
                    await store.update_subscription(
                        conn, endpoint_id, url=url, events=subscription.events, filter={}, now=now
                    )
                    updated = await store.endpoint_by_id(conn, endpoint_id)
                    return ConfigSync("updated", updated)
                secret, public_key = new_secret(HMAC)
                endpoint = _endpoint(
                    endpoint_id,
                    tenant_id,
                    url,
                    subscription,
                    signing=HMAC,
                    secret=secret,
                    public_key=public_key,
                    ordered=True,
                    max_concurrency=1,
                    source=CONFIG,
                    status=ENABLED,
                    description="customer.api.webhook_url of the tenant configuration",
                    now=now,
                )
                await store.insert_endpoint(conn, endpoint)
                return ConfigSync("created", endpoint, secret)

        # Called after the tenant's own transaction committed (create/update): on SQLite a live tail's commit in
        # between refuses this read-then-write transaction, which runs again rather than failing a request whose
        # tenant (and its key, shown once) is already stored.
        return await retrying_write_conflicts(sync)

    def _concurrency(self, spec: NewEndpoint) -> int:
        if not isinstance(spec.ordered, bool):
            raise invalid_parameter("ordered", "must be true or false")
        if spec.ordered:
            if spec.max_concurrency not in (None, 1):
                raise invalid_parameter("max_concurrency", "an ordered endpoint sends one message at a time")
            return 1
        limit = self.settings.webhook_max_concurrency
        if spec.max_concurrency is None:
            return limit
        value = spec.max_concurrency
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= limit:
            raise invalid_parameter("max_concurrency", f"must be an integer from 1 to {limit}")
        return value


def _signing(signing: object) -> str:
    if signing not in SIGNING_SCHEMES:
        raise invalid_parameter("signing", f"must be one of {', '.join(SIGNING_SCHEMES)}")
    return str(signing)


def _description(description: object) -> str | None:
    if description is None:
        return None
    if not isinstance(description, str) or len(description) > MAX_DESCRIPTION:
        raise invalid_parameter("description", f"must be text of at most {MAX_DESCRIPTION} characters")
    return checked_text("description", description)


def _endpoint(
    endpoint_id: str,
    tenant_id: str,
    url: str,
    subscription: Subscription,
    *,
    signing: str,
    secret: str,
    public_key: str | None,
    ordered: bool,
    max_concurrency: int,
    source: str,
    status: str,
    description: str | None,
    now: datetime,
) -> Endpoint:
    return Endpoint(
        id=endpoint_id,
        tenant_id=tenant_id,
        url=url,
        events=subscription.events,
        filter=subscription.filter,
        description=description,
        signing=signing,
        secret=secret,
        public_key=public_key,
        previous_secret=None,
        previous_public_key=None,
        previous_expires_at=None,
        ordered=ordered,
        max_concurrency=max_concurrency,
        source=source,
        status=status,
        disabled_reason=None,
        disabled_at=None,
        failing_since=None,
        last_success_at=None,
        created_at=now,
        updated_at=now,
    )
