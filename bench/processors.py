"""Extraction time of each processor per ledger, next to stellar-sdk's decode time, on the 20 mainnet ledgers.

Usage: ``.venv/bin/python bench/processors.py [corpus folder] [--repeat N] [--processor NAME ...]``
(default: every registered processor that has an extractor).

Per ledger, the best of N runs of:
- ``decode``: ``LedgerCloseMeta.from_xdr_bytes`` with the cyclic GC paused (as `LedgerView.from_xdr` does);
- ``cold``: the processor's `extract` on a fresh `LedgerView`, so it includes the view's lazy conversion of
  the transactions, operations and events it reads (paid once per ledger, shared by every processor);
- ``warm``: `extract` again on the same view: the processor's own work, minus what the view caches (its
  conversions, and each Soroban value's XDR encoding);
- ``select``: the tenant filter with a default config (``config_model()``) on the extracted rows.

Before each timed extraction the collector is run once, untimed: `LedgerView.from_xdr` pauses it during the
decode, and the first collections after that traverse the whole decoded ledger (~1M objects, measured ~0.3-0.6 s
per mainnet ledger on 2 cores). That cost belongs to the decode, not to whichever processor allocates first;
it is printed apart (``gc after decode``). The aim (issue 4) is extraction at most 10% of decode time.

Also printed apart: ``entry changes``, the view's conversion of every ledger entry change
(`LedgerView.ledger_changes_in_order` on a fresh view). State processors (account and token balances, contract
data) pay it in ``cold``, once per ledger for all of them. Their ``warm`` reuses what is cached on the view,
including the balance walk the two balance processors share (`processors.account_balances.states`).
"""

from __future__ import annotations

import argparse
import gc
import gzip
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from stellar_sdk import xdr  # noqa: E402

from ledgers.corpus import PUBNET  # noqa: E402
from ledgers.model import gc_paused  # noqa: E402
from ledgers.view import LedgerView  # noqa: E402
from processors.base import Processor  # noqa: E402
from processors.dex_volume.volume import (  # noqa: E402
    INTERVAL_SECONDS,
    build_candles,
    pair_trade,
    touched_buckets,
)
from processors.registry import default_registry  # noqa: E402

DEFAULT_CORPUS = ROOT.parent / "shared" / "ledgers"
LEDGERS = range(63092982, 63093002)


@dataclass
class Timing:
    rows: int
    cold: float
    warm: float
    select: float


def best(repeat: int, run: Callable[[], object]) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def decode_time(raw: bytes, repeat: int) -> float:
    def decode() -> None:
        with gc_paused():
            xdr.LedgerCloseMeta.from_xdr_bytes(raw)

    return best(repeat, decode)


def fresh_view(raw: bytes) -> tuple[LedgerView, float]:
    """A view with nothing converted yet, and the time of the collection the decode left behind."""
    view = LedgerView.from_xdr(raw, PUBNET)
    start = time.perf_counter()
    gc.collect()
    return view, time.perf_counter() - start


def entry_changes_time(raw: bytes, repeat: int) -> float:
    """The view's conversion of every entry change of a fresh view (shared by the state processors)."""
    times = []
    for _ in range(repeat):
        view, _collected = fresh_view(raw)
        with gc_paused():
            start = time.perf_counter()
            for _change in view.ledger_changes_in_order():
                pass
            times.append(time.perf_counter() - start)
    return min(times)


def time_processor(processor: Processor, raw: bytes, repeat: int) -> tuple[Timing, float]:
    """Cold, warm and select times of one processor on one ledger, and the decode's collection time."""
    assert processor.extract is not None
    extract = processor.extract
    cold: list[float] = []
    gc_s: list[float] = []
    while True:
        view, collected = fresh_view(raw)
        gc_s.append(collected)
        start = time.perf_counter()
        rows = extract(view)
        cold.append(time.perf_counter() - start)
        if len(cold) == repeat:
            break
    warm = best(repeat, lambda: extract(view))
    config = processor.config_model()
    selected = best(repeat, lambda: processor.select(rows, config) if processor.select else rows)
    count = sum(len(table_rows) for table_rows in rows.values())
    return Timing(count, min(cold), warm, selected), min(gc_s)


def candle_time(raw: bytes, repeat: int) -> tuple[int, float]:
    """The DEXVolumeProcessor's pure part on one ledger's trades: touched buckets (every interval) and their
    candles built from those trades (`after_write` also reads and writes candles: database costs, not here)."""
    processor = next(p for p in default_registry().processors if p.name == "dex_trades")
    assert processor.extract is not None
    trades = processor.extract(LedgerView.from_xdr(raw, PUBNET))["dex_trades"]
    intervals = list(INTERVAL_SECONDS)

    def run() -> None:
        batch = [pair_trade(t) for t in trades]
        build_candles(batch, touched_buckets(batch, intervals))

    return len(trades), best(repeat, run)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("corpus", nargs="?", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--repeat", type=int, default=3, choices=range(1, 100), metavar="N")
    parser.add_argument("--processor", action="append", metavar="NAME", help="processor name (repeatable)")
    args = parser.parse_args()
    folder = args.corpus / "wallet-backend"
    if not folder.is_dir():
        sys.exit(f"corpus not found at {args.corpus}")
    chosen = [p for p in default_registry().processors if p.extract is not None]
    if args.processor:
        chosen = [p for p in chosen if p.name in args.processor]
        missing = set(args.processor) - {p.name for p in chosen}
        if missing:
            sys.exit(f"no extractor for: {', '.join(sorted(missing))}")

    decodes: list[float] = []
    conversions: list[float] = []
    collections: list[float] = []
    results: dict[str, list[Timing]] = {p.name: [] for p in chosen}
    candles: list[tuple[int, float]] = []
    header = (
        f"{'ledger':>9} {'processor':<16} {'rows':>5} {'decode ms':>10} {'cold ms':>8} {'warm ms':>8}"
        f" {'select ms':>9} {'cold/dec':>8} {'warm/dec':>8}"
    )
    print(header)
    for sequence in LEDGERS:
        raw = gzip.decompress((folder / f"ledger-{sequence}.xdr.gz").read_bytes())
        decode_s = decode_time(raw, args.repeat)
        decodes.append(decode_s)
        conversions.append(entry_changes_time(raw, args.repeat))
        if "dex_trades" in results:  # derived from these trades, so timed with them
            candles.append(candle_time(raw, args.repeat))
        for processor in chosen:
            timing, collected = time_processor(processor, raw, args.repeat)
            gc.collect()  # the processor's views are gone: do not bill their collection to the next one
            collections.append(collected)
            results[processor.name].append(timing)
            print(
                f"{sequence:>9} {processor.name:<16} {timing.rows:>5} {decode_s * 1e3:>10.1f}"
                f" {timing.cold * 1e3:>8.1f} {timing.warm * 1e3:>8.1f} {timing.select * 1e3:>9.2f}"
                f" {timing.cold / decode_s:>8.1%} {timing.warm / decode_s:>8.1%}"
            )

    decode_sum = sum(decodes)
    print(
        f"\n{len(decodes)} ledgers: decode {decode_sum:.2f} s ({decode_sum / len(decodes) * 1e3:.0f} ms/ledger);"
        f" gc after decode (excluded below) median {statistics.median(collections) * 1e3:.0f} ms/ledger;"
        f" entry changes (view conversion, within cold of state processors)"
        f" {sum(conversions) / len(conversions) * 1e3:.0f} ms/ledger ({sum(conversions) / decode_sum:.1%} of decode)"
    )
    for name, timings in results.items():
        cold = sum(t.cold for t in timings)
        warm = sum(t.warm for t in timings)
        select_s = sum(t.select for t in timings)
        rows = sum(t.rows for t in timings)
        print(
            f"{name}: {rows} rows; extract cold {cold:.3f} s ({cold / decode_sum:.1%} of decode), warm"
            f" {warm:.3f} s ({warm / decode_sum:.1%}); select (default config) {select_s * 1e3:.1f} ms;"
            f" median cold/decode {statistics.median(t.cold / d for t, d in zip(timings, decodes, strict=True)):.1%}"
        )
    if candles:
        candle_s = sum(t for _, t in candles)
        print(
            f"dex_volume (candle math, 4 intervals, no database): {sum(n for n, _ in candles)} trades;"
            f" {candle_s * 1e3:.1f} ms ({candle_s / decode_sum:.2%} of decode)"
        )


if __name__ == "__main__":
    main()
