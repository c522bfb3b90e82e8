"""Derived token transfers: derivation time per ledger next to decode time, on ledgers without unified events.

Usage: ``.venv/bin/python bench/token_transfers_derived.py [corpus folder] [--repeat N]``

Ledgers: 56065483 (protocol 22, meta v3, 359 transactions) and 53312000 (protocol 21, meta v3, 163), the two
real mainnet ledgers of the corpus whose token transfers must be derived; plus, for scale, one current mainnet
ledger (63092985, protocol 26, meta v4 with unified events) with the derivation forced on it.

Per ledger, the best of N runs of:
- ``decode``: ``LedgerCloseMeta.from_xdr_bytes`` with the cyclic GC paused (as bench/token_transfers.py);
- ``cold``: `derive_rows` on a fresh `LedgerView`: includes the view's lazy conversion of the transactions'
  operations, results and the few entry changes the derivation reads (paid once per ledger, shared with other
  processors);
- ``warm``: `derive_rows` again on the same view: the derivation's own work.
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from stellar_sdk import xdr  # noqa: E402

from ledgers.corpus import iter_file, network_passphrase_for  # noqa: E402
from ledgers.model import gc_paused  # noqa: E402
from ledgers.view import LedgerView  # noqa: E402
from processors.token_transfers.derive import derive_rows  # noqa: E402

DEFAULT_CORPUS = ROOT.parent / "shared" / "ledgers"
LEDGERS = {
    56065483: "stellar-go/ttp-example/revoke-trustline-ledger-56065483",
    53312000: "stellar-go/compressxdr/FCD285FF--53312000.xdr.zstd",
    63092985: "wallet-backend/ledger-63092985.xdr.gz",
}


def best(repeat: int, run: Callable[[], object]) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def bench_ledger(raw: bytes, passphrase: str, repeat: int) -> tuple[float, float, float, int, bool]:
    def decode() -> None:
        with gc_paused():
            xdr.LedgerCloseMeta.from_xdr_bytes(raw)

    decode_s = best(repeat, decode)
    cold = []
    view = LedgerView.from_xdr(raw, passphrase)
    for attempt in range(repeat):
        if attempt:
            view = LedgerView.from_xdr(raw, passphrase)  # a fresh view: nothing converted yet
        start = time.perf_counter()
        rows = derive_rows(view)
        cold.append(time.perf_counter() - start)
    warm_s = best(repeat, lambda: derive_rows(view))
    return decode_s, min(cold), warm_s, len(rows), view.has_unified_events


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus", nargs="?", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--repeat", type=int, default=5, choices=range(1, 100), metavar="N")
    args = parser.parse_args()
    if not args.corpus.is_dir():
        sys.exit(f"corpus not found at {args.corpus}")
    print(
        f"{'ledger':>9} {'unified':>7} {'rows':>5} {'decode ms':>10} {'cold ms':>8} {'warm ms':>8}"
        f" {'cold/dec':>8} {'warm/dec':>8}"
    )
    for sequence, relative in LEDGERS.items():
        (raw,) = list(iter_file(args.corpus / relative))
        decode_s, cold_s, warm_s, count, unified = bench_ledger(
            raw, network_passphrase_for(relative), args.repeat
        )
        gc.collect()
        print(
            f"{sequence:>9} {'yes' if unified else 'no':>7} {count:>5} {decode_s * 1e3:>10.1f}"
            f" {cold_s * 1e3:>8.1f} {warm_s * 1e3:>8.1f} {cold_s / decode_s:>8.1%} {warm_s / decode_s:>8.1%}"
        )


if __name__ == "__main__":
    main()
