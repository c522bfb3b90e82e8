"""Ledgers per second: stellar-sdk's decode alone (1.00x) against `LedgerView`'s two decoders.

Usage: ``.venv/bin/python bench/decode.py [corpus folder] [--repeat N]`` (default ``../shared/ledgers``, 3 runs,
best run reported) on the 20 consecutive mainnet ledgers ``wallet-backend/ledger-63092982…63093001``.

Rows (speed-up = rate / the first row's rate, measured in this run):
- ``sdk decode``: ``LedgerCloseMeta.from_xdr_bytes`` alone, the baseline;
- ``sdk view``, ``fast view``: ``LedgerView.from_xdr(decoder=…)`` alone (what a processor reading only the
  header and transaction fields pays);
- ``… + touch_all``: the view, then `ledgers.view.touch_all` (every part a processor may read);
- ``… gc off``: the same with the collector disabled for the whole run (a worker's choice);
- ``walk, <skipper>``: the generated skippers' walk of the whole ``LedgerCloseMeta`` alone
  (``skip_LedgerCloseMeta``), with each skipper built here (`ledgers.skippers`: ``c``, ``python``), and
  ``fast view + touch_all, <skipper>`` the fast rows again with each skipper.

The fast rows without a skipper named use the one `ledgers.skippers` picked (printed; ``OBSRVR_XDRSKIP`` chooses).

Times are this process's CPU time (``time.process_time``), not wall time: the machine is shared, and CPU time
does not count the waits for a core that other work causes.
"""

from __future__ import annotations

import argparse
import gc
import gzip
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from stellar_sdk import xdr

from ledgers import skippers, xdrskip
from ledgers.corpus import PUBNET
from ledgers.view import LedgerView, touch_all

FIRST, LAST = 63092982, 63093001


def run(raws: list[bytes], work: Callable[[bytes], object], repeat: int, gc_off: bool = False) -> float:
    """Best-of-`repeat` ledgers per second."""
    best = float("inf")
    for _ in range(repeat):
        gc.collect()
        if gc_off:
            gc.disable()
        start = time.process_time()
        for raw in raws:
            work(raw)
        best = min(best, time.process_time() - start)
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

    def sdk_view(raw: bytes) -> LedgerView:
        return LedgerView.from_xdr(raw, PUBNET, "sdk")

    def fast_view(raw: bytes) -> LedgerView:
        view = LedgerView.from_xdr(raw, PUBNET, "fast")
        if view.decoder_fallback is not None:
            sys.exit(f"ledger {view.sequence} fell back to stellar-sdk: {view.decoder_fallback}")
        return view

    rows = [
        ("sdk decode", run(raws, xdr.LedgerCloseMeta.from_xdr_bytes, args.repeat)),
        ("sdk view", run(raws, sdk_view, args.repeat)),
        ("fast view", run(raws, fast_view, args.repeat)),
        ("sdk view + touch_all", run(raws, lambda raw: touch_all(sdk_view(raw)), args.repeat)),
        ("fast view + touch_all", run(raws, lambda raw: touch_all(fast_view(raw)), args.repeat)),
        ("sdk view + touch_all, gc off", run(raws, lambda raw: touch_all(sdk_view(raw)), args.repeat, True)),
        (
            "fast view + touch_all, gc off",
            run(raws, lambda raw: touch_all(fast_view(raw)), args.repeat, True),
        ),
    ]
    default = skippers.implementation()
    built = [name for name in skippers.IMPLEMENTATIONS if name == "python" or skippers.compiled() is not None]
    modules: dict[str, Any] = {"python": xdrskip, "c": skippers.compiled()}

    def walker(module: Any) -> Callable[[bytes], object]:
        return lambda raw: module.skip_LedgerCloseMeta(raw, 0)

    for name in built:
        rows.append((f"walk, {name}", run(raws, walker(modules[name]), args.repeat)))
    for name in built:
        skippers.use(name)
        rows.append(
            (f"fast view + touch_all, {name}", run(raws, lambda raw: touch_all(fast_view(raw)), args.repeat))
        )
    skippers.use(default)
    print(f"XDR skipper in use: {default} (built here: {', '.join(built)})")
    print(f"{len(raws)} mainnet ledgers ({FIRST}-{LAST}), {megabytes:.1f} MB of XDR, best of {args.repeat}")
    print("(CPU time of this process on a shared machine; compare ratios of one run, not rates across runs)")
    sdk = rows[0][1]
    for name, rate in rows:
        print(
            f"  {name:30s} {rate:7.2f} ledgers/s  ({rate * megabytes / len(raws):6.2f} MB/s)  {rate / sdk:6.2f}x"
        )


if __name__ == "__main__":
    main()
