"""`build_app(..., live_tails=True)` (what `obsrvr-flow dev` serves): the in-process live tail follows the
network's source, and each ledger it commits is published on the app's own pub/sub, where subscriptions
listen."""

from __future__ import annotations

import asyncio
from pathlib import Path

import orjson
from starlette.testclient import TestClient

from ingest.publish import channel
from ledgers.samples.network import SimulatedNetwork
from obsrvr_flow.wiring import build_app
from tests.api.helpers import LOOPBACK, onboard, settings_for

GUARD_SECONDS = 60  # ends a test whose tail never publishes; nothing is asserted about the time taken


def test_live_tail_in_process_publishes_new_ledgers_on_the_apps_pubsub(
    migrated_pg: str, tmp_path: Path
) -> None:
    network = SimulatedNetwork.resume(tmp_path / "lake", seed=3)
    settings = settings_for(migrated_pg, pubnet_source=str(network.folder), live_poll_seconds=0.05)
    with TestClient(build_app(settings, live_tails=True), client=LOOPBACK) as client:
        onboard(client)
        state = client.app.state.flow  # type: ignore[attr-defined]

        async def follow() -> set[int]:
            covered: set[int] = set()
            async with state.backends.pubsub.subscribe(channel("acme-wallet", "token_transfers")) as messages:
                # The cron would start the tail within its interval; asking now saves the wait.
                await state.backends.jobs.enqueue("ensure_live_tails")
                for _ in range(3):
                    await asyncio.to_thread(network.close_next)
                async for raw in messages:
                    message = orjson.loads(raw)
                    covered.update(range(message["first_ledger"], message["last_ledger"] + 1))
                    if network.last_ledger in covered:
                        return covered

            raise AssertionError("the subscription ended")

        covered = client.portal.call(lambda: asyncio.wait_for(follow(), GUARD_SECONDS))
    assert network.last_ledger == 10 and 10 in covered
    # The tail starts at the source's tip: ledger 7 (the last sample) when it looks before ledger 8 is closed,
    # a new one otherwise; the samples before the tip are never ingested here.
    assert min(covered) >= 7
