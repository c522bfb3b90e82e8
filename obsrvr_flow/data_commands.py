"""`obsrvr-flow ingest` and `obsrvr-flow export`: moving ledgers in and rows out from the command line
(registered on the command line by `register`)."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import IO, Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from core.errors import FlowError, NotFound
from core.settings import Network
from obsrvr_flow.common import Stores, err, load_settings, out, registry, run
from obsrvr_flow.export import FORMATS, write_rows


def ingest(
    network: Annotated[Network, typer.Option(help="pubnet or testnet")],
    source: Annotated[
        str | None,
        typer.Option(
            help="Ledger source URL (path, file://, s3://, gs://, rpc+https://); default: the network's"
        ),
    ] = None,
    from_ledger: Annotated[int, typer.Option("--from", help="First ledger", min=1)] = 1,
    to_ledger: Annotated[
        int | None, typer.Option("--to", help="Last ledger; omitted = follow the tip")
    ] = None,
    tenant: Annotated[
        str | None, typer.Option(help="Only this tenant (default: every tenant of the network)")
    ] = None,
    batch_size: Annotated[int, typer.Option(help="Ledgers per transaction", min=1)] = 8,
    processes: Annotated[
        int | None, typer.Option(help="Decode/extract processes (default: settings)", min=1)
    ] = None,
) -> None:
    """Ingest a range of ledgers synchronously for the network's tenants, with a progress bar."""
    from ingest.collector import tune_for_ingestion
    from ingest.engine import IngestEngine, plan_tenants
    from ingest.stream import ingest_stream
    from ledgers.sources import open_source
    from obsrvr_flow.commit_hooks import ingest_hooks
    from services.tenant_configs import stored_configs
    from services.webhooks.recorder import outbox_for

    settings = load_settings()
    url = source or settings.ledger_source(network)
    if url is None:
        raise typer.BadParameter(
            f"no --source and OBSRVR_{network.value.upper()}_SOURCE is not set", param_hint="--source"
        )
    if to_ledger is not None and to_ledger < from_ledger:
        raise typer.BadParameter("--to is before --from", param_hint="--to")
    workers = processes or settings.decode_processes

    async def work() -> None:
        async with Stores(settings) as stores:
            records = [await stores.tenants.get(tenant)] if tenant else await stores.tenants.list()
            if tenant and records[0] is None:
                raise NotFound(f"no tenant '{tenant}'", code="tenant_not_found")
            catalogue = registry().catalogue()
            configs = stored_configs((r for r in records if r is not None), registry())
            plans = [p for p in plan_tenants(configs, catalogue, network) if p.processors]
            if not plans:
                raise FlowError(
                    f"no tenant of {network.value} enables a processor that can ingest yet",
                    code="nothing_to_do",
                )
            # Webhook messages are recorded with the rows; a server's delivery jobs send them. With Redis, the
            # rows are published after each commit and the endpoints woken (obsrvr_flow.commit_hooks).
            async with ingest_hooks(settings) as hooks:
                engine = IngestEngine(
                    stores.engine,
                    network,
                    plans=plans,
                    outbox=outbox_for(registry()),
                    hooks=hooks,
                    decoder=settings.decoder,
                )
                ledger_source = await open_source(url, network)
                total = None if to_ledger is None else to_ledger - from_ledger + 1
                started = time.monotonic()
                with Progress(
                    TextColumn("ledger {task.fields[ledger]}"),
                    BarColumn(),
                    MofNCompleteColumn(),
                    TextColumn("{task.fields[rate]:.1f} ledgers/s"),
                    TimeRemainingColumn(),
                    console=err,
                ) as progress:
                    task = progress.add_task("ingest", total=total, ledger="-", rate=0.0)

                    async def advance(ledger: int, done: int) -> None:
                        rate = done / max(time.monotonic() - started, 1e-9)
                        progress.update(task, completed=done, ledger=ledger, rate=rate)

                    # This process ingests until it exits: its start-up heap leaves the collector's reach.
                    tune_for_ingestion()
                    try:
                        report = await ingest_stream(
                            ledger_source.ledgers(from_ledger, to_ledger),
                            engine,
                            checkpoint=f"ingest:{network.value}:{from_ledger}-{to_ledger or 'tip'}",
                            batch_size=batch_size,
                            processes=workers,
                            progress=advance,
                        )
                    finally:
                        await ledger_source.close()
            elapsed = time.monotonic() - started
            out.print(
                f"ingested {report.ledgers} ledgers ({report.first}-{report.last}) for "
                f"{len(plans)} tenant(s) in {elapsed:.1f} s ({report.ledgers / max(elapsed, 1e-9):.1f} ledgers/s)",
                highlight=False,
            )

    run(work)


def export(
    tenant: Annotated[str, typer.Option(help="Tenant id")],
    processor: Annotated[
        str,
        typer.Option(
            help="The listing to export: a processor's name for its history, or a current-state listing "
            "(the names discovery and the REST routes use)"
        ),
    ],
    from_ledger: Annotated[int | None, typer.Option("--from", help="First ledger")] = None,
    to_ledger: Annotated[int | None, typer.Option("--to", help="Last ledger")] = None,
    fmt: Annotated[str, typer.Option("--format", metavar="|".join(FORMATS), help="Output format")] = "jsonl",
    out_file: Annotated[Path | None, typer.Option("--out", help="Output file (default: stdout)")] = None,
) -> None:
    """Write a tenant's rows of one listing in the listing's order: history in order key order (both tiers),
    current state (balances, contract storage, candles...) in the order the REST listing serves it."""
    from storage.cold.reader import ColdReader
    from storage.export_rows import iter_listing_rows, iter_tenant_rows
    from storage.router import QueryRouter

    if fmt not in FORMATS:
        raise typer.BadParameter(f"use one of {', '.join(FORMATS)}", param_hint="--format")
    listings = {listing.name: listing for p in registry() for listing in p.listings}
    listing = listings.get(processor)
    if listing is None:
        raise typer.BadParameter(f"unknown listing (known: {', '.join(listings)})", param_hint="--processor")
    table = listing.table
    ledger_range = (from_ledger, to_ledger) != (None, None)
    if ledger_range and "ledger_sequence" not in table.c:
        raise typer.BadParameter(
            f"{processor} rows have no ledger: leave out --from and --to", param_hint="--from"
        )
    settings = load_settings()

    async def work() -> int:
        async with Stores(settings) as stores:
            if await stores.tenants.get(tenant) is None:
                raise NotFound(f"no tenant '{tenant}'", code="tenant_not_found")
            # Through both tiers: rows archived to Parquet are exported as they were before archival.
            cold = ColdReader.from_settings(settings, stores.engine)
            if listing.kind == "history":
                pages = iter_tenant_rows(
                    stores.engine, table, tenant, from_ledger=from_ledger, to_ledger=to_ledger, cold=cold
                )
            else:  # current state stays hot; read as the REST listing reads it
                pages = iter_listing_rows(
                    QueryRouter(stores.engine, cold=cold),
                    table,
                    tenant,
                    time_column=listing.time_column,
                    from_ledger=from_ledger,
                    to_ledger=to_ledger,
                )
            target: IO[bytes] = out_file.open("wb") if out_file else sys.stdout.buffer
            try:
                return await write_rows(pages, table, fmt, target)
            finally:
                await cold.close()
                if out_file:
                    target.close()
                else:
                    target.flush()

    count = run(work)
    err.print(f"exported {count} rows", highlight=False)


def register(app: typer.Typer) -> None:
    """Add `ingest` and `export` to the command line."""
    app.command()(ingest)
    app.command()(export)
