"""`obsrvr-flow live ...`: where each network's live tail is, and pinning where it goes on from."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from obsrvr_flow.common import Stores, err, job_queue, load_settings, out, registry, run

app = typer.Typer(no_args_is_help=True, help="The live tail of each network: status, start.")


@app.command("set-start")
def live_set_start(
    network: str,
    ledger: int,
    backfill: Annotated[
        bool, typer.Option(help="Backfill the ledgers a jump ahead skips, for the network's tenants")
    ] = True,
) -> None:
    """Make the network's live tail go on from LEDGER (a running tail hands over within seconds).

    Ahead of the live checkpoint, the skipped ledgers are queued as backfill chunks for the network's tenants
    (unless --no-backfill); behind it, ledgers are ingested again.
    """
    from services.live import network_of, set_live_start, start_ledger

    settings = load_settings()

    async def work() -> dict[str, Any]:
        net, first = network_of(network), start_ledger(ledger)
        async with Stores(settings) as stores, job_queue(settings) as jobs:
            return await set_live_start(
                stores.engine,
                registry(),
                jobs,
                net,
                first,
                chunk_size=settings.backfill_chunk_ledgers,
                backfill_gap=backfill,
            )

    view = run(work)
    if "warning" in view:
        err.print(f"[yellow]warning:[/yellow] {view['warning']}", highlight=False, soft_wrap=True)
    if "waiting_for_queue" in view:
        err.print(f"[yellow]note:[/yellow] {view['waiting_for_queue']}", highlight=False, soft_wrap=True)
    out.print(
        f"live tail of {view['network']}: goes on from ledger {view['start']} "
        f"(live checkpoint was {view['live_ledger']}, newest ledger ingested {view['latest_ledger']})",
        highlight=False,
    )


@app.command("status")
def live_status(network: str) -> None:
    """The live checkpoint, the newest ledger ingested and any start waiting for the tail, as JSON."""
    from services.live import live_status as status
    from services.live import network_of

    settings = load_settings()

    async def work() -> dict[str, Any]:
        net = network_of(network)
        async with Stores(settings) as stores:
            return await status(stores.engine, net)

    print(json.dumps(run(work)))
