"""`FileSource`: ledgers from one fixture file or a folder of them (formats in `fixtures`)."""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from pathlib import Path

from .errors import SourceConfigError, SourceDataError
from .fixtures import FixtureFormat, detect_format, read_ledger_file

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class IndexedLedger:
    """Where one ledger of a `FileSource` lives."""

    sequence: int
    path: Path
    position: int  # index among the file's ledgers, sorted by sequence
    format: FixtureFormat


class FileSource:
    """`LedgerSource` over a fixture file or a folder of fixture files, in any mix of formats.

    Ledgers come out sorted by sequence across files. In a folder, files that hold no ledgers (JSON,
    README, `-events` goldens, ledger-entry streams, hidden files) are skipped; the same sequence in two
    files is an error, since it means two networks or two versions of a ledger were mixed.

    Fixtures are sparse (a few chosen ledgers), so a range yields the ledgers the files hold inside it and
    never reports the gaps. The files do not grow: `end=None` stops after the last ledger, unless
    `watch=True`, which rescans the folder every `poll_interval` seconds for new files (a drop folder).
    The network is unknown (`network_passphrase` is None).
    """

    network_passphrase: str | None = None

    def __init__(
        self, path: str | Path, *, recursive: bool = False, watch: bool = False, poll_interval: float = 2.0
    ) -> None:
        self.path = Path(path).expanduser()
        if not self.path.exists():
            raise SourceConfigError(f"ledger file or folder {self.path} does not exist")
        self.recursive = recursive
        self.watch = watch
        self.poll_interval = poll_interval
        self._cache: tuple[Path, list[tuple[int, bytes]]] | None = None

    def index(self) -> list[IndexedLedger]:
        """Scan the file(s) and list every ledger with where it lives, sorted by sequence."""
        entries: list[IndexedLedger] = []
        for path, fmt in self._ledger_files():
            try:
                ledgers = read_ledger_file(path, fmt)
            except (ValueError, OSError) as exc:
                raise SourceDataError(f"{path} looks like {fmt} but cannot be read: {exc}") from exc
            entries.extend(IndexedLedger(seq, path, i, fmt) for i, (seq, _) in enumerate(ledgers))
        entries.sort(key=lambda e: e.sequence)
        for before, after in itertools.pairwise(entries):
            if before.sequence == after.sequence:
                raise SourceConfigError(
                    f"ledger {after.sequence} appears in both {before.path} and {after.path}: "
                    "a source holds one network's ledgers once"
                )
        return entries

    def _ledger_files(self) -> list[tuple[Path, FixtureFormat]]:
        if self.path.is_file():
            fmt = detect_format(self.path)
            if fmt is None:
                raise SourceConfigError(
                    f"{self.path} is not a ledger file: expected a LedgerCloseMeta (raw, gzip, zstd, base64 "
                    "lines or discriminant-prefixed), a LedgerCloseMetaBatch or a record-marked stream"
                )
            return [(self.path, fmt)]
        pattern = "**/*" if self.recursive else "*"
        found = []
        for path in sorted(self.path.glob(pattern)):
            if not path.is_file() or any(part.startswith(".") for part in path.relative_to(self.path).parts):
                continue
            fmt = detect_format(path)
            if fmt is None:
                log.debug("skipping %s: not a ledger file", path)
                continue
            found.append((path, fmt))
        return found

    def _load(self, entry: IndexedLedger) -> bytes:
        # Ledgers of one file come out together in sequence order, so caching the last file read keeps
        # multi-ledger files from being decompressed once per ledger.
        if self._cache is None or self._cache[0] != entry.path:
            self._cache = (entry.path, read_ledger_file(entry.path, entry.format))
        return self._cache[1][entry.position][1]

    async def ledgers(self, start: int, end: int | None) -> AsyncGenerator[tuple[int, bytes], None]:
        """Yield the ledgers held in `start..end`, sorted by sequence (see the class for `end=None`)."""
        next_wanted = start
        while True:
            entries = await asyncio.to_thread(self.index)
            if not entries and not self.watch:
                raise SourceConfigError(f"no ledger files in {self.path}")
            for entry in entries:
                if entry.sequence < next_wanted:
                    continue
                if end is not None and entry.sequence > end:
                    return
                raw = await asyncio.to_thread(self._load, entry)
                yield entry.sequence, raw
                next_wanted = entry.sequence + 1
            if end is not None or not self.watch:
                return
            await asyncio.sleep(self.poll_interval)

    async def latest_sequence(self) -> int | None:
        entries = await asyncio.to_thread(self.index)
        return entries[-1].sequence if entries else None

    async def close(self) -> None:
        self._cache = None
