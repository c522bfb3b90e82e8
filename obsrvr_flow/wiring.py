"""Wiring that only the composition root may do: the API app with the workers' job functions."""

from __future__ import annotations

import gc

from starlette.applications import Starlette
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.app import JobWiring, create_app
from core.settings import Settings
from processors.registry import Registry, default_registry
from services.archiving import SCHEDULE_EVERY_SECONDS, SCHEDULE_JOB
from services.tenant_purge import RESUME_PURGES_EVERY_SECONDS, RESUME_PURGES_JOB
from services.webhooks.notify import SWEEP_JOB
from workers.ingest_jobs import ENSURE_EVERY_SECONDS
from workers.jobs import JOBS
from workers.worker import close_job_context, job_context

ENSURE_LIVE_TAILS_JOB = "ensure_live_tails"  # its name in workers.jobs.JOBS


def build_app(settings: Settings, registry: Registry | None = None, *, live_tails: bool = False) -> Starlette:
    """The API app on `registry` (default: the service's processors), running jobs in-process without Redis.

    `live_tails` (`obsrvr-flow dev`): without Redis, also run the workers' `ensure_live_tails` cron, so each
    network with tenants and a ledger source is followed in this process, its rows published on this app's
    pub/sub (subscriptions) and its webhook messages woken here. The in-process runner then runs two jobs at
    once: the tail holds one for its whole budget, the other runs everything else, and the cron finds the
    tail's lease taken instead of queuing a second tail behind it.
    """
    processors = registry if registry is not None else default_registry()
    periodic = {SCHEDULE_JOB: SCHEDULE_EVERY_SECONDS, RESUME_PURGES_JOB: RESUME_PURGES_EVERY_SECONDS}
    if live_tails:
        periodic[ENSURE_LIVE_TAILS_JOB] = ENSURE_EVERY_SECONDS
    return create_app(
        settings,
        registry=processors,
        jobs=JobWiring(
            functions=JOBS,
            open_context=lambda metrics: job_context(settings, processors, metrics_registry=metrics),
            close_context=close_job_context,
            # The embedded mode's crons (workers run arq's): archives due by schedule, purges a crash left.
            periodic=periodic,
            # Retries and messages recorded without a wake-up (`obsrvr-flow ingest`) are found by the sweep.
            webhook_periodic={SWEEP_JOB: settings.webhook_sweep_seconds},
            concurrency=2 if live_tails else 1,
        ),
    )


def freeze_heap_after_startup(app: ASGIApp) -> ASGIApp:
    """`app`, moving every object alive once its start-up is complete out of the garbage collector's reach
    (`gc.freeze()`): modules, schemas and caches built at start-up are never garbage, yet a full collection
    walked them all (~200 ms with the event loop stopped, triggered by any request that allocates a lot).
    Only for a serving process: a test process building many apps would keep their garbage for ever."""

    async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "lifespan":
            await app(scope, receive, send)
            return

        async def send_and_freeze(message: Message) -> None:
            if message["type"] == "lifespan.startup.complete":
                gc.collect()
                gc.freeze()
            await send(message)

        await app(scope, receive, send_and_freeze)

    return wrapped
