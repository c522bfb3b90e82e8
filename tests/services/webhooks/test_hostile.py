"""Hostile receivers cost a bounded time each, and another tenant's endpoint is delivered meanwhile; the address
check refuses private targets at connection, including a name rebound to 127.0.0.1 after registration."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Any

import pytest
from sqlalchemy import select

from core.settings import Settings
from services.webhooks.delivery import deliver_endpoint
from services.webhooks.ssrf import WebhookUrlRefused, check_url
from storage.webhooks.tables import webhook_attempts
from tests.api.helpers import settings_for
from tests.services.webhooks.receiver import receiving
from tests.services.webhooks.seed import Clock, add_endpoint, add_messages, add_tenant


async def last_attempt(engine: Any, endpoint_id: str) -> Any:
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(webhook_attempts)
            .where(webhook_attempts.c.endpoint_id == endpoint_id)
            .order_by(webhook_attempts.c.id)
        )
        return list(rows.mappings())[-1]


EVIL = 5  # messages of the hostile endpoint


@pytest.mark.parametrize("mode", ["hang", "huge", "redirect"])
async def test_hostile_receiver_is_bounded_while_another_endpoint_is_delivered(
    engine: Any, hook_settings: Settings, mode: str
) -> None:
    """Two endpoints of two tenants, delivered by two concurrent jobs (as two worker slots run them). The hostile
    one's job is still busy with its receiver when the healthy one's has delivered everything: event order, not
    timing, shows nobody waited for it. Each hostile attempt ends within the deadline (1 s here, a setting)."""
    await add_tenant(engine, "evil")
    await add_tenant(engine, "good")
    clock = Clock()
    events: list[str] = []
    with receiving([]) as hostile, receiving([]) as healthy:
        hostile.mode = mode
        # Unordered, one at a time: each of its messages gets its own attempt in this job (an ordered endpoint
        # would stop at the first failure, its head waiting for the retry).
        evil_id, _ = await add_endpoint(engine, "evil", hostile.url, ordered=False, max_concurrency=1)
        good_id, good_secret = await add_endpoint(engine, "good", healthy.url)
        healthy.secrets.append(good_secret)
        await add_messages(engine, evil_id, "evil", range(EVIL))
        good_ids = await add_messages(engine, good_id, "good", range(10))

        async def run(name: str, endpoint_id: str) -> Any:
            report = await deliver_endpoint(engine, hook_settings, endpoint_id, now=clock)
            events.append(name)
            return report

        started = time.monotonic()
        evil = asyncio.create_task(run("evil-done", evil_id))
        await asyncio.sleep(0)  # the hostile job starts first
        good = await run("good-done", good_id)
        evil_report = await evil
        took = time.monotonic() - started
    if mode == "hang":  # the only one that takes long: each attempt waits for its deadline
        assert events == ["good-done", "evil-done"]
    assert good.delivered == 10 and healthy.delivered_ids() == good_ids and healthy.all_verified()
    attempt = await last_attempt(engine, evil_id)
    if mode == "huge":
        # It answered 200: a success, its body read up to the cap and no further.
        assert evil_report.delivered == EVIL and attempt["status_code"] == 200
        assert len(attempt["response_snippet"]) == 1024
    else:
        assert evil_report.failed == EVIL and attempt["outcome"] == "failure"
        if mode == "hang":
            assert attempt["status_code"] is None and "no answer within 1 s" in attempt["error"]
            assert attempt["duration_ms"] < 3000
        else:
            assert attempt["status_code"] == 302 and "not followed" in attempt["error"]
            assert len(hostile.arrivals) == EVIL  # one request per attempt: the redirect was never followed
    assert took < EVIL * 1.0 + 10  # 1 s deadlines and some slack on a busy machine, never 15 s each


BLOCKED = [
    "127.0.0.1",
    "10.1.2.3",
    "172.16.5.4",
    "172.31.255.1",
    "192.168.1.1",
    "169.254.169.254",
    "::1",
    "fd00::1",
]


def fixed(addresses: Sequence[str]) -> Any:
    async def resolve(host: str, port: int) -> Sequence[str]:
        return list(addresses)

    return resolve


@pytest.mark.parametrize("address", BLOCKED)
async def test_private_addresses_are_refused_at_connection(
    engine: Any, migrated_pg: str, address: str
) -> None:
    settings = settings_for(migrated_pg, webhook_allow_private=False, webhook_timeout_seconds=1.0)
    with pytest.raises(WebhookUrlRefused):  # at registration
        await check_url("https://hooks.example.com/x", allow_private=False, resolver=fixed([address]))
    await add_tenant(engine, "acme")
    with receiving([]) as receiver:
        # Registered before the setting was turned off, or the address changed since: refused when sending.
        endpoint_id, _ = await add_endpoint(engine, "acme", f"https://hooks.example.com:{receiver.port}/x")
        await add_messages(engine, endpoint_id, "acme", [1])
        report = await deliver_endpoint(engine, settings, endpoint_id, now=Clock(), resolver=fixed([address]))
        assert report.failed == 1 and receiver.arrivals == []
    attempt = await last_attempt(engine, endpoint_id)
    assert (
        attempt["status_code"] is None
        and "address refused" in attempt["error"]
        and address in attempt["error"]
    )


async def test_dns_rebinding_to_loopback_is_refused_at_connection(engine: Any, migrated_pg: str) -> None:
    """The name resolves to a public address when registered and to 127.0.0.1 when the message is sent."""
    settings = settings_for(migrated_pg, webhook_allow_private=False, webhook_timeout_seconds=1.0)
    answers = iter([["93.184.216.34"], ["127.0.0.1"]])

    async def rebinding(host: str, port: int) -> Sequence[str]:
        return next(answers)

    await add_tenant(engine, "acme")
    with receiving([]) as receiver:
        url = f"https://rebind.example.com:{receiver.port}/x"
        checked = await check_url(url, allow_private=False, resolver=rebinding)  # accepted at registration
        assert checked.addresses == ("93.184.216.34",)
        endpoint_id, _ = await add_endpoint(engine, "acme", url)
        await add_messages(engine, endpoint_id, "acme", [1])
        report = await deliver_endpoint(engine, settings, endpoint_id, now=Clock(), resolver=rebinding)
        assert report.failed == 1 and receiver.arrivals == []  # nothing reached the loopback receiver
    attempt = await last_attempt(engine, endpoint_id)
    assert "127.0.0.1" in attempt["error"]
