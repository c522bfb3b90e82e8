"""The background writer of `ingest_stream` (with a decoding pool): a write that fails is logged where it
fails, so it is never lost behind another exception of the reading side (here a gap), and no checkpoint moves
past unwritten ledgers; the whole ledgers before a gap are written before the gap is raised."""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import logging
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from sqlalchemy.exc import DBAPIError

from core.settings import Network
from core.tenant_config import parse_tenant_config
from ingest.engine import (
    CommittedBatch,
    IngestEngine,
    Overlap,
    PreviousBatchFailed,
    plan_tenants,
    process_ledger,
)
from ingest.stream import LedgerGap, ingest_stream
from processors.registry import default_registry
from storage.checkpoints import Checkpoints
from storage.db import create_engine
from storage.tenants import TenantStore
from tests.api.helpers import execute, sql

FIRST = 63092982
DOCUMENT = {
    "customer": {
        "id": "writer-w",
        "name": "writer-w",
        "network": "pubnet",
        "processors": [{"type": "TokenTransferProcessor", "config": {}}],
    }
}


def _with_gap(shared_ledgers: Path) -> list[tuple[int, bytes]]:
    return [
        (seq, gzip.decompress((shared_ledgers / "wallet-backend" / f"ledger-{seq}.xdr.gz").read_bytes()))
        for seq in (*range(FIRST, FIRST + 6), FIRST + 7)  # FIRST + 6 is missing: a gap
    ]


async def _source(items: list[tuple[int, bytes]]) -> AsyncIterator[tuple[int, bytes]]:
    for item in items:
        yield item


def _refuse_checkpoints(url: str, condition: str) -> None:
    """A trigger refusing every checkpoint write where `condition` (on NEW) holds: a batch failing at its end."""
    execute(
        url,
        "CREATE FUNCTION refuse_checkpoint() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        f"IF {condition} THEN RAISE EXCEPTION 'refused checkpoint %', NEW.ledger; END IF; RETURN NEW; END $$",
    )
    execute(
        url,
        "CREATE TRIGGER refuse_checkpoint BEFORE INSERT OR UPDATE ON checkpoints "
        "FOR EACH ROW EXECUTE FUNCTION refuse_checkpoint()",
    )


@contextlib.asynccontextmanager
async def _tenant_ingest(url: str, document: dict[str, Any] = DOCUMENT) -> AsyncIterator[IngestEngine]:
    """An `IngestEngine` for `document`'s tenant, created in the database at `url`; its engine disposed after."""
    engine = create_engine(url)
    try:
        config = parse_tenant_config(document, default_registry().catalogue())
        await TenantStore(engine).create("writer-w", "writer-w", "pubnet", config.to_document())
        plans = plan_tenants([config], default_registry().catalogue(), Network.pubnet)
        yield IngestEngine(engine, Network.pubnet, plans=plans)
    finally:
        await engine.dispose()


def test_a_failed_background_write_is_logged_when_the_reader_fails_too(
    migrated_pg: str, shared_ledgers: Path, caplog: pytest.LogCaptureFixture
) -> None:
    raws = _with_gap(shared_ledgers)

    async def run() -> None:
        async with _tenant_ingest(migrated_pg) as ingest:
            engine = ingest.engine
            async with engine.begin() as conn:  # the writes will fail: their table is gone
                await conn.exec_driver_sql("DROP TABLE token_transfers CASCADE")

            async def ledgers() -> AsyncIterator[tuple[int, bytes]]:
                for item in raws:
                    yield item
                    await asyncio.sleep(0.2)  # let the writer of the first batch start (and fail)

            with ThreadPoolExecutor(2) as pool:
                # Which surfaces first, the write's failure or the gap, depends on timing; either way the
                # write's failure is in the log.
                with pytest.raises((LedgerGap, DBAPIError)):
                    await ingest_stream(ledgers(), ingest, checkpoint="w", batch_size=1, executor=pool)
            assert await Checkpoints(engine).get("w") is None  # nothing was written, nothing claimed

    with caplog.at_level(logging.ERROR, logger="ingest.stream"):
        asyncio.run(run())
    failures = [r for r in caplog.records if r.getMessage() == "writing a batch failed"]
    assert failures and failures[0].exc_info is not None
    assert "token_transfers" in str(failures[0].exc_info[1])
    assert sql(migrated_pg, "SELECT count(*) FROM checkpoints WHERE name = 'w'") == [(0,)]


def test_the_ledgers_before_a_gap_are_written_then_the_gap_is_raised(
    migrated_pg: str, shared_ledgers: Path
) -> None:
    """A batch larger than what comes before the gap: its six whole ledgers are committed (the checkpoint says
    so), then `LedgerGap` is raised; nothing decoded is thrown away."""

    async def run() -> int | None:
        async with _tenant_ingest(migrated_pg) as ingest:
            with pytest.raises(LedgerGap, match=f"ledger {FIRST + 6} is missing"):
                await ingest_stream(
                    _source(_with_gap(shared_ledgers)), ingest, checkpoint="gap", batch_size=50
                )
            return await Checkpoints(ingest.engine).get("gap")

    assert asyncio.run(run()) == FIRST + 5


# Tables left empty here: TTL moves (cleared at the end of their batch), the custom tokens' registry and
# archived sums (no token configured, nothing archived). Every other table holds rows to compare.
_EMPTY_HERE = {"contract_data_ttl_updates", "token_balances_tokens", "token_balances_archived"}


NOT_A_LEDGER = b"\x00\x00\x00\x01 not a ledger"  # bytes neither decoder can read


def _every_processor() -> dict[str, Any]:
    """The tenant document of `DOCUMENT`'s tenant with every processor of the service."""
    processors = [{"type": p.type_name, "config": {}} for p in default_registry().catalogue().values()]
    return {"customer": {**DOCUMENT["customer"], "processors": processors}}


def _consecutive(shared_ledgers: Path, count: int) -> list[tuple[int, bytes]]:
    return [
        (seq, gzip.decompress((shared_ledgers / "wallet-backend" / f"ledger-{seq}.xdr.gz").read_bytes()))
        for seq in range(FIRST, FIRST + count)
    ]


def test_a_failed_batch_rolls_back_the_one_written_beside_it_and_is_the_error_raised(
    migrated_pg: str, shared_ledgers: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Two batches are written at once on PostgreSQL: batch 2 (ledgers FIRST+2, +3) fails at its checkpoint while
    batch 3 is written beside it. Batch 3 must roll back (its ledgers would follow a gap), the stream raises batch
    2's error, logged once, and the checkpoint and the rows stop at batch 1."""
    failing = FIRST + 3
    _refuse_checkpoints(migrated_pg, f"NEW.ledger = {failing}")
    started: list[int] = []

    async def run() -> int | None:
        async with _tenant_ingest(migrated_pg) as ingest:
            write_batch = ingest.write_batch
            third_started = asyncio.Event()

            async def observed(results, checkpoint=None, overlap=None):  # type: ignore[no-untyped-def]
                started.append(results[0].sequence)
                if results[0].sequence == FIRST + 2:
                    # Batch 2 writes only once batch 3 has started beside it: on a slow machine batch 2 could
                    # otherwise fail before batch 3's ledgers are even decoded (then nothing is written beside it).
                    await asyncio.wait_for(third_started.wait(), timeout=60)
                if results[0].sequence == FIRST + 4:
                    # Written beside batch 2, not after it.
                    assert overlap.previous_commit is not None and not overlap.previous_commit.done()
                    third_started.set()
                return await write_batch(results, checkpoint, overlap)

            ingest.write_batch = observed  # type: ignore[method-assign]
            with pytest.raises(DBAPIError, match=f"refused checkpoint {failing}"):
                await ingest_stream(
                    _source(_consecutive(shared_ledgers, 8)), ingest, checkpoint="pair", batch_size=2
                )
            return await Checkpoints(ingest.engine).get("pair")

    with caplog.at_level(logging.ERROR, logger="ingest.stream"):
        assert asyncio.run(run()) == FIRST + 1
    assert FIRST + 4 in started  # the batch beside the failing one did start
    failures = [r for r in caplog.records if r.getMessage() == "writing a batch failed"]
    assert len(failures) == 1 and "refused checkpoint" in str(failures[0].exc_info[1])  # type: ignore[index]
    stored = sql(migrated_pg, "SELECT min(ledger_sequence), max(ledger_sequence) FROM token_transfers")
    assert stored == [(FIRST, FIRST + 1)]


def test_overlapped_batches_store_what_one_batch_stores_and_report_progress_in_order(
    migrated_pg: str, migrated_pg_2: str, shared_ledgers: Path
) -> None:
    """Every processor, ten ledgers in batches of one (ten transactions, two at a time, each consecutive pair
    sharing accounts, balances and candles) against the same ledgers in one batch: the same rows in every table,
    and `progress` called once per batch in ledger order."""
    document = _every_processor()
    raws = _consecutive(shared_ledgers, 10)

    async def ingest_into(url: str, batch_size: int) -> list[int]:
        seen: list[int] = []

        async def progress(ledger: int, done: int) -> None:
            seen.append(ledger)

        async with _tenant_ingest(url, document) as ingest:
            await ingest_stream(
                _source(raws), ingest, checkpoint="c", batch_size=batch_size, progress=progress
            )
        return seen

    assert asyncio.run(ingest_into(migrated_pg, 1)) == [seq for seq, _ in raws]
    assert asyncio.run(ingest_into(migrated_pg_2, 10)) == [raws[-1][0]]
    for table in sorted({t.name for p in default_registry().catalogue().values() for t in p.tables}):
        query = f"SELECT * FROM {table}"
        rows = sorted(map(repr, sql(migrated_pg, query)))
        assert rows == sorted(map(repr, sql(migrated_pg_2, query))), table
        assert bool(rows) != (table in _EMPTY_HERE), table


def test_cancelled_with_two_batches_in_flight_leaves_nothing_past_the_checkpoint(
    migrated_pg: str, shared_ledgers: Path
) -> None:
    """A live tail handing over cancels its stream: the batches being written roll back, none is left running,
    and no row of a ledger past the checkpoint stays stored."""

    async def run() -> tuple[int | None, int]:
        async with _tenant_ingest(migrated_pg) as ingest:
            write_batch = ingest.write_batch
            second = asyncio.Event()

            async def observed(results, checkpoint=None, overlap=None):  # type: ignore[no-untyped-def]
                if results[0].sequence == FIRST + 1:
                    second.set()
                return await write_batch(results, checkpoint, overlap)

            ingest.write_batch = observed  # type: ignore[method-assign]
            stream: asyncio.Task[object] | None = None

            async def progress(ledger: int, done: int) -> None:
                assert stream is not None
                await asyncio.wait_for(second.wait(), 30)  # the next batch is being written beside this one
                stream.cancel()

            stream = asyncio.ensure_future(
                ingest_stream(
                    _source(_consecutive(shared_ledgers, 8)),
                    ingest,
                    checkpoint="tail",
                    batch_size=1,
                    progress=progress,
                )
            )
            with pytest.raises(asyncio.CancelledError):
                await stream
            others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            return await Checkpoints(ingest.engine).get("tail"), len(others)

    checkpoint, running = asyncio.run(run())
    assert running == 0
    assert checkpoint is not None and checkpoint >= FIRST
    (stored,) = sql(migrated_pg, "SELECT max(ledger_sequence) FROM token_transfers")
    assert stored[0] <= checkpoint


def test_a_failed_write_is_raised_while_the_source_has_no_next_ledger(
    migrated_pg: str, shared_ledgers: Path
) -> None:
    """A live tail at the tip: its ledger's write fails while the network's next ledger is not there yet. The
    stream raises the failure then, not when (if ever) the next ledger comes."""
    _refuse_checkpoints(migrated_pg, "true")

    async def run() -> None:
        async with _tenant_ingest(migrated_pg) as ingest:

            async def ledgers() -> AsyncIterator[tuple[int, bytes]]:
                yield _consecutive(shared_ledgers, 1)[0]
                await asyncio.Event().wait()  # no next ledger

            with pytest.raises(DBAPIError, match=f"refused checkpoint {FIRST}"):
                # Not a timing assertion: without the failure surfacing, this would wait forever.
                await asyncio.wait_for(
                    ingest_stream(ledgers(), ingest, checkpoint="tip", batch_size=1), timeout=60
                )

    asyncio.run(run())


def test_a_batch_creating_partitions_waits_for_the_previous_commit_first(
    migrated_pg: str, shared_ledgers: Path
) -> None:
    """Creating a month's partition locks its parent table while the previous batch's transaction holds locks
    on those tables (and may write one of them): the DDL waits for that commit, and a previous batch that
    failed stops it before any DDL."""
    count = "SELECT count(*) FROM pg_inherits WHERE inhparent = 'token_transfers'::regclass"
    before = sql(migrated_pg, count)

    async def run() -> None:
        async with _tenant_ingest(migrated_pg) as ingest:
            (raw,) = (item for _, item in _consecutive(shared_ledgers, 1))
            result = process_ledger(raw, passphrase=ingest.passphrase, plans=list(ingest.plans))
            loop = asyncio.get_running_loop()

            failed: asyncio.Future[None] = loop.create_future()
            failed.cancel()  # the previous batch did not commit
            with pytest.raises(PreviousBatchFailed):
                await ingest.write_batch(
                    [result], "p", Overlap(loop.create_future(), loop.create_future(), failed)
                )
            assert await asyncio.to_thread(sql, migrated_pg, count) == before

            previous: asyncio.Future[None] = loop.create_future()
            writing = asyncio.ensure_future(
                ingest.write_batch(
                    [result], "p", Overlap(loop.create_future(), loop.create_future(), previous)
                )
            )
            await asyncio.sleep(0.3)
            assert not writing.done()
            assert await asyncio.to_thread(sql, migrated_pg, count) == before  # no DDL yet
            previous.set_result(None)
            await asyncio.wait_for(writing, 30)
            assert await asyncio.to_thread(sql, migrated_pg, count) != before

    asyncio.run(run())


def test_a_ledger_that_cannot_be_decoded_keeps_the_batches_being_written(
    migrated_pg: str, shared_ledgers: Path
) -> None:
    """The seventh ledger's bytes are not a ledger: the six before it, in batches of two still being written
    when the decoding fails, are committed (as when batches were written one at a time), then the error is
    raised."""
    raws = [*_consecutive(shared_ledgers, 6), (FIRST + 6, NOT_A_LEDGER)]

    async def run() -> int | None:
        async with _tenant_ingest(migrated_pg) as ingest:
            with pytest.raises(ValueError):  # stellar-sdk's, after the fast decoder's fallback
                await ingest_stream(_source(raws), ingest, checkpoint="bad", batch_size=2)
            return await Checkpoints(ingest.engine).get("bad")

    assert asyncio.run(run()) == FIRST + 5


def test_a_slow_commit_hook_holds_back_the_next_hooks_not_the_next_commit(
    migrated_pg: str, shared_ledgers: Path
) -> None:
    """Publishing the first batch is slow (a slow Redis): the second batch commits meanwhile (it does not idle in
    its transaction, holding its locks), but its hooks and `progress` run only after the first's, in order."""
    published: list[int] = []
    counted: list[int] = []
    release = asyncio.Event()

    async def run() -> int | None:
        async with _tenant_ingest(migrated_pg) as base:

            async def hook(batch: CommittedBatch) -> None:
                if batch.first_ledger == FIRST:
                    await release.wait()
                published.append(batch.first_ledger)

            ingest = IngestEngine(base.engine, base.network, hooks=[hook], plans=base.plans)
            write_batch = ingest.write_batch
            second: asyncio.Future[Overlap] = asyncio.get_running_loop().create_future()

            async def observed(results, checkpoint=None, overlap=None):  # type: ignore[no-untyped-def]
                if results[0].sequence == FIRST + 1:
                    second.set_result(overlap)
                return await write_batch(results, checkpoint, overlap)

            ingest.write_batch = observed  # type: ignore[method-assign]

            async def progress(ledger: int, done: int) -> None:
                counted.append(ledger)

            stream = asyncio.ensure_future(
                ingest_stream(
                    _source(_consecutive(shared_ledgers, 3)),
                    ingest,
                    checkpoint="hooks",
                    batch_size=1,
                    progress=progress,
                )
            )
            checkpoints = Checkpoints(ingest.engine)
            overlap = await asyncio.wait_for(second, 60)
            await asyncio.wait_for(asyncio.shield(overlap.commit), 60)  # the second batch committed
            assert await checkpoints.get("hooks") == FIRST + 1
            assert published == [] and counted == []  # while the first batch's hook still runs
            release.set()
            await asyncio.wait_for(stream, 60)
            return await checkpoints.get("hooks")

    assert asyncio.run(run()) == FIRST + 2
    assert published == [FIRST, FIRST + 1, FIRST + 2]
    assert counted == [FIRST, FIRST + 1, FIRST + 2]


def test_partitions_are_created_one_table_at_a_time(migrated_pg: str, shared_ledgers: Path) -> None:
    """A batch needing a new month's partitions waits for a table another transaction writes (here
    `token_transfers`, as a batch of another stream would) without holding the exclusive lock of any table it
    created a partition of before (here `dex_closed_candles`, which that other stream's previous batch may
    still have to write): holding it would close a cycle PostgreSQL cannot see, through the Python wait between
    a stream's two batches."""
    document = _every_processor()
    admin = migrated_pg.replace("postgresql+asyncpg://", "postgresql://")
    waiting = (
        "SELECT count(*) FROM pg_locks WHERE NOT granted AND relation = 'token_transfers'::regclass "
        "AND mode = 'AccessExclusiveLock'"
    )

    async def run() -> None:
        async with _tenant_ingest(migrated_pg, document) as ingest:
            (raw,) = (item for _, item in _consecutive(shared_ledgers, 1))
            result = process_ledger(raw, passphrase=ingest.passphrase, plans=list(ingest.plans))
            other_stream, probe = await asyncpg.connect(admin), await asyncpg.connect(admin)
            try:
                holding = other_stream.transaction()
                await holding.start()
                await other_stream.execute("LOCK TABLE token_transfers IN ROW EXCLUSIVE MODE")
                writing = asyncio.ensure_future(ingest.write_batch([result], "parts"))
                for _ in range(600):  # until its partition of token_transfers waits for the other transaction
                    if await probe.fetchval(waiting):
                        break
                    await asyncio.sleep(0.05)
                assert await probe.fetchval(waiting) == 1 and not writing.done()
                # Not held by the waiting batch: the other stream can write it.
                async with probe.transaction():
                    await probe.execute("LOCK TABLE dex_closed_candles IN ROW EXCLUSIVE MODE NOWAIT")
                await holding.rollback()
                await asyncio.wait_for(writing, 60)
            finally:
                await other_stream.close()
                await probe.close()

    asyncio.run(run())


def test_cancelled_while_waiting_for_the_batches_in_flight_after_a_failure_still_cleans_up(
    migrated_pg: str, shared_ledgers: Path
) -> None:
    """A ledger that cannot be decoded ends the stream, which waits for the batches in flight (one still
    publishing, slowly); the stream is cancelled during that wait (a job's timeout): its reading task still
    ends, nothing of it is left pending."""
    raws = [*_consecutive(shared_ledgers, 2), (FIRST + 2, NOT_A_LEDGER)]
    release = asyncio.Event()
    publishing = asyncio.Event()

    async def run() -> list[str]:
        async with _tenant_ingest(migrated_pg) as base:

            async def hook(batch: CommittedBatch) -> None:
                publishing.set()
                await release.wait()

            ingest = IngestEngine(base.engine, base.network, hooks=[hook], plans=base.plans)

            async def endless() -> AsyncIterator[tuple[int, bytes]]:
                for item in raws:
                    yield item
                await asyncio.Event().wait()  # the network's next ledger is not there yet

            try:
                stream = asyncio.ensure_future(ingest_stream(endless(), ingest, checkpoint="c", batch_size=1))
                await asyncio.wait_for(publishing.wait(), 60)
                await asyncio.sleep(
                    0.3
                )  # the third ledger's decoding has failed: the stream waits for the writes
                assert not stream.done()
                stream.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await stream
                return [
                    t.get_coro().__qualname__  # type: ignore[union-attr]
                    for t in asyncio.all_tasks()
                    if "ingest_stream" in t.get_coro().__qualname__  # type: ignore[union-attr]
                ]
            finally:
                release.set()
                await asyncio.sleep(0.1)  # the committed batch's hooks end

    assert asyncio.run(run()) == []
