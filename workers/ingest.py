"""Running ranges of ledgers through the engine: read from a source, process (in a process pool when asked),
write in batches. Used by the `obsrvr-flow ingest` command and by the ingestion jobs."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass

from workers.engine import IngestEngine, LedgerResult, process_ledger

ProgressCallback = Callable[[int, int], Awaitable[None]]  # (ledger just written, ledgers written so far)


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
    progress: ProgressCallback | None = None,
) -> RangeReport:
    """Ingest every ledger `ledgers` yields, in order, `batch_size` ledgers per transaction.

    With `processes > 1`, decoding and extraction run in a process pool (they are CPU-bound and pure); the
    parent only reads, writes and keeps order.
    """
    executor: Executor | None = ProcessPoolExecutor(processes) if processes > 1 else None
    loop = asyncio.get_running_loop()
    work = functools.partial(process_ledger, passphrase=engine.passphrase, plans=list(engine.plans))
    pending: list[asyncio.Future[LedgerResult]] = []
    batch: list[LedgerResult] = []
    first: int | None = None
    last: int | None = None
    done = 0

    async def flush() -> None:
        nonlocal done, last
        if not batch:
            return
        await engine.write_batch(batch, checkpoint)
        done += len(batch)
        last = batch[-1].sequence
        if progress is not None:
            await progress(last, done)
        batch.clear()

    try:
        async for sequence, raw in ledgers:
            first = sequence if first is None else first
            if executor is None:
                batch.append(work(raw))
            else:
                pending.append(loop.run_in_executor(executor, work, raw))
                # Keep the pool busy but bounded: at most two results per process waiting.
                while len(pending) >= 2 * processes:
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
    finally:
        for future in pending:
            future.cancel()
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)
    return RangeReport(first, last, done)
