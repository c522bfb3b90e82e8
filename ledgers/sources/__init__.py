"""Ledger sources: where raw `LedgerCloseMeta` XDR comes from.

`await open_source(url, network, **options)` picks the source from the URL:

| URL                                   | source                                                |
|---------------------------------------|-------------------------------------------------------|
| `/path`, `file:///path` (folder with `.config.json`) | galexie datastore on a local folder    |
| `/path`, `file:///path` (other file or folder)       | fixture file(s), any corpus format     |
| `s3://bucket/prefix`, `gs://bucket/prefix`           | galexie datastore on S3 / GCS          |
| `rpc+https://host[:port][/path]`, `rpc+http://...`   | Stellar RPC `getLedgers`               |

Every source yields `(sequence, LedgerCloseMeta XDR)` in order (`LedgerSource`).
"""

from __future__ import annotations

import asyncio
import inspect
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from core.settings import Network

from .base import LedgerSource, RetryPolicy
from .datastore import DatastoreSource
from .errors import (
    LedgerNotFound,
    LedgerOutOfRetention,
    LedgerSourceError,
    PassphraseMismatch,
    SourceConfigError,
    SourceDataError,
    SourceUnavailable,
)
from .files import FileSource
from .layout import CONFIG_NAME, DatastoreConfig, object_key
from .rpc import RpcSource

__all__ = [
    "SUPPORTED_SCHEMES",
    "DatastoreConfig",
    "DatastoreSource",
    "FileSource",
    "LedgerNotFound",
    "LedgerOutOfRetention",
    "LedgerSource",
    "LedgerSourceError",
    "PassphraseMismatch",
    "RetryPolicy",
    "RpcSource",
    "SourceConfigError",
    "SourceDataError",
    "SourceUnavailable",
    "object_key",
    "open_source",
]

SUPPORTED_SCHEMES = ("a plain path", "file://", "s3://", "gs://", "rpc+https://", "rpc+http://")


async def open_source(url: str, network: Network | str | None, **options: Any) -> LedgerSource:
    """Open the ledger source at `url`, checking that it serves `network` when given.

    Options go to the chosen source (`DatastoreSource.open`, `RpcSource`, `FileSource`); one it does not
    take is a `SourceConfigError` listing those it does. A datastore or RPC declaring another network's
    passphrase raises `PassphraseMismatch`; fixture files declare none and are not checked.
    """
    scheme = urlsplit(url).scheme.lower()
    if scheme in ("rpc+https", "rpc+http"):
        rpc = RpcSource(url, **_accepted(RpcSource.__init__, options, url))
        if network is not None:
            try:
                await rpc.check_network(network)
            except BaseException:
                await rpc.close()
                raise
        return rpc
    if scheme in ("s3", "gs", "gcs"):
        return await _open_datastore(url, network, options)
    if scheme in ("", "file"):
        path = Path(unquote(urlsplit(url).path) if scheme == "file" else url)
        if await asyncio.to_thread(_is_datastore_folder, path):
            return await _open_datastore(url, network, options)
        return FileSource(path, **_accepted(FileSource.__init__, options, url))
    supported = ", ".join(SUPPORTED_SCHEMES)
    raise SourceConfigError(f"{url}: unsupported ledger source scheme {scheme!r}; supported: {supported}")


def _is_datastore_folder(path: Path) -> bool:
    path = path.expanduser()
    return (path / CONFIG_NAME).is_file()


async def _open_datastore(
    url: str, network: Network | str | None, options: dict[str, Any]
) -> DatastoreSource:
    source = await DatastoreSource.open(url, **_accepted(DatastoreSource.open, options, url))
    if network is not None:
        try:
            source.check_network(network)
        except BaseException:
            await source.close()
            raise
    return source


def _accepted(function: Any, options: dict[str, Any], url: str) -> dict[str, Any]:
    """`options`, after checking that `function` takes every one of them as a keyword."""
    names = [
        p.name
        for p in inspect.signature(function).parameters.values()
        if p.kind is inspect.Parameter.KEYWORD_ONLY
    ]
    unknown = sorted(set(options) - set(names))
    if unknown:
        raise SourceConfigError(
            f"{url}: unknown source option(s) {', '.join(unknown)}; this source takes {', '.join(names)}"
        )
    return options
