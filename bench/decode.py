"""Ledgers per second: stellar-sdk's decode alone vs `LedgerView` with everything materialized.

Usage: ``.venv/bin/python bench/decode.py [corpus folder] [--repeat N]`` (default ``../shared/ledgers``, 3 runs,
best run reported) on the 20 consecutive mainnet ledgers ``wallet-backend/ledger-63092982…63093001``.

Rows:
- ``sdk decode``: ``LedgerCloseMeta.from_xdr_bytes``, collector as the process has it;
- ``view decode``: ``LedgerView.from_xdr`` (pauses the collector, hashes envelopes from their bytes);
- ``view + everything``: the view, then every transaction, operation (body, result, changes, events),
  transaction-level change list, event list, upgrade and eviction;
- ``… gc off``: the same with the collector disabled for the whole run — a worker's choice, shown because the
  collections triggered while a ~1M-object ledger is alive cost as much as the conversion itself.
"""

from __future__ import annotations

import argparse
import gc
import gzip
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from stellar_sdk import xdr

from ledgers.corpus import PUBNET
from ledgers.view import LedgerView

FIRST, LAST = 63092982, 63093001


def materialize(view: LedgerView) -> int:
    """Touch every lazy part of the view; returns a count so nothing is optimized away."""
    n = 0
    for tx in view.transactions:
        n += (
            len(tx.fee_changes)
            + len(tx.changes_before)
            + len(tx.changes_after)
            + len(tx.post_apply_fee_changes)
        )
        n += len(tx.events) + len(tx.diagnostic_events) + len(tx.soroban_events)
        for op in tx.operations:
            n += len(op.changes) + len(op.events) + (op.result is not None)
    n += len(view.upgrade_changes) + len(view.evicted_keys)
    return n


def run(raws: list[bytes], work: Callable[[bytes], object], repeat: int, gc_off: bool = False) -> float:
    """Best-of-`repeat` ledgers per second."""
    best = float("inf")
    for _ in range(repeat):
        gc.collect()
        if gc_off:
            gc.disable()
        start = time.perf_counter()
        for raw in raws:
            work(raw)
        best = min(best, time.perf_counter() - start)
        gc.enable()
    return len(raws) / best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "corpus", nargs="?", type=Path, default=Path(__file__).resolve().parents[2] / "shared/ledgers"
    )
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    files = [args.corpus / "wallet-backend" / f"ledger-{seq}.xdr.gz" for seq in range(FIRST, LAST + 1)]
    missing = [f for f in files if not f.exists()]
    if missing:
        sys.exit(f"corpus not found: {missing[0]}")
    raws = [gzip.decompress(f.read_bytes()) for f in files]
    megabytes = sum(map(len, raws)) / 1e6

    def view_everything(raw: bytes) -> int:
        return materialize(LedgerView.from_xdr(raw, PUBNET))

    rows = [
        ("sdk decode", run(raws, xdr.LedgerCloseMeta.from_xdr_bytes, args.repeat)),
        ("view decode", run(raws, lambda raw: LedgerView.from_xdr(raw, PUBNET), args.repeat)),
        ("view + everything", run(raws, view_everything, args.repeat)),
        ("sdk decode, gc off", run(raws, xdr.LedgerCloseMeta.from_xdr_bytes, args.repeat, gc_off=True)),
        ("view + everything, gc off", run(raws, view_everything, args.repeat, gc_off=True)),
    ]
    print(f"{len(raws)} mainnet ledgers ({FIRST}-{LAST}), {megabytes:.1f} MB of XDR, best of {args.repeat}")
    sdk = rows[0][1]
    for name, rate in rows:
        print(
            f"  {name:28s} {rate:6.2f} ledgers/s  ({rate * megabytes / len(raws):5.2f} MB/s)  x{sdk / rate:.2f}"
        )
    print(f"ratio (view + everything) / (sdk decode), time per ledger: {sdk / rows[2][1]:.2f}")
    print(f"same with the collector off for both:                  {rows[3][1] / rows[4][1]:.2f}")


if __name__ == "__main__":
    main()
