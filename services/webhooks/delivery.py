"""Delivering an endpoint's messages, and the sweep that makes sure every due message gets a job.

`deliver_endpoint` is one delivery job: it takes the endpoint's lease (`webhooks:<endpoint id>`: one job per
endpoint at a time, on any worker), sends what is due (ordered endpoints one message at a time in ledger/id order;
unordered ones up to `max_concurrency` at once), records each attempt with its consequence in one transaction
(an ordered endpoint's before its next message goes out; an unordered round's together), retrying a transaction
SQLite refuses for now (another writer) so that answered attempts are never dropped and sent again, and stops
after `webhook_job_budget_seconds` so one endpoint cannot hold a job slot forever (it asks to run again).
A job that finds the lease taken returns at once: the holder looks for due messages once more after it has
released the lease (so a message recorded while it was finishing is not left for the sweep).

Failures follow `services.webhooks.schedule`; a 410 answer disables the endpoint, and so does failing with no
success for `webhook_disable_after_days` (the reason is stored on the endpoint). Time comes from the injected
`now` so tests can run through days of retries without sleeping.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from core.settings import Settings
from services.webhooks.schedule import RETRY_AFTER_STATUSES, parse_retry_after, retry_delay
from services.webhooks.sender import AttemptResult, Sender, SendLimits
from services.webhooks.ssrf import Resolver
from storage.db import write_conflict
from storage.leases import try_lease
from storage.webhooks import deliveries
from storage.webhooks.deliveries import AttemptRecord, DueMessage
from storage.webhooks.endpoints import Endpoint, endpoint_by_id
from storage.webhooks.tables import ENABLED

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
Wake = Callable[[str], Awaitable[object]]  # enqueue a delivery job for an endpoint id


ORDERED_PREFETCH = 50  # an ordered endpoint's next messages read at once (sent one by one)
# Recording an answered round that SQLite refuses for now ("database is locked": another writer) is tried again
# for this long, pausing from the first to the largest pause, before the job gives up.
RECORD_RETRY_SECONDS = 60.0
RECORD_FIRST_PAUSE = 0.05
RECORD_MAX_PAUSE = 2.0


def utc_now() -> datetime:
    return datetime.now(UTC)


def lease_name(endpoint_id: str) -> str:
    return f"webhooks:{endpoint_id}"


@dataclass
class DeliveryReport:
    """What one job did for one endpoint."""

    endpoint_id: str
    busy: bool = False  # another job held the lease
    delivered: int = 0
    failed: int = 0
    dead: int = 0
    disabled: str | None = None  # the reason, when this job disabled the endpoint
    out_of_budget: bool = False  # stopped with due messages left: it should run again
    attempts: list[str] = field(default_factory=list)  # message ids in the order they were sent

    def as_dict(self) -> dict[str, object]:
        return {k: v for k, v in self.__dict__.items() if k != "attempts"}


def send_limits(settings: Settings) -> SendLimits:
    return SendLimits(
        timeout_seconds=settings.webhook_timeout_seconds,
        max_response_bytes=settings.webhook_max_response_bytes,
        allow_private=settings.webhook_allow_private,
    )


async def deliver_endpoint(
    engine: AsyncEngine,
    settings: Settings,
    endpoint_id: str,
    *,
    now: Clock = utc_now,
    resolver: Resolver | None = None,
) -> DeliveryReport:
    """Send the due messages of `endpoint_id` (see the module docstring). Safe to run any number of times, from
    any number of workers: the lease makes one of them the sender, the others return `busy`."""
    report = DeliveryReport(endpoint_id)
    budget_ends = time.monotonic() + settings.webhook_job_budget_seconds
    sender = Sender(send_limits(settings), resolver=resolver)
    try:
        while True:
            async with try_lease(engine, lease_name(endpoint_id)) as held:
                if not held:
                    report.busy = report.busy or not report.attempts
                    return report
                await _send_due(engine, settings, endpoint_id, sender, now, budget_ends, report)
            if report.disabled or report.out_of_budget:
                return report
            # Released: a job enqueued while we held the lease returned `busy`; look once more for what it
            # was enqueued for, so nothing waits for the sweep.
            if not await _has_due(engine, endpoint_id, now()):
                return report
    finally:
        await sender.aclose()


async def _has_due(engine: AsyncEngine, endpoint_id: str, at: datetime) -> bool:
    async with engine.connect() as conn:
        endpoint = await endpoint_by_id(conn, endpoint_id)
        if endpoint is None or endpoint.status != ENABLED:
            return False
        due = await deliveries.due_messages(conn, endpoint_id, at, ordered=endpoint.ordered, limit=1)
    return bool(due)


async def _send_due(
    engine: AsyncEngine,
    settings: Settings,
    endpoint_id: str,
    sender: Sender,
    now: Clock,
    budget_ends: float,
    report: DeliveryReport,
) -> None:
    while True:
        async with engine.connect() as conn:
            endpoint = await endpoint_by_id(conn, endpoint_id)
            if endpoint is None or endpoint.status != ENABLED:
                return  # removed, disabled or still backfilling: nothing is sent
            width = (
                ORDERED_PREFETCH
                if endpoint.ordered
                else max(1, min(endpoint.max_concurrency, settings.webhook_max_concurrency))
            )
            due = await deliveries.due_messages(
                conn, endpoint_id, now(), ordered=endpoint.ordered, limit=width
            )
        if not due:
            return
        if time.monotonic() >= budget_ends:
            report.out_of_budget = True
            return
        if endpoint.ordered:
            # One at a time, in order, each recorded before the next goes out: a job stopped (cancelled, crashed,
            # its recording refused) sends again only the attempt whose outcome it never recorded, not the
            # answered ones before it. The first failure stops the run (its retry holds the later ones back).
            for message in due:
                started, result = await _attempt(sender, endpoint, message, now)
                await _record(engine, settings, endpoint, [(message, started, result)], report)
                if report.disabled or not result.success or time.monotonic() >= budget_ends:
                    break
        else:
            results = await asyncio.gather(*(_attempt(sender, endpoint, message, now) for message in due))
            # One transaction for the round (its attempts were in flight together): a crash before it commits
            # sends the round again, with the same ids.
            await _record(
                engine,
                settings,
                endpoint,
                [(message, started, result) for message, (started, result) in zip(due, results, strict=True)],
                report,
            )
        if report.disabled:
            return


async def _attempt(
    sender: Sender, endpoint: Endpoint, message: DueMessage, now: Clock
) -> tuple[datetime, AttemptResult]:
    started = now()
    return started, await sender.send(endpoint.url, endpoint, message.id, message.payload, started)


async def _record(
    engine: AsyncEngine,
    settings: Settings,
    endpoint: Endpoint,
    sent: list[tuple[DueMessage, datetime, AttemptResult]],
    report: DeliveryReport,
) -> None:
    records = [_attempt_record(endpoint, message, started, result) for message, started, result in sent]
    # The receiver has answered: a transaction SQLite refused (nothing of it written) is run again, still holding
    # the lease so nobody sends these meanwhile, rather than failing the job, which would send them all again.
    # Other errors (an outage: a commit may or may not have happened) fail the job; its attempts are then unknown.
    waited, pause = 0.0, RECORD_FIRST_PAUSE
    while True:
        try:
            await _record_once(engine, settings, endpoint, records, sent, report)
            return
        except DBAPIError as exc:
            if not write_conflict(exc) or waited >= RECORD_RETRY_SECONDS:
                raise
            log.warning(
                "endpoint %s: recording %d attempts refused for now (%s), again", endpoint.id, len(sent), exc
            )
        await asyncio.sleep(pause)
        waited += pause
        pause = min(pause * 2, RECORD_MAX_PAUSE)


async def _record_once(
    engine: AsyncEngine,
    settings: Settings,
    endpoint: Endpoint,
    records: list[AttemptRecord],
    sent: list[tuple[DueMessage, datetime, AttemptResult]],
    report: DeliveryReport,
) -> None:
    async with engine.begin() as conn:
        await deliveries.record_attempts(conn, records)
        disabled: str | None = None
        for _, started, result in sent:
            reason = _disable_reason(settings, endpoint, started, result)
            if reason is not None and disabled is None and report.disabled is None:
                if await deliveries.disable_endpoint(conn, endpoint.id, reason, started):
                    disabled = reason
    # Counted once committed (a refused transaction is run again).
    for record, (message, _, result) in zip(records, sent, strict=True):
        report.attempts.append(message.id)
        if result.success:
            report.delivered += 1
        elif record.next_attempt_at is None:
            report.dead += 1
        else:
            report.failed += 1
    report.disabled = report.disabled or disabled


def _attempt_record(
    endpoint: Endpoint, message: DueMessage, started: datetime, result: AttemptResult
) -> AttemptRecord:
    next_at: datetime | None = None
    if not result.success:
        wanted = (
            parse_retry_after(result.retry_after, started)
            if result.status_code in RETRY_AFTER_STATUSES
            else None
        )
        delay = retry_delay(message.attempts + 1, retry_after=wanted)
        next_at = started + delay if delay is not None else None
    return AttemptRecord(
        message_id=message.id,
        endpoint_id=endpoint.id,
        started_at=started,
        duration_ms=result.duration_ms,
        status_code=result.status_code,
        success=result.success,
        error=result.error,
        response_snippet=result.snippet,
        next_attempt_at=next_at,
    )


def _disable_reason(
    settings: Settings, endpoint: Endpoint, at: datetime, result: AttemptResult
) -> str | None:
    if result.success:
        return None
    if result.gone:
        return "the receiver answered 410 Gone"
    failing_since = endpoint.failing_since or at
    if at - failing_since >= timedelta(days=settings.webhook_disable_after_days):
        return (
            f"no successful delivery for {settings.webhook_disable_after_days:g} days "
            f"(failing since {failing_since.isoformat().replace('+00:00', 'Z')})"
        )
    return None


@dataclass
class SweepReport:
    woken: list[str]
    pruned: int


async def sweep(engine: AsyncEngine, settings: Settings, wake: Wake, *, now: Clock = utc_now) -> SweepReport:
    """Enqueue a delivery job (through `wake`) for every enabled endpoint with a due message, and prune messages
    older than `webhook_retention_days` with their attempts. Retries come due through here; so do messages whose
    after-commit notification was lost (a crash between commit and enqueue, the queue down, `obsrvr-flow ingest`
    recording without a queue)."""
    at = now()
    async with engine.connect() as conn:
        due = await deliveries.endpoints_due(conn, at)
    for endpoint_id in due:
        await wake(endpoint_id)
    pruned = 0
    cutoff = at - timedelta(days=settings.webhook_retention_days)
    while True:
        async with engine.begin() as conn:
            deleted = await deliveries.prune_messages(conn, cutoff)
        pruned += deleted
        if deleted == 0:
            break
    return SweepReport(due, pruned)
