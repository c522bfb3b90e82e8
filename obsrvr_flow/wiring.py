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
from workers.jobs import JOBS
from workers.worker import close_job_context, job_context


def build_app(settings: Settings, registry: Registry | None = None) -> Starlette:
    """The API app on `registry` (default: the service's processors), running jobs in-process without Redis."""
    processors = registry if registry is not None else default_registry()
    return create_app(
        settings,
        registry=processors,
        jobs=JobWiring(
            functions=JOBS,
            open_context=lambda metrics: job_context(settings, processors, metrics_registry=metrics),
            close_context=close_job_context,
            # The embedded mode's crons (workers run arq's): archives due by schedule, purges a crash left.
            periodic={SCHEDULE_JOB: SCHEDULE_EVERY_SECONDS, RESUME_PURGES_JOB: RESUME_PURGES_EVERY_SECONDS},
            # Retries and messages recorded without a wake-up (`obsrvr-flow ingest`) are found by the sweep.
            webhook_periodic={SWEEP_JOB: settings.webhook_sweep_seconds},
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
