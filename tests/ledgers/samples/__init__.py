"""Tests of the sample ledgers (`ledgers.samples`), and the small readers they share.

The readers here are deliberately independent of the project's datastore code: they list and decode the
written objects with nothing but zstandard and stellar-sdk, so a bug shared by writer and reader cannot hide.
"""

from __future__ import annotations

import re
from pathlib import Path

import zstandard
from stellar_sdk import xdr as x

OBJECT_NAME = re.compile(r"^([0-9A-F]{8})--(\d+)\.xdr\.zst$")
PARTITION_NAME = re.compile(r"^([0-9A-F]{8})--(\d+)-(\d+)$")


def object_files(folder: Path) -> list[Path]:
    """Every ``.xdr.zst`` object under `folder`, by ledger sequence."""
    files = [p for p in folder.rglob("*.xdr.zst")]
    return sorted(files, key=lambda p: int(OBJECT_NAME.match(p.name).group(2)))  # type: ignore[union-attr]


def read_batches(folder: Path) -> list[x.LedgerCloseMetaBatch]:
    return [
        x.LedgerCloseMetaBatch.from_xdr_bytes(zstandard.decompress(path.read_bytes()))
        for path in object_files(folder)
    ]


def read_ledgers(folder: Path) -> list[tuple[int, bytes]]:
    """``(sequence, LedgerCloseMeta XDR)`` of every ledger in the folder, in order."""
    out = []
    for batch in read_batches(folder):
        for meta in batch.ledger_close_metas:
            out.append((meta.v2.ledger_header.header.ledger_seq.uint32, meta.to_xdr_bytes()))
    return out
