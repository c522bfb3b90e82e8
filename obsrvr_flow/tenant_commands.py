"""`obsrvr-flow tenants ...`: validate, apply (onboard or update), list, delete tenants and show their ingestion."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn
from rich.table import Table

from core.errors import FlowError
from obsrvr_flow.common import (
    Stores,
    err,
    job_queue,
    load_settings,
    out,
    print_table,
    read_configs,
    registry,
    run,
)

app = typer.Typer(no_args_is_help=True, help="Validate, apply and list tenants.")


@app.command("validate")
def tenants_validate(
    file: Annotated[Path, typer.Argument(help="Tenant YAML (one or more documents)")],
) -> None:
    """Validate a tenant file and print a summary; a bad file exits 1 with one line per problem."""
    configs = read_configs(file)
    for config in configs:
        for line in config.summary_lines():
            out.print(line, highlight=False)
    out.print(f"{file}: valid ({len(configs)} tenant{'s' if len(configs) != 1 else ''})", highlight=False)


@app.command("apply")
def tenants_apply(file: Annotated[Path, typer.Argument(help="Tenant YAML (one or more documents)")]) -> None:
    """Create each tenant of the file (printing its first API key) or update its configuration.

    With OBSRVR_REDIS_URL set, backfills of processors enabled with a start_ledger are queued for the workers.
    """
    from services.backfill_guard import APPLY_ADVICE, new_starts, planning_backfills
    from services.onboarding import apply_tenant, schedule_backfills
    from services.tenant_configs import previous_config
    from services.webhooks.endpoints import WebhookEndpoints
    from services.webhooks.events import EventCatalogue

    configs = read_configs(file)
    settings = load_settings()
    processors = registry()

    async def work() -> list[str]:
        new_keys = []
        async with Stores(settings) as stores, job_queue(settings) as jobs:
            webhooks = WebhookEndpoints(stores.engine, EventCatalogue.from_registry(processors), settings)
            for config in configs:
                await webhooks.check_config(config)  # a refused webhook_url stores nothing
                before = previous_config(await stores.tenants.get(config.customer.id), processors)
                starts = new_starts(config, before) if jobs is not None else {}
                # Refused before anything is stored when a new start reaches below the archive.
                async with planning_backfills(
                    stores.engine, processors, config.customer.id, starts, advice=APPLY_ADVICE
                ):
                    done = await apply_tenant(stores.tenants, stores.keys, config)
                    verb = (
                        "created"
                        if done.created
                        else f"updated (config version {done.tenant.config_version})"
                    )
                    out.print(f"tenant {done.tenant.id}: {verb}", highlight=False)
                    if jobs is not None:
                        plan = await schedule_backfills(
                            stores.engine, jobs, config, before, settings.backfill_chunk_ledgers
                        )
                        for processor_type, step in plan.items():
                            out.print(f"  backfill {processor_type}: {step}", highlight=False)
                _print_webhook(await webhooks.sync_config(config))
                if done.key is not None:
                    out.print(f"  key {done.key.key.id} (prefix {done.key.key.prefix}), shown once:")
                    new_keys.append(done.key.secret)
        return new_keys

    for secret in run(work):
        print(secret)


def _print_webhook(sync: Any) -> None:
    """The config endpoint's change (`services.webhooks.endpoints.ConfigSync`); a new secret is shown once."""
    if sync.endpoint is None:
        return
    out.print(f"  webhook endpoint {sync.endpoint.id}: {sync.action} ({sync.endpoint.url})", highlight=False)
    if sync.secret is not None:
        out.print(f"  webhook secret, shown once: {sync.secret}", highlight=False)


@app.command("status")
def tenants_status(tenant_id: str) -> None:
    """Ingestion of a tenant per processor: the ledgers ingested (by the live tail, backfills, `ingest` or `dev`)
    and the backfill's progress (ranges, ledgers, ledgers/s, ETA, last error)."""
    from services.onboarding import ingestion_status
    from services.tenant_configs import stored_config

    settings = load_settings()
    processors = registry()

    async def work() -> tuple[dict[str, Any], list[str]]:
        async with Stores(settings) as stores:
            record = await stores.tenants.get(tenant_id)
            if record is None:
                raise FlowError(f"no tenant '{tenant_id}'", code="tenant_not_found", status=404)
            enabled = [p.type for p in stored_config(record, processors).enabled_processors()]
            return await ingestion_status(stores.engine, tenant_id, record.network), enabled

    status, enabled = run(work)
    for line in status_lines(status, enabled, {p.type_name: p.name for p in processors}):
        out.print(line, highlight=False, overflow="fold")


def status_lines(status: dict[str, Any], enabled: list[str], names: dict[str, str]) -> list[Any]:
    """What `tenants status` prints: the network's position, one table row per processor (enabled ones first,
    then any other that has ingested ranges or a backfill) in at most 80 columns, then the last errors."""
    from rich import box

    from storage.ingested_ranges import describe

    live = status.get("live_ledger")
    lines: list[Any] = [
        f"network {status['network']}: latest ledger {status['latest_ledger'] or '-'}"
        + (f", live tail at {live}" if live else "")
    ]
    ingested, backfill = status["ingested"], status["backfill"]
    type_names = [*enabled, *(t for t in [*ingested, *backfill] if t not in enabled)]
    # Short headers, processor names rather than type names, no box: the table fits 80 columns, headers whole.
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    for header in ("processor", "ingested", "backfill", "ledgers", "per s", "ETA"):
        table.add_column(header, no_wrap=header != "ingested")
    errors = []
    for type_name in dict.fromkeys(type_names):
        ranges = [tuple(r) for r in ingested.get(type_name, [])]
        b = backfill.get(type_name)
        name = names.get(type_name, type_name)
        if b is None:
            table.add_row(name, describe(ranges), "-", "-", "-", "-")
            continue
        rate, eta = b["ledgers_per_second"], b["eta_seconds"]
        ranges_text = f"{b['ranges_done']}/{b['ranges_total']}"
        if b["ranges_failed"]:
            ranges_text += f" {b['ranges_failed']} failed"
        table.add_row(
            name,
            describe(ranges),
            ranges_text,
            f"{b['ledgers_done']}/{b['ledgers_total']}",
            f"{rate:.1f}" if rate else "-",
            f"{eta:.0f} s" if eta else "-",
        )
        if b["last_error"]:
            errors.append(f"{name}: last error: {b['last_error']}")
    return [*lines, table, *errors]


@app.command("list")
def tenants_list() -> None:
    """List tenants."""
    settings = load_settings()

    async def work() -> list[Any]:
        async with Stores(settings) as stores:
            return await stores.tenants.list()

    print_table(
        ("id", "name", "network", "config version", "updated"),
        [
            (t.id, t.name, t.network, str(t.config_version), t.updated_at.isoformat(timespec="seconds"))
            for t in run(work)
        ],
    )


@app.command("usage")
def tenants_usage(
    tenant_id: str,
    fmt: Annotated[str, typer.Option("--format", metavar="table|json", help="Output format")] = "table",
) -> None:
    """The tenant's cost report: rows and bytes hot and cold per processor and table, Parquet compression,
    requests and cold queries this month, and the estimated monthly cost at the OBSRVR_PRICE_* prices."""
    from services.cost_report import cost_report

    if fmt not in ("table", "json"):
        raise typer.BadParameter("use table or json", param_hint="--format")
    settings = load_settings()
    processors = registry()

    async def work() -> dict[str, Any]:
        async with Stores(settings) as stores:
            if await stores.tenants.get(tenant_id) is None:
                raise FlowError(f"no tenant '{tenant_id}'", code="tenant_not_found", status=404)
            return await cost_report(stores.engine, processors, settings, tenant_id)

    report = run(work)
    if fmt == "json":
        print(orjson.dumps(report, option=orjson.OPT_INDENT_2).decode())
        return
    table = Table("processor", "table", "hot rows", "hot bytes", "cold rows", "cold bytes", "compression")
    for processor in report["processors"]:
        for t in processor["tables"]:
            hot, cold = t["hot"], t["cold"]
            ratio = f"{cold['compression_ratio']}x" if cold["compression_ratio"] else "-"
            row = (hot["rows"], hot["bytes"], cold["rows"], cold["bytes"])
            table.add_row(processor["processor"], t["table"], *(f"{n:,}" for n in row), ratio)
    out.print(table)
    cost = report["estimated_monthly_cost_usd"]
    out.print(
        f"{report['month']}: {report['requests_this_month']:,} requests, "
        f"{report['cold_queries_this_month']:,} cold queries",
        highlight=False,
    )
    out.print(
        f"estimated monthly cost: ${cost['total']} (hot ${cost['hot_storage']}, cold ${cost['cold_storage']}, "
        f"cold queries ${cost['cold_queries']}, requests ${cost['requests']})",
        highlight=False,
    )


@app.command("delete")
def tenants_delete(
    tenant_id: str,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation")] = False,
) -> None:
    """Delete a tenant and purge all of its data (hot rows, cold files, keys, usage, audit rows), to completion,
    with a progress bar; run it again to resume a purge that was interrupted. Asks for confirmation only when
    standard input is a terminal."""
    from services.tenant_purge import PurgeBusy, run_purge, start_purge

    settings = load_settings()
    processors = registry()
    if not yes and sys.stdin.isatty():
        typer.confirm(
            f"Delete tenant {tenant_id} and all of its data (rows, cold files, keys, usage)? This cannot be undone",
            abort=True,
        )

    async def work() -> Any:
        async with Stores(settings) as stores:
            started = await start_purge(stores.engine, tenant_id, actor="cli")
            if started is None:
                raise FlowError(f"no tenant '{tenant_id}'", code="tenant_not_found", status=404)
            with Progress(
                TextColumn("{task.description:<28}"), BarColumn(), MofNCompleteColumn(), console=err
            ) as bar:
                tasks: dict[str, TaskID] = {}

                def show(step: str, done: int, total: int | None) -> None:
                    if step not in tasks:
                        tasks[step] = bar.add_task(step, total=total)
                    bar.update(tasks[step], completed=done, total=total)

                try:
                    return await run_purge(stores.engine, processors, settings, tenant_id, progress=show)
                except PurgeBusy as exc:
                    raise FlowError(str(exc), code="purge_running", status=409) from None

    record = run(work)
    deleted = {step: n for step, n in record.progress.items() if n}
    out.print(f"tenant {tenant_id}: deleted", highlight=False)
    for step, n in deleted.items():
        out.print(f"  {step}: {n}", highlight=False)
