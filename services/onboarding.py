"""Tenant onboarding, shared by the admin API and the CLI: validate, create or update, issue keys, and
describe where the tenant's API lives."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from core.errors import BadRequest, QueueUnavailable
from core.settings import Settings
from core.tenant_config import TenantConfig
from core.validation import unstorable_text
from processors.registry import Registry
from services.backfill_guard import new_starts
from storage.api_keys import ApiKey, ApiKeyStore, IssuedKey
from storage.backfill import BackfillStore
from storage.checkpoints import Checkpoints
from storage.ingested_ranges import read as ingested_read
from storage.jobs import JobQueue
from storage.tenants import TenantRecord, TenantStore

DEFAULT_SCOPES: tuple[str, ...] = ("read:*",)


@dataclass(frozen=True)
class Onboarded:
    tenant: TenantRecord
    created: bool
    key: IssuedKey | None


MAX_KEY_NAME = 100


def check_key_name(name: object) -> str | None:
    """A new key's label as given (None: none), or a 400 `invalid_body`: 1 to `MAX_KEY_NAME` characters of text
    the database can store (a NUL was accepted, and PostgreSQL refuses one in text: a 500; an attacker's pass)."""
    if name is None:
        return None
    if not isinstance(name, str) or not 1 <= len(name) <= MAX_KEY_NAME:
        raise BadRequest(f"name: must be a string of 1 to {MAX_KEY_NAME} characters", code="invalid_body")
    problem = unstorable_text(name)
    if problem is not None:
        raise BadRequest(f"name: {problem}", code="invalid_body")
    return name


def check_scopes(registry: Registry, requested: Sequence[str] | None) -> tuple[str, ...]:
    """The scopes for a new key: the default when none are asked for (None), else each must be one of the
    registry's.

    An empty list is refused rather than read as "the default": it would turn "no access" into full access.
    """
    if requested is None:
        return DEFAULT_SCOPES
    if not requested:
        raise BadRequest(
            "scopes: give at least one scope, or leave scopes out for read:*", code="invalid_scope"
        )
    known = set(registry.scopes())
    unknown = [s for s in requested if s not in known]
    if unknown:
        raise BadRequest(
            f"unknown scope(s) {', '.join(unknown)}; known scopes: {', '.join(sorted(known))}",
            code="invalid_scope",
        )
    return tuple(dict.fromkeys(requested))


async def create_tenant(
    tenants: TenantStore,
    keys: ApiKeyStore,
    config: TenantConfig,
    key_scopes: tuple[str, ...] = DEFAULT_SCOPES,
) -> Onboarded:
    """Create the tenant (a duplicate id is a Conflict) and its first API key (`key_scopes`, checked by the
    caller with `check_scopes`)."""
    scopes_ = key_scopes
    customer = config.customer
    record = await tenants.create(customer.id, customer.name, customer.network.value, config.to_document())
    try:
        issued = await keys.create(record.id, scopes_, name="initial")
    except BaseException:
        # Without its first key (shown once) the tenant is unusable and a retry would hit "exists": undo.
        await tenants.delete(record.id)
        raise
    return Onboarded(record, True, issued)


async def apply_tenant(tenants: TenantStore, keys: ApiKeyStore, config: TenantConfig) -> Onboarded:
    """Create the tenant with a first key, or update its configuration (keys untouched)."""
    customer = config.customer
    if await tenants.get(customer.id) is None:
        return await create_tenant(tenants, keys, config)
    record = await tenants.update(customer.id, customer.name, customer.network.value, config.to_document())
    return Onboarded(record, False, None)


def tenant_links(settings: Settings, tenant_id: str) -> dict[str, str]:
    base = f"{settings.public_url.rstrip('/')}/api/v1/{tenant_id}"
    return {
        "discovery_url": f"{base}/",
        "graphql_url": f"{base}/graphql",
        "openapi_url": f"{base}/openapi.json",
        "docs_url": f"{base}/docs",
    }


def key_view(key: ApiKey, secret: str | None = None) -> dict[str, Any]:
    view: dict[str, Any] = {
        "id": key.id,
        "prefix": key.prefix,
        "name": key.name,
        "scopes": list(key.scopes),
        "created_at": key.created_at.isoformat(),
        "last_used_at": key.last_used_at.isoformat() if key.last_used_at else None,
        "revoked_at": key.revoked_at.isoformat() if key.revoked_at else None,
    }
    if secret is not None:
        view["secret"] = secret
    return view


def tenant_view(record: TenantRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "name": record.name,
        "network": record.network,
        "config_version": record.config_version,
        "created_at": record.created_at.isoformat(),
        "updated_at": record.updated_at.isoformat(),
        "config": record.config,
    }


async def schedule_backfills(
    engine: AsyncEngine,
    jobs: JobQueue,
    config: TenantConfig,
    previous: TenantConfig | None,
    chunk_size: int,
) -> dict[str, Any]:
    """Enqueue the backfill of every processor enabled with a `start_ledger` that is new (tenant created, the
    processor newly enabled, or its start ledger moved), from that ledger to the last ledger ingested for the
    tenant's network, and enqueue again the tenant's chunks still `queued` whose job never reached the queue.
    Returns what was planned per processor type.

    Callers plan inside `services.backfill_guard.planning_backfills` (taken before the configuration is
    stored), which refuses a start at or below an archive watermark and keeps archival of the tenant out
    meanwhile.

    The job queue being unreachable is no failure here: the chunks are recorded as `queued` and the worker's
    `resume_backfills` cron enqueues them once the queue is back (the plan says so, `"waiting_for_queue"`)."""
    network = config.customer.network.value
    tip = await Checkpoints(engine).get(f"latest:{network}")
    before = {p.type: p for p in previous.enabled_processors()} if previous else {}
    plan: dict[str, Any] = {}
    # Processors starting at the same ledger share one backfill (one decode per ledger for all of them).
    by_start: dict[int, list[str]] = {}
    deferred: dict[int, list[str]] = {}
    for type_name, start in new_starts(config, previous).items():
        if tip is None:
            deferred.setdefault(start, []).append(type_name)
            plan[type_name] = {
                "status": "deferred",
                "reason": f"no {network} ledger ingested yet: planned once the live tail has ingested one",
            }
        elif start > tip:
            plan[type_name] = {"status": "not_needed", "reason": f"start ledger is after the tip ({tip})"}
        else:
            by_start.setdefault(start, []).append(type_name)
    # A backfill still waiting for the network's first ledger is dropped when its processor's start moved or the
    # processor is no longer enabled (with a start); the new start, if any, is deferred in its place.
    now = {e.type: e.start_ledger for e in config.enabled_processors()}
    moved = {
        t for t, old in before.items() if old.start_ledger is not None and now.get(t) != old.start_ledger
    }
    if moved:
        await BackfillStore(engine).drop_deferred(config.customer.id, moved)
    for start, types in deferred.items():
        await BackfillStore(engine).defer(config.customer.id, network, types, start)
    store = BackfillStore(engine)
    queue_down = False
    for start, types in by_start.items():
        assert tip is not None
        try:
            jobs_queued = len(
                await store.plan(jobs, config.customer.id, network, types, start, tip, chunk_size)
            )
        except QueueUnavailable:
            queue_down, jobs_queued = True, 0
        for processor_type in types:
            plan[processor_type] = {"status": "queued", "from": start, "to": tip, "jobs": jobs_queued}
            if queue_down:
                plan[processor_type]["waiting_for_queue"] = QUEUE_DOWN_NOTE
    if not queue_down:
        try:
            await store.requeue_queued(jobs, tenant_id=config.customer.id)
        except QueueUnavailable:
            queue_down = True
    if queue_down:
        plan.setdefault("*", {"status": "waiting_for_queue", "reason": QUEUE_DOWN_NOTE})
    return plan


QUEUE_DOWN_NOTE = (
    "the job queue is unreachable: the backfill is recorded and is queued by itself once the queue is back "
    "(within a minute of it)"
)


async def ingestion_status(engine: AsyncEngine, tenant_id: str, network: str) -> dict[str, Any]:
    """The ledgers ingested per processor, backfill progress per processor and the live position of the
    tenant's network."""
    summary = await BackfillStore(engine).summary(tenant_id)
    checkpoints = Checkpoints(engine)
    return {
        "network": network,
        # Every range ingested per processor type name (live tail, backfills, `ingest`, `dev`), merged.
        "ingested": {
            name: [list(r) for r in ranges]
            for name, ranges in (await ingested_read(engine, tenant_id)).items()
        },
        "latest_ledger": await checkpoints.get(f"latest:{network}"),
        "live_ledger": await checkpoints.get(f"live:{network}"),
        "backfill": {name: s.as_dict() for name, s in summary.items() if name != "*"},
        "backfill_total": summary["*"].as_dict() if "*" in summary else None,
    }
