"""Pinning where a network's live tail goes on from (`obsrvr-flow live set-start`, `PUT /admin/live/...`).

The live tail starts by itself (at the source's tip when it has no checkpoint); an operator moves it when a
deployment fell far behind (jump to the tip, backfill the rest in parallel chunks) or to ingest again from an
earlier ledger. The request is stored and taken by the tail itself (`storage.checkpoints.LiveStarts`).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from core.errors import QueueUnavailable, invalid_parameter
from core.settings import Network
from core.tenant_config import TenantConfig
from processors.registry import Registry
from services.backfill_guard import LIVE_GAP_ADVICE, check_above_archive, planning_backfills
from services.onboarding import QUEUE_DOWN_NOTE
from services.tenant_configs import stored_configs
from storage.backfill import BackfillStore, chunk_range
from storage.checkpoints import LiveStart, LiveStarts
from storage.jobs import JobQueue
from storage.tenants import TenantStore

FIRST_LEDGER = 2  # ledger 1 is the genesis: it has no close meta
LAST_LEDGER = 0xFFFF_FFFF


def network_of(value: str) -> Network:
    """The network named `value`, or a 400 naming the parameter."""
    try:
        return Network(value)
    except ValueError:
        names = ", ".join(n.value for n in Network)
        raise invalid_parameter("network", f"must be one of {names}") from None


def start_ledger(value: object) -> int:
    """A ledger the tail can start at, or a 400 naming the parameter."""
    if isinstance(value, bool) or not isinstance(value, int) or not FIRST_LEDGER <= value <= LAST_LEDGER:
        raise invalid_parameter("ledger", f"must be an integer from {FIRST_LEDGER} to {LAST_LEDGER}")
    return value


async def set_live_start(
    engine: AsyncEngine,
    registry: Registry,
    jobs: JobQueue | None,
    network: Network,
    ledger: int,
    *,
    chunk_size: int,
    backfill_gap: bool = True,
) -> dict[str, Any]:
    """Ask the live tail of `network` to go on from `ledger`; what it means is returned for the operator.

    Moving ahead of the live checkpoint skips ledgers for the tail: with `backfill_gap` (the default) they are
    planned as backfill chunks for every tenant of the network and the processors it enables (what the tail
    would have ingested), so nothing is lost and the gap is filled in parallel; without it they stay missing.
    Moving back ingests ledgers again (writes are idempotent). A running tail hands over within
    `OBSRVR_LIVE_TAIL_RELOAD_SECONDS`; a stopped one takes the start when it starts.

    The queue being unreachable is no failure (the start is stored by then): the gap's chunks are recorded as
    `queued`, the view says `waiting_for_queue`, and the worker's `resume_backfills` cron enqueues them once
    the queue is back, as for onboarding.

    A gap reaching at or below a tenant's archive watermark is refused before the start is stored
    (`services.backfill_guard.BackfillBelowArchive`): its rows would never be served.
    """
    starts = LiveStarts(engine)
    if backfill_gap and jobs is not None:
        live, _ = await starts.positions(network.value)
        if live is not None and ledger > live + 1:
            for config in await _tenant_configs(engine, registry, network):
                await check_above_archive(
                    engine,
                    registry,
                    config.customer.id,
                    gap_starts(config, live + 1, ledger - 1),
                    advice=LIVE_GAP_ADVICE,
                )
    moved = await starts.request(network.value, ledger)
    view = _view(moved)
    gap = moved.skipped
    if gap is not None:
        first, last = gap
        if backfill_gap and jobs is not None:
            queued, queue_down = await _backfill(engine, registry, jobs, network, first, last, chunk_size)
            view["backfill"] = queued
            view["warning"] = (
                f"the live tail skips ledgers {first}-{last}: they are backfilled for the network's tenants "
                f"({sum(queued.values())} chunk(s) {'recorded' if queue_down else 'queued'})"
            )
            if queue_down:
                view["waiting_for_queue"] = QUEUE_DOWN_NOTE
        else:
            view["warning"] = (
                f"the live tail skips ledgers {first}-{last}: no tenant gets them unless they are backfilled"
            )
    elif moved.live is not None and ledger <= moved.live:
        view["warning"] = f"the live tail ingests ledgers {ledger}-{moved.live} again (idempotent writes)"
    return view


async def live_status(engine: AsyncEngine, network: Network) -> dict[str, Any]:
    """Where the live tail of `network` is and any start waiting for it."""
    starts = LiveStarts(engine)
    live, latest = await starts.positions(network.value)
    return {
        "network": network.value,
        "live_ledger": live,
        "latest_ledger": latest,
        "pending_start": await starts.pending(network.value),
    }


def _view(moved: LiveStart) -> dict[str, Any]:
    gap = moved.skipped
    return {
        "network": moved.network,
        "start": moved.start,
        "live_ledger": moved.live,
        "latest_ledger": moved.latest,
        "skipped": {"from": gap[0], "to": gap[1]} if gap else None,
    }


async def _backfill(
    engine: AsyncEngine,
    registry: Registry,
    jobs: JobQueue,
    network: Network,
    first: int,
    last: int,
    chunk_size: int,
) -> tuple[dict[str, int], bool]:
    """Plan `first..last` for every tenant of `network`, each processor from its own start when later: the
    chunks queued per tenant, and whether the queue was unreachable (then the chunks counted are the ones
    recorded as `queued`, every tenant's, for the `resume_backfills` cron to enqueue)."""
    queued: dict[str, int] = {}
    queue_down = False
    for config in await _tenant_configs(engine, registry, network):
        tenant_id = config.customer.id
        starts = gap_starts(config, first, last)
        by_start: dict[int, list[str]] = {}
        for type_name, start in starts.items():
            by_start.setdefault(start, []).append(type_name)
        async with planning_backfills(engine, registry, tenant_id, starts, advice=LIVE_GAP_ADVICE):
            for start, types in by_start.items():
                try:
                    count = len(
                        await BackfillStore(engine).plan(
                            jobs, tenant_id, network.value, types, start, last, chunk_size
                        )
                    )
                except QueueUnavailable:
                    queue_down, count = True, len(chunk_range(start, last, chunk_size))
                queued[tenant_id] = queued.get(tenant_id, 0) + count
    return queued, queue_down


def gap_starts(config: TenantConfig, first: int, last: int) -> dict[str, int]:
    """Where the backfill of `first..last` starts for each processor the tenant enables (its own start when
    later); processors starting after `last` need none."""
    starts = {e.type: max(first, e.start_ledger or first) for e in config.enabled_processors()}
    return {type_name: start for type_name, start in starts.items() if start <= last}


async def _tenant_configs(engine: AsyncEngine, registry: Registry, network: Network) -> list[TenantConfig]:
    records = [r for r in await TenantStore(engine).list() if r.network == network.value]
    return list(stored_configs(records, registry))
