"""Waking delivery: a delivery job per endpoint on the webhook queue, for the after-commit hook
(`ingest.webhook_wakeup`) and the operations that make messages due (the sweep finds them anyway within
`webhook_sweep_seconds`)."""

from __future__ import annotations

import logging
import time
import uuid

from core.errors import QueueUnavailable
from storage.jobs import JobQueue

log = logging.getLogger(__name__)

DELIVER_JOB = "deliver_webhooks"
SWEEP_JOB = "sweep_webhooks"


def deliver_job_id(endpoint_id: str, reason: str) -> str:
    """A job id per endpoint and reason (a batch, a sweep window): the same wake-up enqueued twice runs once,
    different ones each get a job (a job finding the lease taken returns at once, so extra ones are cheap)."""
    return f"deliver:{endpoint_id}:{reason}"


async def wake_endpoint(jobs: JobQueue, endpoint_id: str, reason: str | None = None) -> bool:
    """Enqueue a delivery job for `endpoint_id`; False when the queue refused it (a duplicate id) or is down
    (then the sweep enqueues it once the queue is back)."""
    try:
        return await jobs.enqueue(
            DELIVER_JOB, endpoint_id, job_id=deliver_job_id(endpoint_id, reason or uuid.uuid4().hex)
        )
    except QueueUnavailable:
        log.warning("webhook queue unavailable: endpoint %s is left to the sweep", endpoint_id)
        return False


def sweep_reason(every_seconds: int) -> str:
    return f"sweep{int(time.time()) // max(every_seconds, 1)}"
