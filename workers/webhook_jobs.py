"""Webhook jobs. Delivery and the sweep run on the dedicated webhook queue (`settings.queue_name + ":webhooks"`): a
delivery never waits behind ingestion jobs that hold the main queue's slots for minutes. `backfill_webhook` runs
on the main queue (it reads history like an export, for as long as that takes).

`ctx["webhook_jobs"]` is that queue (an arq queue, or the embedded mode's second in-process runner). Tests may put
`webhook_clock` (a `() -> datetime`) and `webhook_resolver` (`services.webhooks.ssrf.Resolver`) in the context.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from services.webhooks.delivery import deliver_endpoint, sweep, utc_now
from services.webhooks.notify import sweep_reason, wake_endpoint


def webhook_queue_name(queue_name: str) -> str:
    """The webhook queue of a deployment whose main queue is `queue_name`."""
    return queue_name + ":webhooks"


async def deliver_webhooks(ctx: dict[str, Any], endpoint_id: str) -> dict[str, object]:
    """Send the due messages of one endpoint (`services.webhooks.delivery.deliver_endpoint`); when its time budget
    ran out with messages left, enqueue itself again (behind the other endpoints' jobs)."""
    report = await deliver_endpoint(
        ctx["engine"],
        ctx["settings"],
        endpoint_id,
        now=ctx.get("webhook_clock", utc_now),
        resolver=ctx.get("webhook_resolver"),
    )
    if report.out_of_budget:
        await wake_endpoint(ctx["webhook_jobs"], endpoint_id)
    return report.as_dict()


async def sweep_webhooks(ctx: dict[str, Any]) -> dict[str, object]:
    """Cron (every `webhook_sweep_seconds`): a delivery job for every endpoint with a due message (retries,
    lost wake-ups), and retention pruning."""
    settings = ctx["settings"]
    reason = sweep_reason(settings.webhook_sweep_seconds)

    async def wake(endpoint_id: str) -> object:
        return await wake_endpoint(ctx["webhook_jobs"], endpoint_id, reason)

    report = await sweep(ctx["engine"], settings, wake, now=ctx.get("webhook_clock", utc_now))
    return {"woken": len(report.woken), "pruned": report.pruned}


WEBHOOK_JOBS: dict[str, Callable[..., Awaitable[Any]]] = {
    "deliver_webhooks": deliver_webhooks,
    "sweep_webhooks": sweep_webhooks,
}
"""The jobs of the webhook queue (registered in `workers.jobs.JOBS` too, so the embedded runners know them)."""


async def backfill_webhook(
    ctx: dict[str, Any], endpoint_id: str, from_ledger: int, to_ledger: int | None = None
) -> dict[str, Any]:
    """Record endpoint `endpoint_id`'s messages for the stored rows of ledgers `from_ledger`-`to_ledger`
    (`services.webhooks.history.backfill`): idempotent, so a retried or repeated job records nothing twice."""
    from services.webhooks.events import EventCatalogue
    from services.webhooks.history import backfill
    from storage.cold.reader import ColdReader
    from storage.router import QueryRouter

    engine = ctx["engine"]
    cold = ColdReader.from_settings(ctx["settings"], engine)  # history may be archived already
    try:
        done = await backfill(
            QueryRouter(engine, cold=cold),
            EventCatalogue.from_registry(ctx["registry"]),
            endpoint_id,
            from_ledger,
            to_ledger,
        )
    finally:
        await cold.close()
    return done.as_dict()


def webhook_jobs() -> dict[str, Callable[..., Awaitable[Any]]]:
    """Every webhook job by name, for `workers.jobs.JOBS`: the webhook queue's and the main queue's backfill."""
    return {**WEBHOOK_JOBS, "backfill_webhook": backfill_webhook}
