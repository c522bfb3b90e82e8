"""The second arq worker of `obsrvr-flow worker`: it consumes the webhook queue (`settings.queue_name +
":webhooks"`), `webhook_worker_jobs` delivery jobs at once, and runs the `sweep_webhooks` cron.

It runs in the same process and event loop as the main worker (`workers.worker.run_worker`), with a context of
its own (a database engine; no decoding pool: delivering is I/O). Delivery jobs never wait behind ingestion and
backfill jobs, which hold the main queue's few slots for minutes.
"""

from __future__ import annotations

from datetime import UTC
from typing import TYPE_CHECKING, Any, cast

from workers.webhook_jobs import WEBHOOK_JOBS, webhook_queue_name

if TYPE_CHECKING:
    from arq.typing import WorkerCoroutine

    from core.settings import Settings

KEEP_RESULT_SECONDS = 60  # delivery job ids are per wake-up: their results need not be kept long
MAX_TRIES = 3


def webhook_worker_settings(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for the webhook queue's `arq.worker.Worker`."""
    from arq import cron
    from arq.connections import RedisSettings
    from arq.worker import func

    from workers.worker import cron_seconds

    assert settings.redis_url is not None  # checked by run_worker
    queue = webhook_queue_name(settings.queue_name)

    async def on_startup(ctx: dict[str, Any]) -> None:
        import logging

        from storage.db import create_engine

        # httpx logs every request at INFO: the delivery log (webhook_attempts) already records each attempt.
        logging.getLogger("httpx").setLevel(logging.WARNING)
        from storage.jobs import ArqJobQueue

        ctx["settings"] = settings
        ctx["engine"] = create_engine(settings.database_url)
        ctx["webhook_jobs"] = ArqJobQueue(ctx["redis"], queue)

    async def on_shutdown(ctx: dict[str, Any]) -> None:
        engine = ctx.pop("engine", None)
        if engine is not None:
            await engine.dispose()

    return {
        "functions": [func(cast("WorkerCoroutine", f), name=name) for name, f in WEBHOOK_JOBS.items()],
        "cron_jobs": [
            cron(
                cast("WorkerCoroutine", WEBHOOK_JOBS["sweep_webhooks"]),
                name="cron:sweep_webhooks",
                second=cron_seconds(settings.webhook_sweep_seconds, offset=2),
                unique=True,
                run_at_startup=True,
            )
        ],
        "timezone": UTC,
        "redis_settings": RedisSettings.from_dsn(settings.redis_url),
        "queue_name": queue,
        "on_startup": on_startup,
        "on_shutdown": on_shutdown,
        # A job sends for its budget, plus one attempt's deadline that started just before the budget ran out.
        "job_timeout": int(settings.webhook_job_budget_seconds + settings.webhook_timeout_seconds) + 30,
        "max_jobs": settings.webhook_worker_jobs,
        "max_tries": MAX_TRIES,
        "keep_result": KEEP_RESULT_SECONDS,
        "poll_delay": 0.1,  # the first attempt should follow the commit within a second
    }
