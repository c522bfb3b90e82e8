"""Operating an endpoint's deliveries, shared by the admin API and the CLI: the endpoint with its backlog, the
delivery log, dead letters, resend of one message and replay since a ledger or a time.

Resent and replayed messages are due at once: the admin API wakes the endpoint's delivery job, and the delivery
sweep (every `webhook_sweep_seconds`) hands them to one anyway, so they go out within seconds.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from core.errors import NotFound, invalid_parameter
from core.instants import utc_instant
from storage.tables import utcnow
from storage.webhooks import operations as store
from storage.webhooks.endpoints import Endpoint
from storage.webhooks.operations import Backlog

MAX_LIMIT = 1000


def endpoint_view(endpoint: Endpoint, backlog: Backlog | None, now: datetime) -> dict[str, Any]:
    """The endpoint as the tenant may see it (no secret) with its backlog: pending and dead messages and the
    age of the oldest undelivered one."""
    empty = Backlog(endpoint.id, endpoint.tenant_id, 0, 0, None)
    shown = backlog or empty
    return {
        **endpoint.public(),
        "backlog": {
            "pending": shown.pending,
            "dead": shown.dead,
            "oldest_pending_at": shown.oldest_pending_at,
            "oldest_undelivered_age_seconds": round(shown.age_seconds(now), 3),
        },
    }


def parse_limit(value: object, default: int = 100) -> int:
    """A page size from a query parameter or option: 1 to `MAX_LIMIT` (400 naming ``limit`` otherwise)."""
    if value is None:
        return default
    text = str(value)
    if not (text.isascii() and text.isdigit() and len(text) <= 4) or not 1 <= int(text) <= MAX_LIMIT:
        raise invalid_parameter("limit", f"must be an integer from 1 to {MAX_LIMIT}")
    return int(text)


def parse_ledger(name: str, value: object) -> int:
    """A ledger sequence from JSON or text (400 naming `name` otherwise)."""
    if isinstance(value, bool):
        raise invalid_parameter(name, "must be a ledger sequence (a positive integer)")
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 12:
        value = int(value)
    if not isinstance(value, int) or not 1 <= value <= 2**32 - 1:
        raise invalid_parameter(name, "must be a ledger sequence (a positive integer)")
    return value


def parse_time(name: str, value: object) -> datetime:
    if not isinstance(value, str):
        raise invalid_parameter(name, "must be an ISO-8601 time, e.g. 2026-01-31T12:00:00Z")
    try:
        return utc_instant(datetime.fromisoformat(value))
    except ValueError as exc:
        raise invalid_parameter(name, f"must be an ISO-8601 time ({exc})") from None


class WebhookOperations:
    """Reads and state changes of endpoints' messages over one database; `now` is injectable for tests."""

    def __init__(self, engine: AsyncEngine, *, now: Callable[[], datetime] = utcnow) -> None:
        self.engine = engine
        self.now = now

    async def views(self, endpoints: Sequence[Endpoint]) -> list[dict[str, Any]]:
        """Each endpoint's view with its backlog, in the given order."""
        async with self.engine.connect() as conn:
            found = await store.backlogs(conn, [e.id for e in endpoints])
        now = self.now()
        return [endpoint_view(e, found.get(e.id), now) for e in endpoints]

    async def deliveries(
        self, endpoint: Endpoint, *, limit: int, message_id: str | None = None
    ) -> list[dict[str, Any]]:
        async with self.engine.connect() as conn:
            return await store.delivery_log(conn, endpoint.id, limit=limit, message_id=message_id)

    async def dead_letters(
        self, endpoint: Endpoint, *, limit: int, after: str | None = None
    ) -> list[dict[str, Any]]:
        async with self.engine.connect() as conn:
            return await store.dead_letters(conn, endpoint.id, limit=limit, after=after)

    async def resend(self, endpoint: Endpoint, message_id: str) -> dict[str, Any]:
        """Put one message back to pending, due now (same id, same bytes); 404 when the endpoint has none."""
        async with self.engine.begin() as conn:
            if not await store.resend(conn, endpoint.id, message_id, self.now()):
                raise NotFound(
                    f"webhook endpoint '{endpoint.id}' has no message '{message_id}'",
                    code="webhook_message_not_found",
                )
            found = await store.message(conn, endpoint.id, message_id)
        assert found is not None
        found.pop("payload")
        return found

    async def replay(
        self,
        endpoint: Endpoint,
        *,
        since_ledger: int | None = None,
        since_time: datetime | None = None,
        only_dead: bool = False,
    ) -> int:
        """Send again the endpoint's delivered and dead messages (only dead with `only_dead`) since a ledger
        or a ledger close time; one of the two is required. Returns how many were put back to pending."""
        if (since_ledger is None) == (since_time is None):
            raise invalid_parameter("since_ledger", "give exactly one of since_ledger and since_time")
        async with self.engine.begin() as conn:
            return await store.replay(
                conn,
                endpoint.id,
                now=self.now(),
                since_ledger=since_ledger,
                since_time=since_time,
                only_dead=only_dead,
            )
