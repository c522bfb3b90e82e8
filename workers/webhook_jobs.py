"""Webhook jobs: delivery of recorded messages, the sweep, and backfilling an endpoint from stored history.

`backfill_webhook` runs on the main queue (it reads history like an export, for as long as that takes); delivery
jobs run on the dedicated webhook queue (`ctx["webhook_jobs"]`).
"""

from __future__ import annotations

from typing import Any


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


def webhook_jobs() -> dict[str, Any]:
    """The webhook jobs by name, for `workers.jobs.JOBS`."""
    return {"backfill_webhook": backfill_webhook}
