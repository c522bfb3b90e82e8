"""`SubscriptionHub` over real stores and pub/sub: catch-up then live with no gap and no duplicate, replicas,
tenants, repairs, consumers falling behind and matching once per distinct filter. Live rows come from a real
`IngestEngine` commit through the real publisher hook."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from core.errors import BadRequest
from processors.token_transfers.query import TRANSFERS
from services.subscriptions import SubscriptionHub
from services.subscriptions.after import end_of_ledger
from storage.cold.archival import ArchiveCut, archive_table
from storage.cold.reader import ColdReader
from storage.cold.store import ColdStore
from storage.db import create_engine
from storage.pubsub import MemoryPubSub, RedisPubSub
from storage.query import Query
from storage.router import QueryRouter
from tests.mainnet_data import FIRST, FULL, LAST, PARTIAL
from tests.services.subscriptions.conftest import KEPT, Ledgers, take, transfer_filters, until


@pytest.mark.parametrize("buffer", [100_000, 1_000], ids=["buffered", "buffer-overflows"])
async def test_catch_up_from_the_1000th_transfer_then_live_while_ingest_commits(
    ledgers: Ledgers, buffer: int
) -> None:
    """From the id of the 1,000th stored transfer: rows 1,001... then every later one exactly once, in order,
    while batches commit between catch-up pages (10 rows a page) and after the switch to live. With the smaller
    buffer the batches (~2,500 rows) overflow the catch-up buffer, which the catch-up makes up from the store."""
    pubsub = MemoryPubSub(max_pending=100_000)
    hub = SubscriptionHub(
        pubsub,
        ledgers.router,
        ledgers.settings(subscription_catchup_page_rows=10, subscription_send_buffer_messages=buffer),
    )
    expected = ledgers.all_ids[FULL][1000:]
    thousandth = ledgers.all_ids[FULL][999]
    during_catch_up = {15: (KEPT + 1, KEPT + 5), 35: (KEPT + 6, KEPT + 10), 60: (KEPT + 11, KEPT + 15)}
    got: list[str] = []
    try:
        async with hub.stream(FULL, "pubnet", TRANSFERS, (), thousandth) as rows:
            through_catch_up = len(ledgers.ids(FULL, 0, KEPT + 15)) - 1000
            while len(got) < through_catch_up:
                got += await take(rows, 1)
                if len(got) in during_catch_up:
                    assert hub.live_subscribers == 0  # still reading pages from the store
                    await ledgers.ingest(FULL, *during_catch_up[len(got)], pubsub)
            # The last page was short (7,672 rows, 10 a page): committed now, these rows reach the stream through
            # its buffer.
            assert hub.live_subscribers == 0
            await ledgers.ingest(FULL, KEPT + 16, KEPT + 17, pubsub)
            got += await take(rows, len(ledgers.ids(FULL, 0, KEPT + 17)) - 1000 - len(got))
            pending = asyncio.ensure_future(take(rows, 1))
            await until(lambda: hub.live_subscribers == 1)
            await ledgers.ingest(FULL, KEPT + 18, LAST, pubsub)  # live
            got += await pending
            got += await take(rows, len(expected) - len(got))
        assert got == expected
        assert hub.subscribers == 0
        # Both paths ran: the two ledgers committed after the last page came from the buffer (955 rows, under
        # both limits), and the five-ledger batches (~2,500 rows) overflowed the smaller buffer.
        assert hub.rows_from_buffer == len(ledgers.ids(FULL, KEPT + 16, KEPT + 17))
        assert (hub.buffer_discards > 0) == (buffer == 1_000)
    finally:
        await hub.close()


async def test_catch_up_reads_archived_rows_from_the_cold_tier_then_hot_then_live(
    pg_ledgers: Ledgers, tmp_path: Path
) -> None:
    """`after:` an id older than the archive watermark: the catch-up reads through the router, so the archived
    rows come from the cold tier (Parquet, their hot copies deleted), then the hot ones, then live rows, each
    once and in order."""
    store = ColdStore.open(str(tmp_path / "cold"))
    archived = await archive_table(
        pg_ledgers.engine,
        store,
        tenant_id=FULL,
        processor=TRANSFERS.processor,
        table=TRANSFERS.table,
        cut=ArchiveCut(before_ledger=KEPT),
    )
    assert archived.deleted == len(pg_ledgers.ids(FULL, FIRST, FIRST)) > 1  # only cold has them now
    cold = ColdReader(store, pg_ledgers.engine)
    cold_reads: list[str] = []
    router = QueryRouter(pg_ledgers.engine, cold=cold, on_cold_read=cold_reads.append, latest_ledger_ttl=0)
    pubsub = MemoryPubSub(max_pending=100_000)
    hub = SubscriptionHub(pubsub, router, pg_ledgers.settings(subscription_catchup_page_rows=100))
    stored = pg_ledgers.ids(FULL, FIRST, KEPT)
    try:
        async with hub.stream(FULL, "pubnet", TRANSFERS, (), stored[0]) as rows:
            assert await take(rows, len(stored) - 1) == stored[1:]
            assert cold_reads
            pending = asyncio.ensure_future(take(rows, 1))  # the pull that reads the last (short) page
            await until(lambda: hub.live_subscribers == 1)
            await pg_ledgers.ingest(FULL, KEPT + 1, KEPT + 1, pubsub)
            live = pg_ledgers.ids(FULL, KEPT + 1, KEPT + 1)
            assert await pending + await take(rows, len(live) - 1) == live
    finally:
        await hub.close()
        await cold.close()
        await store.close()


async def test_two_replicas_on_redis_serve_their_own_subscribers_and_other_tenants_get_nothing(
    pg_ledgers: Ledgers, redis_client: Any, redis_prefix: str
) -> None:
    def replica_pubsub() -> RedisPubSub:
        return RedisPubSub(redis_client, redis_prefix + "pubsub:", poll_seconds=0.05)

    settings = pg_ledgers.settings(subscription_send_buffer_messages=100_000)
    one, two, ingest_side = replica_pubsub(), replica_pubsub(), replica_pubsub()
    hub_one, hub_two = (
        SubscriptionHub(one, pg_ledgers.router, settings),
        SubscriptionHub(two, pg_ledgers.router, settings),
    )
    mints = transfer_filters(event_types=["mint"])
    try:
        async with (
            hub_one.stream(FULL, "pubnet", TRANSFERS, (), None) as everything,
            hub_two.stream(FULL, "pubnet", TRANSFERS, mints, "now") as minted,
            hub_two.stream(PARTIAL, "pubnet", TRANSFERS, (), None) as other_tenant,
        ):
            await pg_ledgers.ingest(FULL, KEPT + 1, KEPT + 3, ingest_side)
            assert await take(everything, len(pg_ledgers.ids(FULL, KEPT + 1, KEPT + 3))) == pg_ledgers.ids(
                FULL, KEPT + 1, KEPT + 3
            )
            expected_mints = [
                row["id"]
                for row in (
                    await pg_ledgers.router.fetch(
                        Query(FULL, TRANSFERS.table, mints, after=end_of_ledger(KEPT), limit=200)
                    )
                ).rows
            ]
            assert 0 < len(expected_mints) < 200
            assert await take(minted, len(expected_mints)) == expected_mints
            # The other tenant's first rows are its own, committed after everything above: had any row of the
            # full tenant reached it, that row (an earlier ledger) would have come first.
            await pg_ledgers.ingest(PARTIAL, LAST, LAST, ingest_side)
            own = pg_ledgers.ids(PARTIAL, LAST, LAST)
            assert await take(other_tenant, len(own)) == own
    finally:
        await hub_one.close()
        await hub_two.close()
        for pubsub in (one, two, ingest_side):
            await pubsub.close()


async def test_resync_brings_rows_whose_message_never_came(ledgers: Ledgers) -> None:
    pubsub = MemoryPubSub()
    hub = SubscriptionHub(pubsub, ledgers.router, ledgers.settings())
    try:
        async with hub.stream(FULL, "pubnet", TRANSFERS, (), "now") as rows:
            await ledgers.ingest(FULL, KEPT + 1, KEPT + 1, None)  # an ingest process without pub/sub
            reads = hub.repair_reads
            assert await hub.resync() == 1
            assert hub.repair_reads > reads
            assert await take(rows, len(ledgers.ids(FULL, KEPT + 1, KEPT + 1))) == ledgers.ids(
                FULL, KEPT + 1, KEPT + 1
            )
            # A lost message followed by one that arrives: the gap is repaired before the new rows are handed.
            await ledgers.ingest(FULL, KEPT + 2, KEPT + 2, None)
            await ledgers.ingest(FULL, KEPT + 3, KEPT + 3, pubsub)
            expected = ledgers.ids(FULL, KEPT + 2, KEPT + 3)
            assert await take(rows, len(expected)) == expected
            assert await hub.resync() == 0  # nothing moved since
    finally:
        await hub.close()


async def test_a_consumer_that_fell_behind_goes_back_to_catching_up_and_loses_nothing(
    pg_ledgers: Ledgers,
) -> None:
    """Rows past the live queue's bound (10) while the consumer does not take any: the hub does not end the
    stream; it drops the queue and reads on from the last row taken, then is live again."""
    pubsub = MemoryPubSub()
    hub = SubscriptionHub(
        pubsub, pg_ledgers.router, pg_ledgers.settings(subscription_send_buffer_messages=10)
    )
    mints = transfer_filters(event_types=["mint"])
    try:
        async with hub.stream(FULL, "pubnet", TRANSFERS, mints, None) as rows:
            await pg_ledgers.ingest(FULL, KEPT + 1, KEPT + 1, pubsub)
            await until(lambda: hub.subscribers == 1)
            taken = await take(rows, 2)  # ledger KEPT+1 has 2 mints: the queue holds them
            await pg_ledgers.ingest(FULL, KEPT + 2, KEPT + 4, pubsub)  # 17 more: past the 10 allowed
            assert hub.fallbacks == 0  # counted when the consumer next asks
            taken += await take(rows, 17)
            assert hub.fallbacks == 1
            pending = asyncio.ensure_future(take(rows, 1))
            await until(lambda: hub.live_subscribers == 1)  # live again
            await pg_ledgers.ingest(FULL, KEPT + 5, KEPT + 9, pubsub)
            taken += await pending
        query = Query(FULL, TRANSFERS.table, mints, after=end_of_ledger(KEPT), limit=200)
        expected = [row["id"] for row in (await pg_ledgers.router.fetch(query)).rows]
        assert len(taken) == 20 and taken == expected[:20]
    finally:
        await hub.close()


async def test_one_message_with_more_rows_than_the_bound_reaches_a_reading_consumer_whole(
    pg_ledgers: Ledgers,
) -> None:
    """One published batch (five mainnet ledgers of one tenant's transfers, hundreds of rows) against a live
    queue of 10: a consumer that reads gets every row once, in order, and stays subscribed."""
    pubsub = MemoryPubSub()
    hub = SubscriptionHub(
        pubsub, pg_ledgers.router, pg_ledgers.settings(subscription_send_buffer_messages=10)
    )
    big = pg_ledgers.ids(FULL, KEPT + 1, KEPT + 5)
    after = pg_ledgers.ids(FULL, KEPT + 6, KEPT + 6)
    assert len(big) > 100 and after
    try:
        async with hub.stream(FULL, "pubnet", TRANSFERS, (), None) as rows:
            pending = asyncio.ensure_future(take(rows, len(big)))
            await until(lambda: hub.live_subscribers == 1)
            await pg_ledgers.ingest(FULL, KEPT + 1, KEPT + 5, pubsub)  # one message
            assert await pending == big
            assert hub.fallbacks == 1
            pending = asyncio.ensure_future(take(rows, len(after)))
            await until(lambda: hub.live_subscribers == 1)
            await pg_ledgers.ingest(FULL, KEPT + 6, KEPT + 6, pubsub)
            assert await pending == after
            assert hub.subscribers == 1
    finally:
        await hub.close()


async def test_matching_runs_once_per_distinct_filter(pg_ledgers: Ledgers) -> None:
    pubsub = MemoryPubSub()
    hub = SubscriptionHub(
        pubsub, pg_ledgers.router, pg_ledgers.settings(subscription_send_buffer_messages=100_000)
    )
    kinds = {
        "mints": transfer_filters(event_types=["mint"]),
        "fees": transfer_filters(event_types=["fee"]),
        "all": (),
    }
    members = {"mints": 5, "fees": 3, "all": 2}
    streams = []
    try:
        async with AsyncExitStack() as stack:
            for kind, count in members.items():
                for _ in range(count):
                    streams.append(
                        (
                            kind,
                            await stack.enter_async_context(
                                hub.stream(FULL, "pubnet", TRANSFERS, kinds[kind], None)
                            ),
                        )
                    )
            before = hub.match_runs
            await pg_ledgers.ingest(FULL, KEPT + 1, KEPT + 2, pubsub)
            for kind, rows in streams:
                expected = (
                    (
                        await pg_ledgers.router.fetch(
                            Query(FULL, TRANSFERS.table, kinds[kind], after=end_of_ledger(KEPT), limit=200)
                        )
                    ).rows
                    if kind != "all"
                    else None
                )
                ids = (
                    [r["id"] for r in expected]
                    if expected is not None
                    else pg_ledgers.ids(FULL, KEPT + 1, KEPT + 2)
                )
                assert await take(rows, len(ids)) == ids
            assert hub.match_runs - before == len(kinds)  # one message, three distinct filters
    finally:
        await hub.close()


async def test_a_message_is_matched_on_its_wire_form_and_only_the_matched_rows_are_decoded(
    pg_ledgers: Ledgers,
) -> None:
    pubsub = MemoryPubSub()
    hub = SubscriptionHub(
        pubsub, pg_ledgers.router, pg_ledgers.settings(subscription_send_buffer_messages=100_000)
    )
    mints = transfer_filters(event_types=["mint"])
    try:
        async with AsyncExitStack() as stack:
            first = await stack.enter_async_context(hub.stream(FULL, "pubnet", TRANSFERS, mints, None))
            second = await stack.enter_async_context(hub.stream(FULL, "pubnet", TRANSFERS, mints, None))
            await pg_ledgers.ingest(FULL, KEPT + 1, KEPT + 2, pubsub)
            stored = await pg_ledgers.router.fetch(
                Query(FULL, TRANSFERS.table, mints, after=end_of_ledger(KEPT), limit=200)
            )
            everything = pg_ledgers.ids(FULL, KEPT + 1, KEPT + 2)
            assert stored.rows and len(stored.rows) < len(everything)  # the filter keeps some, not all
            for rows in (first, second):  # whole rows, exactly as the router returns them
                assert [await anext(rows) for _ in stored.rows] == stored.rows
            assert hub.rows_decoded == len(stored.rows)
    finally:
        await hub.close()


async def test_bad_after_is_refused_naming_it(pg_ledgers: Ledgers) -> None:
    hub = SubscriptionHub(MemoryPubSub(), pg_ledgers.router, pg_ledgers.settings())
    mints = transfer_filters(event_types=["mint"])
    other_cursor = Query(FULL, TRANSFERS.table, ()).cursor_for({"id": pg_ledgers.all_ids[FULL][5]})
    try:
        for bad, code in (
            ("yesterday", "invalid_parameter"),
            ("0270982380196462591-99999999990", "invalid_parameter"),
            ("\x00", "invalid_parameter"),
            (other_cursor, "cursor_filters_mismatch"),
        ):
            with pytest.raises(BadRequest) as refused:
                async with hub.stream(FULL, "pubnet", TRANSFERS, mints, bad):
                    pass
            assert refused.value.code == code
            assert refused.value.details["parameter"] == "after"
        assert hub.subscribers == 0
        # The same listing's cursor with the same filter resumes like the row id inside it.
        cursor = Query(FULL, TRANSFERS.table, mints).cursor_for({"id": pg_ledgers.all_ids[FULL][5]})
        async with hub.stream(FULL, "pubnet", TRANSFERS, mints, cursor) as rows:
            first = await take(rows, 1)
        expected = await pg_ledgers.router.fetch(
            Query(FULL, TRANSFERS.table, mints, after=pg_ledgers.all_ids[FULL][5], limit=1)
        )
        assert first == [expected.rows[0]["id"]]
    finally:
        await hub.close()


async def test_without_a_working_pub_sub_the_periodic_resync_serves_the_rows(ledgers: Ledgers) -> None:
    """Pub/sub refusing subscriptions (here: closed) leaves the stores: the hub's own resync loop brings the
    rows of an ingest, in order and once."""
    broken = MemoryPubSub()
    await broken.close()
    hub = SubscriptionHub(broken, ledgers.router, ledgers.settings(subscription_resync_seconds=0.05))
    try:
        async with hub.stream(FULL, "pubnet", TRANSFERS, (), "now") as rows:
            await ledgers.ingest(FULL, KEPT + 1, KEPT + 2, None)
            expected = ledgers.ids(FULL, KEPT + 1, KEPT + 2)
            assert await take(rows, len(expected)) == expected
            await ledgers.ingest(FULL, KEPT + 3, KEPT + 3, None)
            expected = ledgers.ids(FULL, KEPT + 3, KEPT + 3)
            assert await take(rows, len(expected)) == expected
    finally:
        await hub.close()


async def test_leaving_while_another_task_waits_for_a_row_ends_that_wait(pg_ledgers: Ledgers) -> None:
    hub = SubscriptionHub(MemoryPubSub(), pg_ledgers.router, pg_ledgers.settings())
    try:
        async with hub.stream(FULL, "pubnet", TRANSFERS, (), None) as rows:
            waiting = asyncio.ensure_future(anext(rows))
            await until(lambda: hub.live_subscribers == 1)
            await asyncio.sleep(0)
        assert hub.subscribers == 0
        with pytest.raises(StopAsyncIteration):
            async with asyncio.timeout(30):
                await waiting
    finally:
        await hub.close()


async def test_a_join_that_fails_or_is_cancelled_leaves_no_channel(pg_ledgers: Ledgers) -> None:
    # The database gone while a stream joins (the latest ledger cannot be read), then a database that never
    # answers and the join cancelled (the client went away): neither leaves a channel listened on for nobody.
    down = QueryRouter(create_engine(pg_ledgers.url + "_gone"), latest_ledger_ttl=0)
    hub = SubscriptionHub(MemoryPubSub(), down, pg_ledgers.settings())
    try:
        with pytest.raises(Exception, match="gone"):
            async with hub.stream(FULL, "pubnet", TRANSFERS, (), None):
                pass
        assert hub.channels == 0 and hub.subscribers == 0
    finally:
        await hub.close()

    async def accept_and_say_nothing(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # until the client hangs up

    silent = await asyncio.start_server(accept_and_say_nothing, "127.0.0.1", 0)
    port = silent.sockets[0].getsockname()[1]
    hanging = QueryRouter(create_engine(f"postgresql+asyncpg://root@127.0.0.1:{port}/x"), latest_ledger_ttl=0)
    hub = SubscriptionHub(MemoryPubSub(), hanging, pg_ledgers.settings())
    try:

        async def join() -> None:
            async with hub.stream(FULL, "pubnet", TRANSFERS, (), None):
                pass

        joining = asyncio.ensure_future(join())
        await until(lambda: hub.channels == 1)
        await asyncio.sleep(0.2)  # waiting for the silent database
        assert not joining.done() and hub.subscribers == 0
        joining.cancel()
        with pytest.raises(asyncio.CancelledError):
            await joining
        assert hub.channels == 0
    finally:
        await hub.close()
        silent.close()


async def test_a_member_joining_as_the_last_one_leaves_keeps_the_channel(pg_ledgers: Ledgers) -> None:
    # The second stream finds the channel, then waits for the latest ledger (a database read) while the first
    # stream, the channel's only member, leaves: the channel must stay for the second one, which gets live rows.
    pubsub = MemoryPubSub()
    hub = SubscriptionHub(pubsub, pg_ledgers.router, pg_ledgers.settings())
    try:
        first = hub.stream(FULL, "pubnet", TRANSFERS, (), None)
        await first.__aenter__()
        second = hub.stream(FULL, "pubnet", TRANSFERS, (), None)
        entering = asyncio.ensure_future(second.__aenter__())
        await asyncio.sleep(0)  # the second join runs until its database read
        await first.__aexit__(None, None, None)
        rows = await entering
        try:
            assert hub.channels == 1 and hub.subscribers == 1
            await pg_ledgers.ingest(FULL, KEPT + 1, KEPT + 1, pubsub)
            expected = pg_ledgers.ids(FULL, KEPT + 1, KEPT + 1)
            async with asyncio.timeout(30):
                assert await take(rows, len(expected)) == expected
        finally:
            await second.__aexit__(None, None, None)
        assert hub.channels == 0
    finally:
        await hub.close()


async def test_a_join_still_reading_the_latest_ledger_when_the_hub_closes_ends(pg_ledgers: Ledgers) -> None:
    # Shutting down while a stream joins: its read of the latest ledger (held here behind a lock on the
    # checkpoints) answers after `close`. The stream must fail then, not attach to a channel nobody listens on
    # any more and wait for rows forever.
    hub = SubscriptionHub(MemoryPubSub(), pg_ledgers.router, pg_ledgers.settings())
    blocker = await asyncpg.connect(pg_ledgers.url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        lock = blocker.transaction()
        await lock.start()
        await blocker.execute("LOCK TABLE checkpoints IN ACCESS EXCLUSIVE MODE")

        async def join() -> None:
            async with hub.stream(FULL, "pubnet", TRANSFERS, (), None) as rows:
                await anext(rows)

        joining = asyncio.ensure_future(join())
        await until(lambda: hub.channels == 1)
        await asyncio.sleep(0.2)  # the join waits for the latest ledger
        assert not joining.done()
        await hub.close()
        await lock.rollback()
        async with asyncio.timeout(30):
            with pytest.raises(RuntimeError, match="closed"):
                await joining
    finally:
        await blocker.close()
        await hub.close()
