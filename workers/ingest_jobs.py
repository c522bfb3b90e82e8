"""Ingestion jobs: backfill chunks (independent, any worker) and the live tail (one per network).

Both run the same engine as `obsrvr-flow ingest`. A chunk resumes from its checkpoint, so a worker killed in the
middle of one leaves no gap and no duplicate: the next attempt starts after the last committed batch, and
writes are idempotent anyway. The live tail is a singleton per network guarded by a lease (an advisory lock on
PostgreSQL), so two workers never tail the same network; it runs for a bounded time and hands over to a
continuation job (queued ahead of the backfill chunks), and a cron job restarts it within seconds if its worker
died. Without a live checkpoint it starts at the source's tip, and its first ledger plans the backfills that
waited for one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from core.errors import ConfigError
from core.settings import Network
from core.tenant_config import parse_tenant_config
from ingest.engine import IngestEngine, TenantPlan, plan_tenants
from ingest.metrics import NO_INGEST_METRICS
from ingest.publish import publisher
from ingest.stream import ingest_stream
from ingest.webhook_wakeup import delivery_notifier
from ledgers.sources.files import FileSource
from services.tenant_configs import stored_configs
from storage.backfill import BackfillStore, Chunk, checkpoint_name
from storage.checkpoints import LIVE_PREFIX, LIVE_TAIL_JOB, Checkpoints, LiveStarts
from storage.leases import lease_held, try_lease
from storage.tenants import TenantStore

log = logging.getLogger(__name__)

__all__ = ["LIVE_TAIL_JOB", "backfill_range", "ensure_live_tails", "live_tail", "resume_backfills"]

HANDOVER_GRACE_SECONDS = 30.0  # past its budget, how long a tail waits for a ledger to hand over after it
ENSURE_EVERY_SECONDS = 10  # how often `ensure_live_tails` runs (see workers.worker)
LEASE_WAIT_SECONDS = 2.0  # how long a live tail tries again for its network's lease before it gives up


def _engine_for(ctx: dict[str, Any], network: Network, plans: Sequence[TenantPlan]) -> IngestEngine:
    hooks = [publisher(ctx["pubsub"])] if ctx.get("pubsub") is not None else []
    if ctx.get("webhook_jobs") is not None:
        hooks.append(delivery_notifier(ctx["webhook_jobs"]))  # a batch's messages go out without waiting
    metrics = ctx.get("ingest_metrics", NO_INGEST_METRICS)
    settings = ctx.get("settings")
    return IngestEngine(
        ctx["engine"],
        network,
        hooks=hooks,
        plans=plans,
        metrics=metrics,
        outbox=ctx.get("outbox"),
        decoder=settings.decoder if settings is not None else "fast",
    )


async def _open(ctx: dict[str, Any], network: Network, **options: Any) -> Any:
    from ledgers.sources import open_source

    url = ctx["settings"].ledger_source(network)
    if url is None:
        variable = f"OBSRVR_{network.value.upper()}_SOURCE"
        raise ConfigError(
            [f"{variable}: not set"], message=f"no ledger source for {network.value}: set {variable}"
        )
    return await open_source(url, network, **options)


async def backfill_range(
    ctx: dict[str, Any], tenant_id: str, start: int, end: int, processors: Sequence[str]
) -> dict[str, Any]:
    """Ingest ledgers [start, end] for one tenant's `processors`; resumes after its last committed batch."""
    store = BackfillStore(ctx["engine"])
    chunk = Chunk(tenant_id, start, end, tuple(processors))
    record = await TenantStore(ctx["engine"]).get(tenant_id)
    if record is None:
        return {"skipped": "tenant deleted"}
    catalogue = ctx["registry"].catalogue()
    config = parse_tenant_config(record.config, catalogue)
    network = Network(config.customer.network)
    plans = [
        TenantPlan(plan.tenant_id, tuple((p, c) for p, c in plan.processors if p.type_name in processors))
        for plan in plan_tenants([config], catalogue, network)
    ]
    if not any(plan.processors for plan in plans):
        await store.finished(chunk)
        return {"skipped": "no enabled processor of this chunk can ingest"}
    name = checkpoint_name(tenant_id, start, end, processors)
    done_up_to = await Checkpoints(ctx["engine"]).get(name)
    resume = start if done_up_to is None else done_up_to + 1
    if resume > end:
        await store.finished(chunk)
        return {"ledgers": 0, "resumed_from": resume}
    await store.started(chunk)
    began, already = time.monotonic(), resume - start

    async def progress(ledger: int, written: int) -> None:
        await store.progressed(chunk, already + written, written / max(time.monotonic() - began, 1e-9))

    source = await _open(ctx, network)
    try:
        report = await ingest_stream(
            source.ledgers(resume, end),
            _engine_for(ctx, network, plans),
            checkpoint=name,
            executor=ctx.get("pool"),
            progress=progress,
        )
    except BaseException as exc:
        # Also on cancellation (arq's job timeout): the chunk must not look "running" forever. Where it resumes
        # is its checkpoint, so marking it failed loses nothing.
        reason = (
            "timed out or cancelled" if isinstance(exc, asyncio.CancelledError) else f"{type(exc).__name__}"
        )
        with contextlib.suppress(Exception):
            await asyncio.shield(store.failed(chunk, f"{reason}: {str(exc)[:500]}"))
        raise
    finally:
        await source.close()
    await store.finished(chunk)
    return {"ledgers": report.ledgers, "resumed_from": resume}


async def live_tail(ctx: dict[str, Any], network: str, budget_seconds: float | None = None) -> dict[str, Any]:
    """Follow the tip of `network` for every tenant, from `live:<network>` + 1, for about `budget_seconds`.

    Without a live checkpoint it starts at the source's tip (its newest ledger); a start an operator asked for
    (`LiveStarts`) is taken first. The source is asked for the next ledger every `OBSRVR_LIVE_POLL_SECONDS`,
    and each ledger is written on its own as soon as it is read. The first ledger written plans the backfills
    that were waiting for the network's first ledger.

    The tenants (and their processors) are read once, at the start; when they change (a tenant created, updated
    or deleted on this network, seen within `OBSRVR_LIVE_TAIL_RELOAD_SECONDS`), or an operator moves the start,
    the tail is cancelled and hands over at once, so the successor ingests the next ledger with the new set.
    Cancelling loses nothing: a ledger whose transaction had not committed is rolled back and re-read by the
    successor (the checkpoint moves with each ledger's rows), and a committed one's commit hooks (pub/sub) still
    run (`IngestEngine.write_batch`). At the end of its budget the tail hands over right after writing a ledger,
    when the next one is furthest away.
    """
    net = Network(network)
    settings = ctx["settings"]
    budget = budget_seconds if budget_seconds is not None else settings.live_tail_budget_seconds
    tenants = TenantStore(ctx["engine"])
    starts = LiveStarts(ctx["engine"])
    # A tail that finds the lease held waits a little for it: the holder may be a predecessor releasing it, or
    # a check of another process. Giving up at once would leave the network untailed until the next cron.
    async with try_lease(ctx["engine"], LIVE_PREFIX + net.value, wait_seconds=LEASE_WAIT_SECONDS) as held:
        if not held:
            return {"skipped": "another worker is tailing this network"}
        seen = await tenants.version(net.value)
        records = await tenants.list()
        catalogue = ctx["registry"].catalogue()
        configs = stored_configs((r for r in records if r.network == net.value), ctx["registry"])
        plans = [p for p in plan_tenants(configs, catalogue, net) if p.processors]
        if not plans:
            return {"skipped": "no tenant on this network"}
        name = LIVE_PREFIX + net.value
        asked = await starts.take(net.value)
        if asked is not None:
            log.info("the live tail of %s goes on from ledger %d, as an operator asked", net.value, asked)
        last = await Checkpoints(ctx["engine"]).get(name)
        source = await _open(ctx, net, poll_interval=settings.live_poll_seconds)
        if isinstance(source, FileSource):
            source.watch = True  # a folder of ledger files followed live is a drop folder: wait for new files
        watch = _Watch(tenants, starts, net.value, seen, settings.live_tail_reload_seconds)
        written = 0

        async def count(ledger: int, done: int) -> None:
            nonlocal written
            written = done
            watch.committed.set()
            if done == 1:
                await _plan_deferred(ctx, net, ledger)

        try:
            start = last + 1 if last is not None else await source.latest_sequence()
            if start is None:
                return {"skipped": "the source holds no ledger yet"}
            if last is None:
                log.info(
                    "no live checkpoint for %s: starting at the source's tip, ledger %d", net.value, start
                )
            ingest = asyncio.create_task(
                ingest_stream(
                    source.ledgers(start, None),
                    _engine_for(ctx, net, plans),
                    checkpoint=name,
                    batch_size=1,
                    progress=count,
                )
            )
            stopped = await watch.until_stopped(ingest, time.monotonic() + budget)
        finally:
            await source.close()
    # Hand over at once, ahead of queued backfill chunks, so the tip is never left unwatched longer than a job
    # start.
    await ctx["jobs"].enqueue(
        LIVE_TAIL_JOB, net.value, job_id=f"live:{net.value}:{time.time_ns()}", ahead=True
    )
    return {"ledgers": written, "stopped": stopped}


async def _plan_deferred(ctx: dict[str, Any], network: Network, tip: int) -> None:
    """Plan the backfills waiting for the network's first ledger, now that `tip` is written. A failure is left
    to the `resume_backfills` cron, which plans them too: it must not stop the tail."""
    try:
        store = BackfillStore(ctx["engine"])
        planned = await store.plan_deferred(
            ctx["jobs"], network.value, tip, ctx["settings"].backfill_chunk_ledgers
        )
    except Exception:
        log.exception("planning the deferred backfills of %s failed; the cron will retry", network.value)
        return
    for chunk in planned:
        log.info(
            "planned the deferred backfill of %s from ledger %d to %d", chunk.tenant_id, chunk.start, tip
        )


@dataclass
class _Watch:
    """What ends a live tail besides its source: its time budget, a change of the network's tenants, or a start
    an operator asked for."""

    tenants: TenantStore
    starts: LiveStarts
    network: str
    seen: Any  # `TenantStore.version` when the tail read its tenants
    every: float
    committed: asyncio.Event = field(default_factory=asyncio.Event)  # set by the tail after each ledger

    async def until_stopped(self, ingest: asyncio.Task[Any], deadline: float) -> str:
        """Why the tail stopped: "source ended", "budget", "tenants changed" or "start moved" (an ingestion
        error is raised)."""
        while True:
            remaining = deadline - time.monotonic()
            done, _ = await asyncio.wait({ingest}, timeout=max(0.0, min(self.every, remaining)))
            if done:
                ingest.result()
                return "source ended"
            if time.monotonic() >= deadline:
                reason = "budget"
                if await self._after_a_ledger(ingest):
                    ingest.result()
                    return "source ended"
            elif await self.tenants.version(self.network) != self.seen:
                reason = "tenants changed"
            elif await self.starts.pending(self.network) is not None:
                reason = "start moved"
            else:
                continue
            ingest.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await ingest
            return reason

    async def _after_a_ledger(self, ingest: asyncio.Task[Any]) -> bool:
        """Wait (at most `HANDOVER_GRACE_SECONDS`) for the next ledger to be written: handing over then, the
        gap before the successor reads delays no ledger. True when the ingestion ended meanwhile."""
        self.committed.clear()
        committed = asyncio.create_task(self.committed.wait())
        try:
            done, _ = await asyncio.wait(
                {ingest, committed}, timeout=HANDOVER_GRACE_SECONDS, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            committed.cancel()
        return ingest in done


QUEUED_STALE_SECONDS = 5.0
"""A `queued` chunk recorded longer ago than this may never have reached the queue (planned while Redis was
down): `resume_backfills` enqueues it again (a no-op when its job is there: job ids are deterministic)."""


async def resume_backfills(ctx: dict[str, Any]) -> dict[str, int]:
    """Cron (every `OBSRVR_BACKFILL_RESUME_SECONDS`, a minute by default): plan the deferred backfills of each
    network whose first ledger is now ingested (`BackfillStore.plan_deferred`), re-enqueue failed chunks whose
    back-off has passed (`BackfillStore.retry_failed`; they resume from their checkpoints) and queued chunks
    whose job never reached the queue (`BackfillStore.requeue_queued`: planned while the queue was down).
    Returns how many of each."""
    store, settings = BackfillStore(ctx["engine"]), ctx["settings"]
    checkpoints = Checkpoints(ctx["engine"])
    planned = 0
    for network in Network:
        tip = await checkpoints.get(f"latest:{network.value}")
        if tip is not None:
            planned += len(
                await store.plan_deferred(ctx["jobs"], network.value, tip, settings.backfill_chunk_ledgers)
            )
    retried = await store.retry_failed(ctx["jobs"], max_attempts=settings.backfill_max_attempts)
    for chunk in retried:
        log.info("retrying backfill chunk %s %d-%d", chunk.tenant_id, chunk.start, chunk.end)
    requeued = await store.requeue_queued(ctx["jobs"], older_than_seconds=QUEUED_STALE_SECONDS)
    for chunk in requeued:
        log.info("queued backfill chunk %s %d-%d again (its job was not in the queue)", *chunk[:3])
    return {"deferred_planned": planned, "failed_retried": len(retried), "queued_requeued": len(requeued)}


async def ensure_live_tails(ctx: dict[str, Any]) -> list[str]:
    """Cron (every `ENSURE_EVERY_SECONDS`, and at a worker's start): start the live tail of each network that
    has tenants and a source and no tail running (its lease is free), ahead of queued jobs."""
    started = []
    networks = {r.network for r in await TenantStore(ctx["engine"]).list()}
    for network in sorted(networks):
        if ctx["settings"].ledger_source(network) is None:
            continue
        if await lease_held(ctx["engine"], LIVE_PREFIX + network):
            continue  # a tail is running (looked up without taking the lease, which a tail starting may want)
        window = int(time.time()) // ENSURE_EVERY_SECONDS
        if await ctx["jobs"].enqueue(LIVE_TAIL_JOB, network, job_id=f"live:{network}:{window}", ahead=True):
            started.append(network)
    return started
