"""The after-commit hook that wakes webhook delivery: each endpoint a committed batch recorded messages for gets a
delivery job at once (the sweep would find them within `webhook_sweep_seconds` anyway; this is what makes the
first attempt follow the commit within a second)."""

from __future__ import annotations

from ingest.engine import CommitHook, CommittedBatch
from services.webhooks.notify import wake_endpoint
from storage.jobs import JobQueue


def delivery_notifier(jobs: JobQueue) -> CommitHook:
    """The commit hook waking the endpoints of `CommittedBatch.webhook_messages`."""

    async def notify(batch: CommittedBatch) -> None:
        reason = f"{batch.network.value}{batch.first_ledger}-{batch.last_ledger}"
        for endpoint_id, count in sorted(batch.webhook_messages.items()):
            if count:
                await wake_endpoint(jobs, endpoint_id, reason)

    return notify
