"""Token transfer extraction time per ledger, next to stellar-sdk's decode time, on the 20 mainnet ledgers.

Usage: ``.venv/bin/python bench/token_transfers.py [corpus folder] [--repeat N]``

Per ledger, the best of N runs of:
- ``decode``: ``LedgerCloseMeta.from_xdr_bytes`` with the cyclic GC paused, as `LedgerView.from_xdr` does;
- ``cold``: `extract` on a fresh `LedgerView`: includes the view's lazy conversion of the transactions, their
  events and operations (paid once per ledger, shared with every other processor reading them);
- ``warm``: `extract` again on the same view: the processor's own work;
- ``select``: `select` with a typical tenant config on the extracted rows.
The aim (issue 4) is extraction at most 10% of decode time.
"""

from __future__ import annotations

import argparse
import gc
import gzip
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from stellar_sdk import xdr  # noqa: E402

from ledgers.corpus import PUBNET  # noqa: E402
from ledgers.model import gc_paused  # noqa: E402
from ledgers.view import LedgerView  # noqa: E402
from processors.token_transfers.config import TokenTransferConfig  # noqa: E402
from processors.token_transfers.extract import extract  # noqa: E402
from processors.token_transfers.select import select  # noqa: E402

DEFAULT_CORPUS = ROOT.parent / "shared" / "ledgers"
LEDGERS = range(63092982, 63093002)
CONFIG = TokenTransferConfig(event_types=["transfer", "mint", "burn"], min_amount="10000000")


def best(repeat: int, run: Callable[[], object]) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def bench_ledger(raw: bytes, repeat: int) -> tuple[float, float, float, float, int]:
    def decode() -> None:
        with gc_paused():
            xdr.LedgerCloseMeta.from_xdr_bytes(raw)

    decode_s = best(repeat, decode)
    cold = []
    view = LedgerView.from_xdr(raw, PUBNET)
    for attempt in range(repeat):
        if attempt:
            view = LedgerView.from_xdr(raw, PUBNET)  # a fresh view: nothing converted yet
        start = time.perf_counter()
        rows = extract(view)
        cold.append(time.perf_counter() - start)
    warm_s = best(repeat, lambda: extract(view))
    select_s = best(repeat, lambda: select(rows, CONFIG))
    count = len(rows["token_transfers"])
    gc.collect()
    return decode_s, min(cold), warm_s, select_s, count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus", nargs="?", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--repeat", type=int, default=3, choices=range(1, 100), metavar="N")
    args = parser.parse_args()
    folder = args.corpus / "wallet-backend"
    if not folder.is_dir():
        sys.exit(f"corpus not found at {args.corpus}")
    print(
        f"{'ledger':>9} {'rows':>5} {'decode ms':>10} {'cold ms':>8} {'warm ms':>8} {'select ms':>9}"
        f" {'cold/dec':>8} {'warm/dec':>8}"
    )
    totals: list[tuple[float, float, float, float, int]] = []
    for sequence in LEDGERS:
        raw = gzip.decompress((folder / f"ledger-{sequence}.xdr.gz").read_bytes())
        decode_s, cold_s, warm_s, select_s, count = bench_ledger(raw, args.repeat)
        totals.append((decode_s, cold_s, warm_s, select_s, count))
        print(
            f"{sequence:>9} {count:>5} {decode_s * 1e3:>10.1f} {cold_s * 1e3:>8.1f} {warm_s * 1e3:>8.1f}"
            f" {select_s * 1e3:>9.2f} {cold_s / decode_s:>8.1%} {warm_s / decode_s:>8.1%}"
        )
    decode_sum, cold_sum, warm_sum, select_sum = (sum(t[i] for t in totals) for i in range(4))
    rows = sum(t[4] for t in totals)
    print(
        f"\ntotal {len(totals)} ledgers, {rows} rows: decode {decode_sum:.2f} s, extract cold {cold_sum:.3f} s"
        f" ({cold_sum / decode_sum:.1%} of decode), warm {warm_sum:.3f} s ({warm_sum / decode_sum:.1%}),"
        f" select {select_sum * 1e3:.1f} ms; median warm/decode"
        f" {statistics.median(t[2] / t[0] for t in totals):.1%}"
    )


if __name__ == "__main__":
    main()
