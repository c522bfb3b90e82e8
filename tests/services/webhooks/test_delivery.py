"""Delivery against a real receiver on loopback (verifying with `standardwebhooks`) and real PostgreSQL, time
simulated with the injected clock: order, exactly-once, rotation, outages, Retry-After, disabling."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select

from core.settings import Settings
from services.webhooks.delivery import deliver_endpoint
from services.webhooks.schedule import MAX_ATTEMPTS, schedule_span
from services.webhooks.signing import new_secret
from storage.webhooks.deliveries import next_due_at
from storage.webhooks.operations import replay
from storage.webhooks.tables import webhook_attempts
from tests.services.webhooks.receiver import receiving
from tests.services.webhooks.seed import Clock, add_endpoint, add_messages, add_tenant, endpoint_row, statuses


async def run_until(engine: Any, settings: Settings, endpoint_id: str, clock: Clock, until: Any) -> int:
    """Run delivery jobs at every moment something comes due, up to `until`; the clock ends at `until`. Returns
    the number of jobs run."""
    jobs = 0
    while True:
        async with engine.connect() as conn:
            row = await endpoint_row(engine, endpoint_id)
            due = await next_due_at(conn, endpoint_id, ordered=row["ordered"])
        if due is None or due > until or row["status"] != "enabled":
            break
        clock.at = max(clock.at, due)
        await deliver_endpoint(engine, settings, endpoint_id, now=clock)
        jobs += 1
    clock.at = max(clock.at, until)
    return jobs


async def attempts_of(engine: Any, message_id: str) -> list[Any]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(webhook_attempts)
            .where(webhook_attempts.c.message_id == message_id)
            .order_by(webhook_attempts.c.id)
        )
        return list(rows.mappings())


async def test_every_message_arrives_verified_once_in_order(engine: Any, hook_settings: Settings) -> None:
    await add_tenant(engine, "acme")
    clock = Clock()
    with receiving([]) as receiver:
        endpoint_id, secret = await add_endpoint(engine, "acme", receiver.url)
        receiver.secrets.append(secret)
        # Rows whose id order is not their ledger order: ledger order wins, then id.
        ledgers = {row: 50_000_000 + (40 - row) // 10 for row in range(40)}
        ids = await add_messages(engine, endpoint_id, "acme", range(40), ledger_of=ledgers.__getitem__)
        report = await deliver_endpoint(engine, hook_settings, endpoint_id, now=clock)
        assert report.delivered == 40 and report.failed == 0
        expected = sorted(ids, key=lambda mid: (ledgers[int(mid.rsplit("_", 1)[1])], mid))
        assert receiver.delivered_ids() == expected
        assert receiver.all_verified()
        arrival = receiver.arrivals[0]
        assert {"webhook-id", "webhook-timestamp", "webhook-signature"} <= set(arrival.headers)
        assert arrival.headers["webhook-signature"].startswith("v1,")
        assert arrival.headers["webhook-id"] == expected[0]
        # Nothing is sent twice: another job finds nothing due.
        again = await deliver_endpoint(engine, hook_settings, endpoint_id, now=clock)
        assert again.attempts == [] and len(receiver.arrivals) == 40
    assert set((await statuses(engine, endpoint_id)).values()) == {"delivered"}


async def test_rotation_sends_both_signatures_until_the_grace_ends(
    engine: Any, hook_settings: Settings
) -> None:
    await add_tenant(engine, "acme")
    clock = Clock()
    old, new = new_secret("hmac")[0], new_secret("hmac")[0]
    with receiving([new, old]) as receiver:  # each signature must verify on its own
        endpoint_id, _ = await add_endpoint(
            engine,
            "acme",
            receiver.url,
            secret=new,
            previous_secret=old,
            previous_expires_at=clock.at + timedelta(hours=24),
        )
        await add_messages(engine, endpoint_id, "acme", [1])
        await deliver_endpoint(engine, hook_settings, endpoint_id, now=clock)
        assert receiver.all_verified() and len(receiver.delivered_ids()) == 1
        signatures = receiver.arrivals[0].headers["webhook-signature"].split(" ")
        assert len(signatures) == 2
        # After the grace period only the new secret signs: the old one no longer verifies.
        clock.advance(timedelta(hours=25))
        receiver.secrets[:] = [new]
        await add_messages(engine, endpoint_id, "acme", [2], at=clock.at)
        await deliver_endpoint(engine, hook_settings, endpoint_id, now=clock)
        assert receiver.all_verified()
        assert len(receiver.arrivals[1].headers["webhook-signature"].split(" ")) == 1


async def test_ed25519_endpoint_signs_v1a_verifiable_with_its_public_key(
    engine: Any, hook_settings: Settings
) -> None:
    import base64

    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    await add_tenant(engine, "acme")
    with receiving([]) as receiver:
        endpoint_id, _ = await add_endpoint(engine, "acme", receiver.url, signing="ed25519")
        public_key = (await endpoint_row(engine, endpoint_id))["public_key"]
        ids = await add_messages(engine, endpoint_id, "acme", range(3))
        await deliver_endpoint(engine, hook_settings, endpoint_id, now=Clock())
        assert [a.message_id for a in receiver.arrivals] == ids
    key = Ed25519PublicKey.from_public_bytes(base64.b64decode(public_key.removeprefix("whpk_")))
    for arrival in receiver.arrivals:
        version, _, signature = arrival.headers["webhook-signature"].partition(",")
        assert version == "v1a"
        content = f"{arrival.message_id}.{arrival.headers['webhook-timestamp']}.".encode() + arrival.body
        key.verify(base64.b64decode(signature), content)  # raises InvalidSignature otherwise


async def test_three_hour_outage_loses_nothing(engine: Any, hook_settings: Settings) -> None:
    await add_tenant(engine, "acme")
    clock = Clock()
    with receiving([]) as receiver:
        endpoint_id, secret = await add_endpoint(engine, "acme", receiver.url)
        receiver.secrets.append(secret)
        ids = await add_messages(engine, endpoint_id, "acme", range(10))
        receiver.mode = "fail"  # answers 500 for the first hour ...
        await run_until(engine, hook_settings, endpoint_id, clock, clock.at + timedelta(hours=1))
        port = receiver.port
        receiver.stop()  # ... then refuses connections for two more
        await run_until(engine, hook_settings, endpoint_id, clock, clock.at + timedelta(hours=2))
        assert receiver.delivered_ids() == []
        receiver.mode = "ok"
        receiver.port = port
        receiver.start()
        await run_until(engine, hook_settings, endpoint_id, clock, clock.at + timedelta(hours=12))
        assert receiver.delivered_ids() == ids  # every one, once, in order, after the recovery
        assert receiver.all_verified()
    assert set((await statuses(engine, endpoint_id)).values()) == {"delivered"}
    head = await attempts_of(engine, ids[0])
    assert [a["outcome"] for a in head][-1] == "success" and len(head) >= 5
    assert any(a["error"] and "connection" in a["error"] for a in head)
    assert any(a["status_code"] == 500 for a in head)


async def test_outage_past_the_schedule_dead_letters_then_replay_delivers(
    engine: Any, hook_settings: Settings
) -> None:
    await add_tenant(engine, "acme")
    clock = Clock()
    with receiving([]) as receiver:
        endpoint_id, secret = await add_endpoint(
            engine, "acme", receiver.url, ordered=False, max_concurrency=8
        )
        receiver.secrets.append(secret)
        ids = await add_messages(engine, endpoint_id, "acme", range(5))
        receiver.mode = "fail"
        await run_until(engine, hook_settings, endpoint_id, clock, clock.at + schedule_span() * 1.2)
        assert set((await statuses(engine, endpoint_id)).values()) == {"dead"}
        assert len(await attempts_of(engine, ids[0])) == MAX_ATTEMPTS
        assert (await endpoint_row(engine, endpoint_id))["status"] == "enabled"  # < 5 days
        receiver.mode = "ok"
        await replay_dead(engine, endpoint_id, clock)
        await deliver_endpoint(engine, hook_settings, endpoint_id, now=clock)
        assert sorted(receiver.delivered_ids()) == ids  # the original ids (and bytes)
        assert receiver.all_verified()
    # The log keeps the earlier attempts; the replay's attempt continues the count.
    assert [a["attempt"] for a in await attempts_of(engine, ids[0])] == list(range(1, MAX_ATTEMPTS + 2))


async def replay_dead(engine: Any, endpoint_id: str, clock: Clock) -> None:
    """The operations' replay (admin API / CLI `webhooks replay --only-dead`)."""
    async with engine.begin() as conn:
        assert await replay(conn, endpoint_id, now=clock.at, since_ledger=0, only_dead=True) == 5


async def test_retry_after_is_honoured_and_capped(engine: Any, hook_settings: Settings) -> None:
    await add_tenant(engine, "acme")
    clock = Clock()
    with receiving([]) as receiver:
        endpoint_id, secret = await add_endpoint(engine, "acme", receiver.url)
        receiver.secrets.append(secret)
        await add_messages(engine, endpoint_id, "acme", [1])
        date_target = clock.at + timedelta(
            hours=3
        )  # 2 h after the second attempt, far past the schedule's 5 min
        for status, header, wait in [
            (429, "3600", timedelta(hours=1)),
            (503, date_target.strftime("%a, %d %b %Y %H:%M:%S GMT"), None),
            (429, "999999", timedelta(hours=24)),  # capped
        ]:
            receiver.mode, receiver.status, receiver.retry_after = "retry_after", status, header
            started = clock.at
            await deliver_endpoint(engine, hook_settings, endpoint_id, now=clock)
            async with engine.connect() as conn:
                due = await next_due_at(conn, endpoint_id, ordered=True)
            assert due is not None
            if wait is None:
                assert due == date_target
            else:
                assert due - started == wait
            clock.at = due
        assert len(receiver.arrivals) == 3


async def test_410_disables_the_endpoint(engine: Any, hook_settings: Settings) -> None:
    await add_tenant(engine, "acme")
    clock = Clock()
    with receiving([]) as receiver:
        endpoint_id, _secret = await add_endpoint(engine, "acme", receiver.url)
        await add_messages(engine, endpoint_id, "acme", [1, 2])
        receiver.mode = "gone"
        report = await deliver_endpoint(engine, hook_settings, endpoint_id, now=clock)
        assert report.disabled and "410" in report.disabled and len(receiver.arrivals) == 1
    row = await endpoint_row(engine, endpoint_id)
    assert row["status"] == "disabled" and "410" in row["disabled_reason"]
    assert set((await statuses(engine, endpoint_id)).values()) == {"pending"}  # kept for when it is enabled


async def test_five_days_failing_disables_with_the_reason(engine: Any, hook_settings: Settings) -> None:
    await add_tenant(engine, "acme")
    clock = Clock()
    with receiving([]) as receiver:
        endpoint_id, _ = await add_endpoint(engine, "acme", receiver.url, ordered=False, max_concurrency=4)
        receiver.mode = "fail"
        # Live traffic keeps coming while the receiver fails: a message every 12 hours.
        for n in range(12):
            await add_messages(engine, endpoint_id, "acme", [n], at=clock.at)
            await run_until(engine, hook_settings, endpoint_id, clock, clock.at + timedelta(hours=12))
            row = await endpoint_row(engine, endpoint_id)
            if row["status"] == "disabled":
                break
        assert row["status"] == "disabled"
        assert row["disabled_at"] - row["failing_since"] >= timedelta(days=5)
        assert row["disabled_at"] - row["failing_since"] < timedelta(days=5, hours=13)
        assert "no successful delivery for 5 days" in row["disabled_reason"]
