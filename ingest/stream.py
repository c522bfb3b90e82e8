"""Running ranges of ledgers through the engine: read from a source, process (in a process pool when asked),
write in batches. Used by the `obsrvr-flow ingest` command and by the ingestion jobs."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import functools
import logging
import multiprocessing
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass

from core.errors import FlowError
from ingest.collector import tune_for_ingestion
from ingest.engine import IngestEngine, LedgerResult, Overlap, PreviousBatchFailed, process_ledger

log = logging.getLogger(__name__)

ProgressCallback = Callable[[int, int], Awaitable[None]]  # (ledger just written, ledgers written so far)


_END = object()  # the reader's last item: the source is exhausted
_WRITE_FAILED = object()  # put in the queue of decoded ledgers when a batch's write fails
# Ledgers decoded ahead, beyond the batch being gathered: two per decoding process, or _THREAD_WINDOW with the
# decoding thread of one process. The window also spans a whole batch (`_window`), so that the decoders work on the
# next batch while one is written and committed, instead of stopping after two ledgers and waiting for the write
# (PostgreSQL's share of a batch, ~40 ms of its own CPU per ledger, then overlaps the decoding; issue 16).
_THREAD_WINDOW = 2
# Batches written at once on PostgreSQL (see `ingest_stream`).
_WRITING = 2


class LedgerGap(FlowError):
    status = 502
    expose = True


def new_pool(processes: int) -> ProcessPoolExecutor:
    """A process pool for decoding. Spawned, not forked: the parent runs an event loop and threads, which a
    forked child would inherit in an unusable state. Workers start on first use."""
    return ProcessPoolExecutor(
        processes, mp_context=multiprocessing.get_context("spawn"), initializer=_start_pool_process
    )


def _start_pool_process() -> None:
    # Unpickling this function imported this module, hence the engine, every processor and stellar-sdk: the
    # process's permanent heap, which is frozen here (see ingest.collector).
    tune_for_ingestion()


def _decoding_thread() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(1, thread_name_prefix="obsrvr-decode")


def _ready() -> None:
    # Unpickling this function in a worker imports this module, hence the engine, processors and stellar-sdk.
    time.sleep(0.05)  # long enough for every process of the pool to take one call


async def warm_pool(executor: Executor, processes: int) -> None:
    """Start the pool's processes and import what `process_ledger` needs in each (spawning and importing take
    about a second per process), so that the first ledgers do not wait for it."""
    loop = asyncio.get_running_loop()
    await asyncio.gather(*(loop.run_in_executor(executor, _ready) for _ in range(processes)))


def _window(batch_size: int, pool_processes: int | None, writing: int = 1) -> int:
    """Ledgers that may be decoding or decoded and waiting: a batch per batch being written at once, plus two
    per pool process (or _THREAD_WINDOW for the decoding thread)."""
    ahead = _THREAD_WINDOW if pool_processes is None else 2 * pool_processes
    return batch_size * writing + ahead


@dataclass(frozen=True)
class RangeReport:
    first: int | None
    last: int | None
    ledgers: int


async def ingest_stream(
    ledgers: AsyncIterator[tuple[int, bytes]],
    engine: IngestEngine,
    *,
    checkpoint: str | None = None,
    batch_size: int = 8,
    processes: int = 1,
    executor: Executor | None = None,
    progress: ProgressCallback | None = None,
) -> RangeReport:
    """Ingest every ledger `ledgers` yields, in order, `batch_size` ledgers per transaction.

    Decoding and extraction are CPU-bound and pure: with `executor` (a process pool shared by the caller, e.g. a
    worker's) or `processes > 1` (a pool made for this call) they run in other processes; in one process they
    run in one thread beside the event loop. This coroutine only reads, writes and keeps order, so PostgreSQL
    works on a batch (COPY, the moving statements, derived state) while the next ledgers decode, instead of the
    two taking turns. The ledgers must be consecutive: a gap is an error, never a checkpoint moved past missing
    ledgers.

    A reading task hands each ledger to the decoders as soon as the source yields it (at most a batch plus two
    per decoder in flight, `_window`), and this coroutine takes the results in order and writes each batch as
    soon as it is full, so a ledger at the network's tip (batch size 1) is written as soon as it is decoded, never
    held until the next one arrives.

    On PostgreSQL two batches are written at once, in two transactions: the next batch's history rows go in
    while the previous one writes its derived state and commits, and it commits only after it
    (`IngestEngine.write_batch`'s `overlap`; +7-8% with one process or two, docs/decisions.md "overlap17"). If a
    batch fails, the one after it rolls back and the stream raises the first failure: the checkpoint never
    passes a ledger that is not stored.
    """
    owned = executor is None
    if executor is None:
        executor = new_pool(processes) if processes > 1 else _decoding_thread()
    workers = processes if owned else getattr(executor, "_max_workers", 2)
    loop = asyncio.get_running_loop()
    work = functools.partial(
        process_ledger, passphrase=engine.passphrase, plans=list(engine.plans), decoder=engine.decoder
    )
    # Decoding futures in ledger order (at most `in_flight` of them), then `_END`; an exception of the reader
    # travels as itself, after the ledgers before it.
    decoded: asyncio.Queue[object] = asyncio.Queue()
    # Batches written at once (see above); SQLite has one writer at a time.
    writing = _WRITING if engine.engine.dialect.name == "postgresql" else 1
    # Ledgers handed to the decoders and not yet taken into a batch (see _THREAD_WINDOW).
    in_flight = asyncio.Semaphore(
        _window(batch_size, workers if processes > 1 or not owned else None, writing)
    )
    first: int | None = None

    async def read() -> None:
        nonlocal first
        expected = 0
        try:
            async for sequence, raw in ledgers:
                if first is not None and sequence != expected:
                    raise LedgerGap(
                        f"ledger {expected} is missing from the source (next was {sequence})",
                        code="ledger_gap",
                    )
                first = sequence if first is None else first
                expected = sequence + 1
                await in_flight.acquire()
                decoded.put_nowait(loop.run_in_executor(executor, work, raw))
        except BaseException as exc:
            # Handed to the writing side, which writes the ledgers before it, then raises it. Only this task's own
            # cancellation (the writer is done) ends it quietly: anything else reaching the queue means the writer
            # never waits on a reader that is gone.
            task = asyncio.current_task()
            if isinstance(exc, asyncio.CancelledError) and task is not None and task.cancelling():
                raise
            decoded.put_nowait(exc)
        else:
            decoded.put_nowait(_END)

    reader = asyncio.create_task(read())
    batch: list[LedgerResult] = []
    last: int | None = None
    done = 0

    # The batches being written, oldest first, with their `Overlap`: each waits for the one before it to commit
    # before its own derived state and commit, for its hooks before its own, and for its end before counting
    # itself, so they commit, publish and call `progress` in ledger order (`IngestEngine.write_batch`).
    writes: collections.deque[tuple[asyncio.Task[None], Overlap]] = collections.deque()

    async def write() -> None:
        while len(writes) >= writing:
            await writes.popleft()[0]  # the oldest batch's failure is raised here, first
        chunk = batch[:]
        batch.clear()
        before = writes[-1] if writes else None
        overlap = Overlap(
            loop.create_future(),
            loop.create_future(),
            before[1].commit if before is not None else None,
            before[1].published if before is not None else None,
        )
        task = asyncio.ensure_future(write_chunk(chunk, overlap, before[0] if before is not None else None))
        task.add_done_callback(surface)
        writes.append((task, overlap))

    def surface(task: asyncio.Task[None]) -> None:
        # A failed write wakes the loop below at once, which raises it (`written`): a live tail must not wait for
        # the network's next ledger, which may be long in coming, to learn that its last one was not stored.
        if not task.cancelled() and task.exception() is not None:
            decoded.put_nowait(_WRITE_FAILED)

    async def write_chunk(
        chunk: list[LedgerResult], overlap: Overlap, previous: asyncio.Task[None] | None
    ) -> None:
        nonlocal done, last
        try:
            await engine.write_batch(chunk, checkpoint, overlap)
        except PreviousBatchFailed:
            raise  # the previous batch's failure is the one logged and raised
        except Exception:
            # Logged where it happens: the caller may see another exception first (a cancelled tail).
            log.error("writing a batch failed", exc_info=True)
            raise
        if previous is not None:
            await asyncio.wait([previous])  # its count and `progress` first
        done += len(chunk)
        last = chunk[-1].sequence
        if progress is not None:
            await progress(last, done)

    async def written() -> None:
        while writes:
            await writes.popleft()[0]

    try:
        while True:
            item = await decoded.get()
            if item is _WRITE_FAILED:
                await written()  # raises the first failure
                continue
            if isinstance(item, BaseException):
                if batch:  # the ledgers before the gap or the source's failure are whole: keep them
                    await write()
                await written()
                raise item
            if not isinstance(item, asyncio.Future):  # _END
                break
            batch.append(await item)
            in_flight.release()
            if len(batch) >= batch_size:
                await write()
        if batch:
            await write()
        await written()
    except asyncio.CancelledError:
        # Cancelled (a live tail handing over): the batches still being written roll back; one that had
        # committed stays committed, its checkpoint with it.
        for task, _ in writes:
            task.cancel()
        raise
    finally:
        reader.cancel()
        try:
            # Ended by any other failure (a ledger that could not be decoded, a write that failed): the batches in
            # flight still end as they would have, committed whole if they can, so nothing ingested is lost. (A
            # cancellation arriving meanwhile ends this wait; the cleanup below runs all the same.)
            if writes:
                await asyncio.gather(*(task for task, _ in writes), return_exceptions=True)
        finally:
            with contextlib.suppress(BaseException):  # its failure, if any, was handed over through the queue
                await reader
            while not decoded.empty():
                item = decoded.get_nowait()
                if isinstance(item, asyncio.Future):
                    item.cancel()
            if owned:
                executor.shutdown(wait=False, cancel_futures=True)
    return RangeReport(first, last, done)
