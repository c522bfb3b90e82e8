"""The after-commit hook wakes delivery at once (no sweep involved), through the webhook queue's runner, and the
webhook worker's arq settings are ones arq accepts."""

from __future__ import annotations

import asyncio
from typing import Any

from arq.worker import Worker

from core.settings import Network, Settings
from ingest.engine import CommittedBatch
from ingest.webhook_wakeup import delivery_notifier
from services.webhooks.notify import deliver_job_id
from storage.jobs import InProcessJobQueue
from tests.api.helpers import settings_for
from tests.services.webhooks.receiver import receiving
from tests.services.webhooks.seed import add_endpoint, add_messages, add_tenant
from workers.webhook_jobs import WEBHOOK_JOBS, webhook_queue_name
from workers.webhook_worker import webhook_worker_settings


async def test_commit_hook_delivers_the_batch_without_the_sweep(engine: Any, hook_settings: Settings) -> None:
    await add_tenant(engine, "acme")
    with receiving([]) as receiver:
        endpoint_id, secret = await add_endpoint(engine, "acme", receiver.url)
        receiver.secrets.append(secret)
        ids = await add_messages(engine, endpoint_id, "acme", range(5))
        ctx: dict[str, Any] = {"settings": hook_settings, "engine": engine}
        queue = InProcessJobQueue(WEBHOOK_JOBS, ctx, concurrency=4)
        ctx["webhook_jobs"] = queue
        try:
            batch = CommittedBatch(Network.pubnet, 1, 1, {}, {}, {endpoint_id: 5})
            await delivery_notifier(queue)(batch)
            # The batch's job id is taken: the same batch notified twice runs one job.
            assert await queue.unknown([deliver_job_id(endpoint_id, "pubnet1-1")]) == set()
            await asyncio.wait_for(queue.drain(), 30)
        finally:
            await queue.close()
        assert receiver.delivered_ids() == ids and receiver.all_verified()


def test_webhook_worker_settings(sqlite_url: str, redis_prefix: str) -> None:
    settings = settings_for(
        sqlite_url, redis_url="redis://127.0.0.1:6379/0", queue_name=f"{redis_prefix}q", webhook_worker_jobs=7
    )
    kwargs = webhook_worker_settings(settings)
    assert kwargs["queue_name"] == webhook_queue_name(settings.queue_name) == f"{redis_prefix}q:webhooks"
    assert {f.name for f in kwargs["functions"]} == set(WEBHOOK_JOBS)
    assert kwargs["max_jobs"] == 7
    assert [c.name for c in kwargs["cron_jobs"]] == ["cron:sweep_webhooks"]
    assert kwargs["cron_jobs"][0].second == set(range(2, 60, 5))  # every OBSRVR_WEBHOOK_SWEEP_SECONDS (5)
    # A job's timeout leaves room for its budget plus one attempt's deadline.
    assert kwargs["job_timeout"] > settings.webhook_job_budget_seconds + settings.webhook_timeout_seconds
    Worker(**kwargs, handle_signals=False)
