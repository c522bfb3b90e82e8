"""Running ranges of ledgers through the engine: read from a source, process (in a process pool when asked),
write in batches. Used by the `obsrvr-flow ingest` command and by the ingestion jobs."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import multiprocessing
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass

from core.errors import FlowError
from ingest.collector import tune_for_ingestion
from ingest.engine import IngestEngine, LedgerResult, process_ledger

log = logging.getLogger(__name__)

ProgressCallback = Callable[[int, int], Awaitable[None]]  # (ledger just written, ledgers written so far)


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


def _ready() -> None:
    # Unpickling this function in a worker imports this module, hence the engine, processors and stellar-sdk.
    time.sleep(0.05)  # long enough for every process of the pool to take one call


async def warm_pool(executor: Executor, processes: int) -> None:
    """Start the pool's processes and import what `process_ledger` needs in each (spawning and importing take
    about a second per process), so that the first ledgers do not wait for it."""
    loop = asyncio.get_running_loop()
    await asyncio.gather(*(loop.run_in_executor(executor, _ready) for _ in range(processes)))


def _log_write_failure(task: asyncio.Task[None]) -> None:
    # A background write can fail while the reading side fails too (a gap, a timeout): only one exception is
    # raised, so the write's own is logged here, where it happens, and is never lost.
    if not task.cancelled() and task.exception() is not None:
        log.error("writing a batch failed", exc_info=task.exception())


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
    worker's) or `processes > 1` (a pool made for this call) they run in other processes, and this coroutine
    only reads, writes and keeps order, so the event loop stays free. The ledgers must be consecutive: a gap is
    an error, never a checkpoint moved past missing ledgers.
    """
    owned = executor is None and processes > 1
    if owned:
        executor = new_pool(processes)
    workers = processes if owned else getattr(executor, "_max_workers", 2)
    loop = asyncio.get_running_loop()
    work = functools.partial(
        process_ledger, passphrase=engine.passphrase, plans=list(engine.plans), decoder=engine.decoder
    )
    pending: list[asyncio.Future[LedgerResult]] = []
    batch: list[LedgerResult] = []
    first: int | None = None
    last: int | None = None
    expected = 0
    done = 0
    # With a pool, a batch is written by a task while this coroutine goes on collecting results and feeding the
    # pool, so writing overlaps decoding. One write at a time, in order: a batch is handed over only once the
    # previous one has committed. In one process decoding blocks the loop anyway, so writes stay inline.
    writing: asyncio.Task[None] | None = None

    async def write(chunk: list[LedgerResult]) -> None:
        nonlocal done, last
        await engine.write_batch(chunk, checkpoint)
        done += len(chunk)
        last = chunk[-1].sequence
        if progress is not None:
            await progress(last, done)

    async def flush() -> None:
        nonlocal writing
        if writing is not None:
            task, writing = writing, None
            await task
        if not batch:
            return
        chunk = batch[:]
        batch.clear()
        if executor is None:
            await write(chunk)
        else:
            writing = asyncio.create_task(write(chunk))
            writing.add_done_callback(_log_write_failure)

    try:
        async for sequence, raw in ledgers:
            if first is not None and sequence != expected:
                raise LedgerGap(
                    f"ledger {expected} is missing from the source (next was {sequence})", code="ledger_gap"
                )
            first = sequence if first is None else first
            expected = sequence + 1
            if executor is None:
                batch.append(work(raw))
            else:
                pending.append(loop.run_in_executor(executor, work, raw))
                # Keep the pool busy but bounded: at most two results per process waiting.
                while len(pending) >= 2 * workers:
                    batch.append(await pending.pop(0))
                    if len(batch) >= batch_size:
                        await flush()
                continue
            if len(batch) >= batch_size:
                await flush()
        for future in pending:
            batch.append(await future)
            if len(batch) >= batch_size:
                await flush()
        pending.clear()
        await flush()
        await flush()  # the last batch handed to a writer task
    except asyncio.CancelledError:
        if writing is not None:
            writing.cancel()
            with contextlib.suppress(BaseException):  # its own failure, if any, is logged by the callback
                await writing
        raise
    except BaseException:
        # A batch already handed over is written, as it would have been before the failure without overlap.
        if writing is not None:
            with contextlib.suppress(Exception):  # logged by the callback; the first failure is raised
                await writing
        raise
    finally:
        for future in pending:
            future.cancel()
        if owned and executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)
    return RangeReport(first, last, done)
