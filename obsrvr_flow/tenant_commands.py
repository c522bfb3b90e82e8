"""`obsrvr-flow tenants ...` and `obsrvr-flow keys ...`: onboarding and API keys from the command line."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from core.errors import FlowError
from core.settings import Settings
from core.tenant_config import parse_tenant_config
from obsrvr_flow.cli import _fail, _read_configs, _run, _settings, _Stores, keys_app, out, tenants_app
from processors.registry import catalogue

# --- tenants -------------------------------------------------------------------------------------------


@tenants_app.command("validate")
def tenants_validate(
    file: Annotated[Path, typer.Argument(help="Tenant YAML (one or more documents)")],
) -> None:
    """Validate a tenant file and print a summary; a bad file exits 1 with one line per problem."""
    configs = _read_configs(file)
    for config in configs:
        for line in config.summary_lines():
            out.print(line, highlight=False)
    out.print(f"{file}: valid ({len(configs)} tenant{'s' if len(configs) != 1 else ''})", highlight=False)


@tenants_app.command("apply")
def tenants_apply(file: Annotated[Path, typer.Argument(help="Tenant YAML (one or more documents)")]) -> None:
    """Create each tenant of the file (printing its first API key) or update its configuration.

    With OBSRVR_REDIS_URL set, backfills of processors enabled with a start_ledger are queued for the workers.
    """
    from services.onboarding import apply_tenant, schedule_backfills

    configs = _read_configs(file)
    settings = _settings()

    async def work() -> list[str]:
        new_keys = []
        async with _Stores(settings) as stores, _job_queue(settings) as jobs:
            for config in configs:
                previous = await stores.tenants.get(config.customer.id)
                done = await apply_tenant(stores.tenants, stores.keys, config)
                verb = "created" if done.created else f"updated (config version {done.tenant.config_version})"
                out.print(f"tenant {done.tenant.id}: {verb}", highlight=False)
                if jobs is not None:
                    before = parse_tenant_config(previous.config, catalogue()) if previous else None
                    plan = await schedule_backfills(
                        stores.engine, jobs, config, before, settings.backfill_chunk_ledgers
                    )
                    for processor_type, step in plan.items():
                        out.print(f"  backfill {processor_type}: {step}", highlight=False)
                if done.key is not None:
                    out.print(f"  key {done.key.key.id} (prefix {done.key.key.prefix}), shown once:")
                    new_keys.append(done.key.secret)
        return new_keys

    for secret in _run(work):
        print(secret)


@tenants_app.command("status")
def tenants_status(tenant_id: str) -> None:
    """Ingestion progress of a tenant: backfill per processor (ranges, ledgers/s, ETA, last error)."""
    from services.onboarding import ingestion_status

    settings = _settings()

    async def work() -> dict[str, Any]:
        async with _Stores(settings) as stores:
            record = await stores.tenants.get(tenant_id)
            if record is None:
                raise FlowError(f"no tenant '{tenant_id}'", code="tenant_not_found", status=404)
            return await ingestion_status(stores.engine, tenant_id, record.network)

    status = _run(work)
    out.print(f"network {status['network']}: latest ledger {status['latest_ledger'] or '-'}", highlight=False)
    table = Table(
        "processor", "ranges done", "running", "failed", "ledgers", "ledgers/s", "ETA", "last error"
    )
    for name, s in status["backfill"].items():
        rate, eta = s["ledgers_per_second"], s["eta_seconds"]
        table.add_row(
            name,
            f"{s['ranges_done']}/{s['ranges_total']}",
            str(s["ranges_running"]),
            str(s["ranges_failed"]),
            f"{s['ledgers_done']}/{s['ledgers_total']}",
            f"{rate:.1f}" if rate else "-",
            f"{eta:.0f} s" if eta else "-",
            s["last_error"] or "",
        )
    out.print(table)


@contextlib.asynccontextmanager
async def _job_queue(settings: Settings) -> AsyncIterator[Any]:
    """The arq queue when Redis is configured, else None (embedded mode has no workers to hand jobs to)."""
    if settings.redis_url is None:
        yield None
        return
    from storage.jobs import ArqJobQueue

    queue = await ArqJobQueue.connect(settings.redis_url, settings.queue_name)
    try:
        yield queue
    finally:
        await queue.close()


@tenants_app.command("list")
def tenants_list() -> None:
    """List tenants."""
    settings = _settings()

    async def work() -> list[Any]:
        async with _Stores(settings) as stores:
            return await stores.tenants.list()

    table = Table("id", "name", "network", "config version", "updated")
    for t in _run(work):
        table.add_row(
            t.id, t.name, t.network, str(t.config_version), t.updated_at.isoformat(timespec="seconds")
        )
    out.print(table)


@tenants_app.command("delete")
def tenants_delete(tenant_id: str) -> None:
    """Delete a tenant and its API keys."""
    settings = _settings()

    async def work() -> bool:
        async with _Stores(settings) as stores:
            return await stores.tenants.delete(tenant_id)

    if not _run(work):
        raise _fail([f"no tenant '{tenant_id}'"])
    out.print(f"tenant {tenant_id}: deleted")


# --- keys ----------------------------------------------------------------------------------------------


@keys_app.command("create")
def keys_create(
    tenant_id: str,
    scope: Annotated[list[str] | None, typer.Option("--scope", help="Repeatable; default read:*")] = None,
    name: Annotated[str | None, typer.Option(help="A label for the key")] = None,
) -> None:
    """Create an API key; the key is printed alone on the last line of stdout."""
    from services.onboarding import check_scopes

    settings = _settings()

    async def work() -> str:
        async with _Stores(settings) as stores:
            if await stores.tenants.get(tenant_id) is None:
                raise FlowError(f"no tenant '{tenant_id}'", code="tenant_not_found", status=404)
            issued = await stores.keys.create(tenant_id, check_scopes(scope), name=name)
            out.print(
                f"key {issued.key.id} (prefix {issued.key.prefix}, scopes {', '.join(issued.key.scopes)})"
            )
            return issued.secret

    secret = _run(work)
    print(secret)


@keys_app.command("list")
def keys_list(tenant_id: str) -> None:
    """List a tenant's keys (ids and prefixes; secrets are never stored)."""
    settings = _settings()

    async def work() -> list[Any]:
        async with _Stores(settings) as stores:
            return await stores.keys.list(tenant_id)

    table = Table("id", "prefix", "name", "scopes", "created", "last used", "revoked")
    for k in _run(work):
        table.add_row(
            k.id,
            k.prefix,
            k.name or "",
            " ".join(k.scopes),
            k.created_at.isoformat(timespec="seconds"),
            k.last_used_at.isoformat(timespec="seconds") if k.last_used_at else "",
            k.revoked_at.isoformat(timespec="seconds") if k.revoked_at else "",
        )
    out.print(table)


@keys_app.command("revoke")
def keys_revoke(tenant_id: str, key_id: str) -> None:
    """Revoke an API key."""
    settings = _settings()

    async def work() -> bool:
        async with _Stores(settings) as stores:
            return await stores.keys.revoke(tenant_id, key_id)

    if not _run(work):
        raise _fail([f"no active key '{key_id}' for tenant '{tenant_id}'"])
    out.print(f"key {key_id}: revoked")
