"""Ingestion throughput on the 20 mainnet ledgers 63092982-63093001 (ledgers per second).

Prints, in one run:
- stellar-sdk decode alone (`LedgerCloseMeta.from_xdr_bytes`, the collector as Python leaves it): the baseline;
- the fast decoder alone (`LedgerView.from_xdr(raw, passphrase, decoder="fast")` then `ledgers.view.touch_all`),
  or a line saying it is not available in this checkout; then the same in a fresh process whose collector is set
  up as an ingestion process's (`ingest.collector`), each ledger decoded with the collector paused as
  `ingest.engine.process_ledger` decodes it: how `obsrvr-flow ingest` and the workers run it;
- extraction alone (`ingest.engine.process_ledger`: decode, every processor's extract, the tenant's select; no
  database) in one process, then in a pool of 2 processes: how far the decoding side scales where PostgreSQL does
  not share the cores;
- the whole pipeline (read, decode, every processor that extracts, per-tenant select, write to PostgreSQL with
  checkpoints) in one process, and with a pool of 2 processes, each with the peak memory (ru_maxrss) of an
  ingestion process: the one process, or the largest pool process (the parent, which only writes, beside it);
and the cores the whole machine kept busy during the run (PostgreSQL and anything else included, from /proc/stat),
and each figure as a ratio of the baseline, then two processes over one. Each pipeline run happens in a fresh
spawned process, so that its peak memory is its own and not the corpus or the decode runs of this script; that
process tunes its collector as `obsrvr-flow ingest` does (`ingest.collector`; `--untuned-gc` adds a run without, to
show what the tuning gives). The pool is started (its processes spawned and the pipeline imported in each) before
the clock starts, as a worker keeps one pool for all its jobs; that start-up time is printed beside the figure.
Measurements run in rounds (each once per round, best kept): the machine is shared. The database is a fresh
PostgreSQL database created and dropped by the script (OBSRVR_BENCH_PG_ADMIN_URL, default
postgresql://root@127.0.0.1:5432/postgres). The pipeline's figure is its steady state, as a worker's next job runs:
the 20 ledgers are ingested once into the new database (that first pass creates the month's partitions, prepares the
statements and the sessions' staging tables; its rate is printed beside the figure), the tables are emptied, and the
same ledgers are ingested again and timed.

With `--profile`, instead: the one-process pipeline once under cProfile (the event loop's thread and the
decoding thread both), printed as self time by kind (decoding and the view, processors, write path, waiting for
PostgreSQL ...) and the top functions outside the decoder: what docs/decisions.md's profiles come from.

    .venv/bin/python bench/ingest.py [--repeat 2] [--untuned-gc] [--profile]
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, bench/ comes first on sys.path and bench/processors.py would shadow the `processors` package.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse  # noqa: E402
import asyncio  # noqa: E402
import contextlib  # noqa: E402
import cProfile  # noqa: E402
import functools  # noqa: E402
import gzip  # noqa: E402
import inspect  # noqa: E402
import multiprocessing  # noqa: E402
import os  # noqa: E402
import pstats  # noqa: E402
import resource  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from collections import Counter  # noqa: E402
from collections.abc import AsyncIterator, Callable  # noqa: E402
from concurrent.futures import ProcessPoolExecutor  # noqa: E402
from typing import Any  # noqa: E402

import asyncpg  # noqa: E402
from sqlalchemy import Table, func, select, text  # noqa: E402
from sqlalchemy.ext.asyncio import AsyncEngine  # noqa: E402
from stellar_sdk import xdr  # noqa: E402

from core.settings import NETWORK_PASSPHRASES, Network  # noqa: E402
from core.tenant_config import TenantConfig, parse_tenant_config  # noqa: E402
from ingest.collector import tune_for_ingestion  # noqa: E402
from ingest.engine import IngestEngine, plan_tenants, process_ledger  # noqa: E402
from ingest.stream import ingest_stream, new_pool, warm_pool  # noqa: E402
from ledgers import view as view_module  # noqa: E402
from ledgers.model import gc_paused  # noqa: E402
from ledgers.view import LedgerView  # noqa: E402
from processors.registry import default_registry  # noqa: E402
from storage import migrate  # noqa: E402
from storage.db import create_engine  # noqa: E402
from storage.tenants import TenantStore  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
LEDGERS = ROOT.parent / "shared" / "ledgers" / "wallet-backend"
SEQUENCES = range(63092982, 63093002)
ADMIN_URL = os.environ.get("OBSRVR_BENCH_PG_ADMIN_URL", "postgresql://root@127.0.0.1:5432/postgres")


def load() -> list[tuple[int, bytes]]:
    return [(seq, gzip.decompress((LEDGERS / f"ledger-{seq}.xdr.gz").read_bytes())) for seq in SEQUENCES]


def decode_rate(raws: list[tuple[int, bytes]]) -> tuple[float, float]:
    """Ledgers per second and CPU milliseconds per ledger."""
    started, cpu = time.perf_counter(), time.process_time()
    for _, raw in raws:
        xdr.LedgerCloseMeta.from_xdr_bytes(raw)
    return len(raws) / (time.perf_counter() - started), (time.process_time() - cpu) * 1000 / len(raws)


def fast_decode_rate(
    raws: list[tuple[int, bytes]],
    pause: Callable[[], contextlib.AbstractContextManager[object]] = contextlib.nullcontext,
) -> float | str:
    """The fast decoder alone, each ledger inside `pause()`, or why it cannot be measured in this checkout."""
    touch_all = getattr(view_module, "touch_all", None)
    if touch_all is None or "decoder" not in inspect.signature(LedgerView.from_xdr).parameters:
        return "fast decoder not available (no ledgers.view.touch_all or no decoder= argument to from_xdr)"
    passphrase = NETWORK_PASSPHRASES[Network.pubnet]
    started = time.perf_counter()
    for _, raw in raws:
        with pause():
            touch_all(LedgerView.from_xdr(raw, passphrase, decoder="fast"))  # type: ignore[call-arg]
    return len(raws) / (time.perf_counter() - started)


def tuned_fast_decode_rate() -> float | str:
    """The fast decoder alone in a fresh process whose collector is set up as an ingestion process's is
    (`ingest.collector.tune_for_ingestion`: what `obsrvr-flow ingest`, a worker and a decoding pool's processes
    run with), each ledger decoded with the collector paused as `ingest.engine.process_ledger` decodes it
    (`ledgers.model.gc_paused`; without it each lazy part of the view pauses the collector for itself, ~13% of
    the decoding). Fresh, so that freezing its heap changes nothing for this script's other measurements."""
    raws = load()
    tune_for_ingestion()
    return fast_decode_rate(raws, gc_paused)


def tuned_fast_decode_in_fresh_process() -> float | str:
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as runner:
        return runner.submit(tuned_fast_decode_rate).result()


def _machine_busy_seconds() -> float | None:
    """CPU-seconds every core of the machine spent busy since boot (everything: this script, the pool, PostgreSQL
    and whatever else runs), from /proc/stat; None where it cannot be read (not Linux)."""
    try:
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()
    except OSError:
        return None
    ticks = [int(value) for value in fields[1:]]
    idle = ticks[3] + ticks[4]  # idle and iowait
    return (sum(ticks[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def _max_rss_mb(who: int) -> float:
    return resource.getrusage(who).ru_maxrss / 1024  # kilobytes on Linux


def pipeline_run(
    processes: int, tune_gc: bool
) -> tuple[float, float, int, float, float, float, float, float | None]:
    """One pipeline measurement in this (fresh) process: rate, the first pass's rate, rows, pool start-up, this
    process's peak RSS and the largest peak RSS of its pool processes (MB), this process's CPU ms per ledger, the
    cores the whole machine kept busy meanwhile (None where unknown).
    With `tune_gc` this process sets its collector up as `obsrvr-flow ingest` and a worker do
    (`ingest.collector`); pool processes always do (their initializer)."""
    raws = load()
    if tune_gc:
        tune_for_ingestion()
    rate, first, rows, startup, cpu, busy = asyncio.run(pipeline_rate(raws, processes))
    rss, pool_rss = _max_rss_mb(resource.RUSAGE_SELF), _max_rss_mb(resource.RUSAGE_CHILDREN)
    return rate, first, rows, startup, rss, pool_rss, cpu, busy


def pipeline_in_fresh_process(
    processes: int, tune_gc: bool
) -> tuple[float, float, int, float, float, float, float, float | None]:
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as runner:
        return runner.submit(pipeline_run, processes, tune_gc).result()


def _processor_tables() -> list[Table]:
    return [t for p in default_registry().catalogue().values() for t in p.tables]


async def _empty(engine: AsyncEngine) -> None:
    """Every processor's table and the ingestion bookkeeping emptied (partitions and sessions stay)."""
    names = [t.name for t in _processor_tables()] + ["checkpoints", "ingest_totals", "ingested_ranges"]
    async with engine.begin() as conn:
        await conn.execute(text(f"TRUNCATE {', '.join(names)}"))


def _bench_tenant() -> TenantConfig:
    """One tenant with every processor, default configs."""
    document = {
        "customer": {
            "id": "bench",
            "name": "bench",
            "network": "pubnet",
            "processors": [
                {"type": p.type_name, "config": {}} for p in default_registry().catalogue().values()
            ],
        }
    }
    return parse_tenant_config(document, default_registry().catalogue())


def extraction_run(processes: int) -> float:
    """Ledgers per second of `ingest.engine.process_ledger` alone (decode, every processor's extract, the tenant's
    select; no database), in this fresh process tuned as ingestion is: in this process (as the one-process
    pipeline's decoding thread runs it), or in a pool of `processes` started beforehand, this process receiving
    the results in order (unpickled, as the pipeline's writer receives them). What the pool scales to when the
    database does not share the machine's cores."""
    raws = load()
    tune_for_ingestion()
    plans = plan_tenants([_bench_tenant()], default_registry().catalogue(), Network.pubnet)
    work = functools.partial(process_ledger, passphrase=NETWORK_PASSPHRASES[Network.pubnet], plans=plans)
    if processes == 1:
        started = time.perf_counter()
        for _, raw in raws:
            work(raw)
        return len(raws) / (time.perf_counter() - started)
    pool = new_pool(processes)
    try:
        asyncio.run(warm_pool(pool, processes))
        started = time.perf_counter()
        for _ in pool.map(work, [raw for _, raw in raws], chunksize=1):
            pass
        return len(raws) / (time.perf_counter() - started)
    finally:
        pool.shutdown(wait=True)


def extraction_in_fresh_process(processes: int) -> float:
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as runner:
        return runner.submit(extraction_run, processes).result()


async def pipeline_rate(
    raws: list[tuple[int, bytes]], processes: int, warm: bool = True
) -> tuple[float, float, int, float, float, float | None]:
    """(rate, rate of the first pass or 0.0 without `warm`, rows, pool start-up s, CPU ms per ledger, cores the
    machine kept busy during the timed pass or None)."""
    name = f"obsrvr_bench_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(ADMIN_URL)
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1) + f"/{name}"
    engine = create_engine(url)
    try:
        await migrate.upgrade(engine)
        config = _bench_tenant()
        await TenantStore(engine).create("bench", "bench", "pubnet", config.to_document())
        plans = plan_tenants([config], default_registry().catalogue(), Network.pubnet)

        async def stream() -> AsyncIterator[tuple[int, bytes]]:
            for item in raws:
                yield item

        pool = new_pool(processes) if processes > 1 else None
        first = 0.0
        try:
            started = time.perf_counter()
            if pool is not None:
                await warm_pool(pool, processes)
            startup = time.perf_counter() - started
            if warm:
                # The first pass into the new database: partitions created, statements prepared and compiled,
                # staging tables made on the pooled connections. Then the same ledgers again into empty tables,
                # by a new IngestEngine on the same connection pool: what a worker's next job sees.
                started = time.perf_counter()
                await ingest_stream(
                    stream(), IngestEngine(engine, Network.pubnet, plans=plans), executor=pool
                )
                first = len(raws) / (time.perf_counter() - started)
                await _empty(engine)
            started, cpu, machine = time.perf_counter(), time.process_time(), _machine_busy_seconds()
            await ingest_stream(stream(), IngestEngine(engine, Network.pubnet, plans=plans), executor=pool)
            elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
            after = _machine_busy_seconds()
            busy = (after - machine) / elapsed if after is not None and machine is not None else None
        finally:
            if pool is not None:
                pool.shutdown(wait=True)
        rows = 0
        async with engine.connect() as conn:
            for table in _processor_tables():
                rows += int((await conn.execute(select(func.count()).select_from(table))).scalar_one())
        return len(raws) / elapsed, first, rows, startup, cpu * 1000 / len(raws), busy
    finally:
        await engine.dispose()
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


# Self time by kind, first match wins: (kind, substrings of the function's file or name).
_IDLE = "idle: waiting (PostgreSQL, the decoding thread, new work)"
_KINDS = (
    ("decode and view (ledgers/, stellar-sdk)", ("/ledgers/", "stellar_sdk", "xdrlib3", "enum.py", "Struct")),
    (_IDLE, ("poll' of 'select.epoll", "get' of '_queue.SimpleQueue", "acquire' of '_thread.lock")),
    ("processors (extract, select, after_write)", ("/processors/", "/core/ids")),
    ("ingest/ (engine, stream)", ("/ingest/",)),
    ("write path: storage/", ("/storage/",)),
    ("write path: asyncpg, SQLAlchemy, asyncio", ("asyncpg", "sqlalchemy", "asyncio")),
    ("json", ("json",)),
)


def _kind(file: str, name: str) -> str:
    where = f"{file}:{name}"
    return next((kind for kind, marks in _KINDS if any(m in where for m in marks)), "other builtins")


def profile(raws: list[tuple[int, bytes]], top: int = 25) -> None:
    """The one-process pipeline under cProfile, every thread, summarised (see the module docstring)."""
    tune_for_ingestion()
    asyncio.run(
        pipeline_rate(raws[:2], 1, warm=False)
    )  # imports, plans and the database's first connections: not profiled
    threads: list[cProfile.Profile] = []

    def in_new_thread(*_: Any) -> None:  # the decoding thread's first event: profile it from there on
        sys.setprofile(None)
        threads.append(cProfile.Profile())
        threads[-1].enable()

    threading.setprofile(in_new_thread)
    main = cProfile.Profile()
    main.enable()
    rate, *_ = asyncio.run(pipeline_rate(raws, 1, warm=False))
    main.disable()
    threading.setprofile(None)
    stats: Any = pstats.Stats(main, *threads).stats  # type: ignore[attr-defined]
    kinds: Counter[str] = Counter()
    functions: Counter[str] = Counter()
    for (file, line, name), entry in stats.items():
        kind = _kind(file, name)
        kinds[kind] += entry[2]
        if not kind.startswith(("decode", "idle")):
            functions[f"{file.replace(str(ROOT) + '/', '')}:{line}({name})"] += entry[2]
    # Shares of the busy time (both threads' self time, idle waits left out): what each kind costs in CPU.
    busy = sum(kinds.values()) - kinds[_IDLE]
    print(f"profiled one-process pipeline: {rate:.2f} ledgers/s under cProfile; busy self time {busy:.1f} s")
    for kind, seconds in kinds.most_common():
        share = "" if kind == _IDLE else f"{100 * seconds / busy:5.1f}%"
        print(f"  {kind:<62} {seconds:7.2f} s  {share}")
    print("top functions outside decoding and idle waits (self time, share of busy time):")
    for function, seconds in functions.most_common(top):
        print(f"  {seconds:6.2f} s  {100 * seconds / busy:5.1f}%  {function}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--repeat", type=int, default=2, help="rounds of measurements; the best of each is printed"
    )
    parser.add_argument(
        "--untuned-gc",
        action="store_true",
        help="also run the one-process pipeline with the collector as Python starts (no ingest.collector)",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="instead, the one-process pipeline once under cProfile, summarised by kind of cost",
    )
    args = parser.parse_args()
    if not LEDGERS.is_dir():
        raise SystemExit(f"the ledger corpus is not at {LEDGERS}")
    raws = load()
    if args.profile:
        profile(raws)
        return
    extracting = [
        p.name
        for p in default_registry().catalogue().values()
        if p.extract is not None or p.after_write is not None
    ]
    print(
        f"{len(raws)} ledgers, {sum(len(r) for _, r in raws) / 1e6:.1f} MB of XDR; processors: {', '.join(extracting)}"
    )
    # The machine is shared: every measurement runs once per round, rounds one after the other, and the best of
    # each is kept, so that a burst of load from elsewhere does not fall on one figure only (the baseline too).
    runs = [(1, True), (2, True)] + ([(1, False)] if args.untuned_gc else [])
    baseline = 0.0
    baseline_cpu = float("inf")
    fast: float | str = 0.0
    tuned: float | str = 0.0
    extraction: dict[int, float] = {}
    pipelines: dict[tuple[int, bool], tuple[float, float, int, float, float, float, float, float | None]] = {}
    for _ in range(args.repeat):
        rate_, cpu_ = decode_rate(raws)
        baseline, baseline_cpu = max(baseline, rate_), min(baseline_cpu, cpu_)
        rate = fast_decode_rate(raws)
        fast = rate if isinstance(rate, str) else max(rate, fast if isinstance(fast, float) else 0.0)
        rate = tuned_fast_decode_in_fresh_process()
        tuned = rate if isinstance(rate, str) else max(rate, tuned if isinstance(tuned, float) else 0.0)
        for processes in (1, 2):
            extraction[processes] = max(
                extraction.get(processes, 0.0), extraction_in_fresh_process(processes)
            )
        for run in runs:
            measured = pipeline_in_fresh_process(*run)
            if run not in pipelines or measured[0] > pipelines[run][0]:
                pipelines[run] = measured
    print(
        f"stellar-sdk decode alone        {baseline:6.2f} ledgers/s   1.00x   (CPU {baseline_cpu:.0f} ms/ledger)"
    )
    if isinstance(fast, str):
        print(f"fast decode alone               {fast}")
    else:
        print(f"fast decode alone               {fast:6.2f} ledgers/s   {fast / baseline:.2f}x")
    if isinstance(tuned, float):
        ratio = tuned / baseline
        print(
            f"fast decode alone, gc tuned     {tuned:6.2f} ledgers/s   {ratio:.2f}x   (as ingestion runs it)"
        )
    for processes, rate in extraction.items():
        label = f"extraction, {processes} process{'es' if processes > 1 else ''}"
        print(
            f"{label:<31} {rate:6.2f} ledgers/s   {rate / baseline:.2f}x   (decode, extract, select; no database)"
        )
    for (processes, tune_gc), (best, first, rows, startup, rss, pool_rss, cpu, busy) in pipelines.items():
        label = f"pipeline, {processes} process{'es' if processes > 1 else ''}"
        label += "" if tune_gc else ", gc untuned"
        extra = f"; first pass into the new database {first:.2f} ledgers/s {first / baseline:.2f}x"
        if processes > 1:
            cold = len(raws) / (len(raws) / best + startup)
            extra += f"; pool start-up {startup:.1f} s not timed, with it {cold:.2f} ledgers/s {cold / baseline:.2f}x"
            memory = f"peak RSS {pool_rss:.0f} MB per pool process, parent {rss:.0f} MB; parent CPU {cpu:.0f} ms/ledger"
        else:
            # CPU of the ingesting process only (PostgreSQL's is its own): what a ledger costs this process,
            # as a fraction of what the stellar-sdk decode alone costs; steadier than rates on a loaded machine.
            memory = f"peak RSS {rss:.0f} MB; CPU {cpu:.0f} ms/ledger = {cpu / baseline_cpu:.2f} sdk decodes"
        if busy is not None:
            # How much of the machine the run kept busy (PostgreSQL included): with every core busy, more
            # processes cannot go faster, only less CPU a ledger can.
            memory += f"; machine busy {busy:.2f} of {os.cpu_count()} cores"
        print(f"{label:<31} {best:6.2f} ledgers/s   {best / baseline:.2f}x   ({rows} rows{extra}; {memory})")
    one = pipelines[(1, True)][0]
    print(f"two processes / one process     {pipelines[(2, True)][0] / one:.2f}x")
    print(f"  extraction alone                {extraction[2] / extraction[1]:.2f}x")


if __name__ == "__main__":
    main()
