"""The local disk cache of cold files fetched from a bucket (DuckDB reads local files).

A cached copy is named by its key AND the manifest's description of the object (`cold_files.checksum`, `bytes`
and `created_at`: the checksum covers the ids only, and a re-archive of the same ids is a new row). A key can
hold other content later (a tenant purged and its id reused, retention and a re-archive); the old copy is then
never asked for again, so a stale file is never served, and LRU eviction removes it. `drop_cached` removes
this machine's copies of deleted keys at once (purge, retention: a purged tenant's data does not linger);
copies in another process's bookkeeping are unreachable the same way, and evicted by its LRU.

Several processes may share the folder (the server and a CLI export): a copy is written under a temporary
name and renamed, so nobody sees half a file, and a reader holds a private hard link of the copy while it
uses it, so another process's eviction (which knows nothing of our use) cannot pull the file from under
DuckDB; a copy that vanished before the link was made is fetched again, once. Within a process, all
bookkeeping (sizes, recency, pins) happens on the event loop; worker threads only unlink, and never a pinned
copy.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
import time
import uuid
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from pathlib import Path, PurePosixPath

from storage.cold.store import ColdStore

_TEMP_MARK = ".tmp-"  # `ColdStore.fetch_file`'s partial downloads
_LINK_MARK = ".use-"  # a reader's private link: `<copy>.use-<pid>-<random>`
LEFTOVER_SECONDS = 24 * 3600  # a partial download this old belongs to a process that died


@dataclass(frozen=True)
class ColdObjectVersion:
    """Which object the manifest means by a key: its row's checksum, size and creation time."""

    key: str
    checksum: str
    size: int
    created_at: datetime


def cached_name(version: ColdObjectVersion) -> str:
    """The relative path of the copy of that object: `<key's stem>.<digest of the version><suffix>` beside the
    key's own folders, so a tenant's copies stay under its prefix."""
    tag = hashlib.sha256(
        f"{version.checksum}/{version.size}/{version.created_at.isoformat()}".encode()
    ).hexdigest()[:32]
    path = PurePosixPath(version.key)
    return str(path.with_name(f"{path.stem}.{tag}{path.suffix}"))


def _copies_of(folder: Path, key: str) -> Iterable[Path]:
    path = PurePosixPath(key)
    parent = folder / str(path.parent)
    if not parent.is_dir():
        return []
    return [p for p in parent.glob(f"{path.stem}.*{path.suffix}") if _LINK_MARK not in p.name]


def drop_cached(folder: Path, keys: Sequence[str] = (), prefixes: Sequence[str] = ()) -> int:
    """Remove the cached copies (any content) of `keys` and everything under `prefixes` from the cache folder
    (blocking: run it in a thread); how many files. For archival and purges, which have no reader: a running
    reader's bookkeeping still lists those copies, finds them gone when it next wants one, and fetches again."""
    removed = 0
    for key in keys:
        for copy in _copies_of(folder, key):
            copy.unlink(missing_ok=True)
            removed += 1
    for prefix in prefixes:
        base = folder / prefix
        if base.is_dir():
            removed += sum(len(names) for _, _, names in os.walk(base))
            shutil.rmtree(base, ignore_errors=True)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # not ours to signal, but running
        return True
    return True


def _leftover(path: Path) -> bool:
    """A partial download of a process that died, or a link of one that is gone (they only cost disk)."""
    name = path.name
    if _LINK_MARK in name:
        pid = name.rsplit(_LINK_MARK, 1)[1].split("-", 1)[0]
        return pid.isdigit() and not _alive(int(pid))
    return time.time() - path.stat().st_mtime > LEFTOVER_SECONDS


def _link(path: Path) -> Path:
    """A private name of the copy at `path` (FileNotFoundError: it vanished); the copy itself where the
    file system has no hard links."""
    link = path.with_name(f"{path.name}{_LINK_MARK}{os.getpid()}-{uuid.uuid4().hex}")
    try:
        os.link(path, link)
    except FileNotFoundError:
        raise
    except OSError:
        if not path.exists():
            raise FileNotFoundError(path) from None
        return path
    return link


def _unlink_all(paths: Iterable[Path]) -> None:
    for path in paths:
        path.unlink(missing_ok=True)


class FileCache:
    """Cold files of a bucket on local disk, least recently used evicted past `max_bytes` (copies in use by a
    running query are kept); see the module docstring."""

    def __init__(self, store: ColdStore, folder: Path, max_bytes: int) -> None:
        self._store = store
        self._folder = folder
        self._max = max_bytes
        self._sizes: OrderedDict[str, int] | None = None  # copies by relative name, least recent first
        self._pinned: dict[str, int] = {}
        self._links: dict[Path, str] = {}  # a pin's private path -> its copy
        self._fetching: dict[str, asyncio.Task[None]] = {}
        self._removing: dict[str, asyncio.Task[None]] = {}

    def _scan(self) -> OrderedDict[str, int]:
        found: list[tuple[float, str, int]] = []
        for folder, _, names in os.walk(self._folder):
            for name in names:
                path = Path(folder) / name
                try:
                    if _TEMP_MARK in name or _LINK_MARK in name:
                        if _leftover(path):
                            path.unlink(missing_ok=True)
                        continue
                    stat = path.stat()
                except FileNotFoundError:  # another process's eviction or rename
                    continue
                found.append((stat.st_mtime, path.relative_to(self._folder).as_posix(), stat.st_size))
        return OrderedDict((name, size) for _, name, size in sorted(found))

    async def pin(self, version: ColdObjectVersion) -> Path:
        """A local path of the object the manifest describes, fetched if needed; valid until `unpin(path)`."""
        if self._sizes is None:
            self._sizes = await asyncio.to_thread(self._scan)
        name = cached_name(version)
        key, size = version.key, version.size
        self._pinned[name] = self._pinned.get(name, 0) + 1
        try:
            for attempt in range(2):
                await self._present(name, key, size)
                try:
                    link = await asyncio.to_thread(_link, self._folder / name)
                except FileNotFoundError:  # evicted by another process sharing the folder
                    if attempt:
                        raise
                    self._sizes.pop(name, None)
                    continue
                self._links[link] = name
                return link
            raise AssertionError("unreachable")
        except BaseException:
            self._release(name)
            raise

    def unpin(self, path: Path) -> None:
        name = self._links.pop(path, None)
        if name is None:
            return
        if path != self._folder / name:  # a link: removed in a worker thread, nobody waits for it
            asyncio.get_running_loop().run_in_executor(None, _unlink_all, [path])
        self._release(name)

    def _release(self, name: str) -> None:
        left = self._pinned.get(name, 0) - 1
        if left > 0:
            self._pinned[name] = left
        else:
            self._pinned.pop(name, None)

    async def _present(self, name: str, key: str, size: int) -> None:
        """The copy is on disk (as far as this process knows), fetched once however many queries want it."""
        assert self._sizes is not None
        removing = self._removing.get(name)
        if removing is not None:  # our eviction of it finishes before it is fetched again
            await asyncio.shield(removing)
        if name in self._sizes:
            self._sizes.move_to_end(name)
            return
        task = self._fetching.get(name)
        if task is None:
            task = asyncio.ensure_future(self._fetch(name, key, size))
            self._fetching[name] = task
            task.add_done_callback(partial(self._forget, self._fetching, name))
        await asyncio.shield(task)

    async def _fetch(self, name: str, key: str, size: int) -> None:
        assert self._sizes is not None
        path = self._folder / name
        await self._store.fetch_file(key, path)
        got = (await asyncio.to_thread(path.stat)).st_size
        if got != size:  # the key holds another object than the manifest's: never serve it
            await asyncio.to_thread(path.unlink, True)
            raise ValueError(f"the object has {got} bytes, the manifest says {size}")
        self._sizes[name] = got
        await self._evict()

    async def _evict(self) -> None:
        """Past the bound, the least recent unpinned copies leave the bookkeeping here, on the event loop, and
        the disk in a worker thread (a pin of one of them waits for that)."""
        sizes = self._sizes
        if sizes is None:
            return
        total = sum(sizes.values())
        victims: list[str] = []
        for name in list(sizes):
            if total <= self._max:
                break
            if name in self._pinned or name in self._fetching:
                continue
            total -= sizes.pop(name)
            victims.append(name)
        if not victims:
            return
        task = asyncio.ensure_future(asyncio.to_thread(_unlink_all, [self._folder / n for n in victims]))
        for name in victims:
            self._removing[name] = task
            task.add_done_callback(partial(self._forget, self._removing, name))
        await asyncio.shield(task)

    @staticmethod
    def _forget(tasks: dict[str, asyncio.Task[None]], name: str, done: asyncio.Task[None]) -> None:
        if tasks.get(name) is done:
            del tasks[name]
