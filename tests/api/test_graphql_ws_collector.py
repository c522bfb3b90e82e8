"""The garbage collector's full collections run after a ledger's fan-out, not during it
(`services.subscriptions.collector.QuietCollector`, as `obsrvr-flow serve`'s hub runs it).

Real collector (CPython's), real store (mainnet ledgers, PostgreSQL), real `IngestEngine` commits through the real
publisher hook, the real hub, schema, operation pump and `Connection`; only the server's side of the socket stands
in (`ServerSocket`, as in test_graphql_ws_write_through.py)."""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from services.subscriptions import SubscriptionHub
from services.subscriptions import collector as collector_module
from services.subscriptions.collector import HELD_THRESHOLD, QUIET_SECONDS, QuietCollector
from storage.pubsub import MemoryPubSub
from tests.api.test_graphql_ws_write_through import ServerSocket, pumped
from tests.mainnet_data import FULL
from tests.services.subscriptions.conftest import KEPT, Ledgers, until
from tests.services.subscriptions.conftest import pg_ledgers as pg_ledgers  # the fixture, used by name


@pytest.fixture(autouse=True)
def thresholds() -> Iterator[tuple[int, int, int]]:
    """The process's thresholds, put back whatever a test leaves."""
    saved = gc.get_threshold()
    yield saved
    gc.set_threshold(*saved)


def make_due(threshold: int) -> None:
    """Middle-generation collections until a full one is due by CPython's own count (`threshold`: its oldest
    generation's, before holding): each counts one."""
    while gc.get_count()[2] < threshold:
        gc.collect(1)


def test_holding_raises_only_the_oldest_threshold_and_release_puts_it_back(
    thresholds: tuple[int, int, int],
) -> None:
    collector = QuietCollector()
    collector.hold()
    assert gc.get_threshold() == (thresholds[0], thresholds[1], HELD_THRESHOLD)
    collector.release()
    assert gc.get_threshold() == thresholds


def test_release_keeps_thresholds_someone_else_set_meanwhile() -> None:
    collector = QuietCollector()
    collector.hold()
    gc.set_threshold(50_000, 20, 20)  # as an ingestion's tuning in the same process would
    collector.release()
    assert gc.get_threshold() == (50_000, 20, 20)


def test_an_overdue_collection_runs_from_the_resync_without_any_message(
    thresholds: tuple[int, int, int],
) -> None:
    collector = QuietCollector(min_seconds=0, overdue_seconds=0)
    collector.hold()
    make_due(thresholds[2])
    before = gc.get_stats()[2]["collections"]
    collector.overdue()
    assert collector.collections == 1
    assert gc.get_stats()[2]["collections"] == before + 1
    assert gc.get_count()[2] == 0
    collector.release()


class Clock:
    """The `time` the collector reads, moved by the test instead of waiting."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def monotonic(self) -> float:
        return self.now


def test_channels_closing_and_reopening_do_not_put_the_full_collection_off(
    monkeypatch: pytest.MonkeyPatch, thresholds: tuple[int, int, int]
) -> None:
    clock = Clock()
    monkeypatch.setattr(collector_module, "time", clock)
    collector = QuietCollector(min_seconds=60, overdue_seconds=60)
    for _ in range(3):  # the last channel closes and another opens every 30 s (a client reconnecting)
        collector.hold()
        clock.now += 30
        collector.release()
    collector.hold()
    make_due(thresholds[2])
    collector.overdue()  # 90 s since the collector was made, and it never collected
    assert collector.collections == 1
    collector.release()


@dataclass
class Subscribed:
    hub: SubscriptionHub
    collector: QuietCollector
    pubsub: MemoryPubSub
    socket: ServerSocket


@contextlib.asynccontextmanager
async def subscribed(pg_ledgers: Ledgers, min_seconds: float) -> AsyncIterator[Subscribed]:
    """One live subscription of every transfer of the full tenant, written through to a `ServerSocket`
    (`pumped`), on a hub with a collector."""
    collector = QuietCollector(min_seconds=min_seconds)
    settings = pg_ledgers.settings(subscription_send_buffer_messages=100_000)  # a ledger is ~1,000 rows
    pubsub = MemoryPubSub(max_pending=100_000)
    hub = SubscriptionHub(pubsub, pg_ledgers.router, settings, collector)
    async with pumped(pg_ledgers, hub, settings) as (socket, _, _):
        yield Subscribed(hub, collector, pubsub, socket)


async def test_the_full_collection_runs_after_the_ledgers_rows_are_written(
    pg_ledgers: Ledgers, thresholds: tuple[int, int, int]
) -> None:
    async with subscribed(pg_ledgers, 0.0) as sub:
        await _collected_after_the_rows(pg_ledgers, sub, thresholds)


async def _collected_after_the_rows(
    pg_ledgers: Ledgers, subscribed: Subscribed, thresholds: tuple[int, int, int]
) -> None:
    hub, collector, socket = subscribed.hub, subscribed.collector, subscribed.socket
    assert collector.holding and gc.get_threshold()[2] == HELD_THRESHOLD  # the channel is open
    await until(lambda: hub.parked_subscribers == 1)
    make_due(thresholds[2])
    written_at_start: list[int] = []

    def watch(phase: str, info: dict[str, Any]) -> None:
        if phase == "start" and info["generation"] == 2:
            written_at_start.append(len(socket.row_ids()))

    gc.callbacks.append(watch)
    try:
        await pg_ledgers.ingest(FULL, KEPT + 1, KEPT + 1, subscribed.pubsub)
        expected = pg_ledgers.ids(FULL, KEPT + 1, KEPT + 1)
        await until(lambda: collector.collections == 1)
    finally:
        gc.callbacks.remove(watch)
    # The one full collection of the ledger's dispatch began with every row of it already written.
    assert written_at_start == [len(expected)]
    assert socket.row_ids() == expected
    await hub.close()
    assert not collector.holding and gc.get_threshold() == thresholds


async def test_no_full_collection_before_min_seconds_since_the_last(
    pg_ledgers: Ledgers, thresholds: tuple[int, int, int]
) -> None:
    async with subscribed(pg_ledgers, 3600.0) as sub:
        await until(lambda: sub.hub.parked_subscribers == 1)
        make_due(thresholds[2])
        before = gc.get_stats()[2]["collections"]
        await pg_ledgers.ingest(FULL, KEPT + 1, KEPT + 1, sub.pubsub)
        expected = pg_ledgers.ids(FULL, KEPT + 1, KEPT + 1)
        await until(lambda: len(sub.socket.row_ids()) >= len(expected))
        await asyncio.sleep(QUIET_SECONDS * 4)
        assert sub.collector.collections == 0
        # Nor did CPython start one itself, though its count says due: the threshold is held.
        assert gc.get_stats()[2]["collections"] == before
