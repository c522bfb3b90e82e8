"""The small object-store seam under the datastore reader, backed by `obstore` (local folder, S3, GCS).

The reader needs `get(key) -> bytes`, with "not found" told apart from failures worth retrying, and two
listings to find the datastore's tip (`folders`, `first_keys`), each one list request on S3 and GCS. Keeping
that seam this narrow lets tests wrap a real store (count requests in flight, fail the first k) without
mocking obstore.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import unquote, urlsplit

from .errors import SourceConfigError

PUBLIC_LAKE_BUCKET = "aws-public-blockchain"
PUBLIC_LAKE_REGION = "us-east-2"


class BlobNotFoundError(Exception):
    """The object does not exist (not retried: it will not appear by asking again right away)."""


class BlobAccessError(Exception):
    """Credentials missing or refused (not retried: it needs an operator)."""


class TransientBlobError(Exception):
    """Network trouble, throttling, 5xx, timeouts: worth retrying."""


class BlobStore(Protocol):
    """Read-only object access relative to a root (a folder, or a bucket plus prefix)."""

    url: str

    async def get(self, key: str) -> bytes:
        """Bytes of the object at `key`; raises BlobNotFoundError, BlobAccessError or TransientBlobError."""
        ...

    async def folders(self, prefix: str) -> list[str]:
        """Names of the folders directly under `prefix` (`""` = the root, else ending in `/`), in any order."""
        ...

    async def first_keys(self, prefix: str, limit: int) -> list[str]:
        """Keys of the objects in folder `prefix`, the lexicographically smallest first, at least the first
        `limit` of them when there are that many (a listing may hold more); `[]` for a missing folder."""
        ...

    async def close(self) -> None: ...


class ObstoreBlobStore:
    """`BlobStore` over any obstore store; translates obstore's errors into the three kinds above.

    Listing: object stores (S3, GCS) return keys in lexicographic order, so the first page of a listing holds
    the smallest keys (one request). A local folder (`root`) is read with `os.scandir` instead: obstore walks
    it unsorted and reads every file's metadata, where names alone are enough.
    """

    def __init__(self, store: Any, url: str, *, root: Path | None = None) -> None:
        self._store = store
        self.url = url
        self._root = root

    async def get(self, key: str) -> bytes:
        import obstore
        from obstore import exceptions as oe

        try:
            result = await obstore.get_async(self._store, key)
            return bytes(await result.bytes_async())
        except FileNotFoundError as exc:
            raise BlobNotFoundError(key) from exc
        except (oe.PermissionDeniedError, oe.UnauthenticatedError, PermissionError) as exc:
            raise BlobAccessError(f"access to {key} at {self.url} was refused: {_first_line(exc)}") from exc
        except (oe.GenericError, oe.JoinError, OSError) as exc:
            raise TransientBlobError(f"{key}: {_first_line(exc)}") from exc

    async def folders(self, prefix: str) -> list[str]:
        if self._root is not None:
            return await asyncio.to_thread(_local_names, self._root / prefix, folders=True)
        import obstore

        with _listing_errors(prefix or "/", self.url):
            result = await obstore.list_with_delimiter_async(self._store, prefix or None)
        return [name.rstrip("/").rsplit("/", 1)[-1] for name in result["common_prefixes"]]

    async def first_keys(self, prefix: str, limit: int) -> list[str]:
        if self._root is not None:
            names = await asyncio.to_thread(_local_names, self._root / prefix, folders=False)
            return [prefix + name for name in sorted(names)[:limit]]
        import obstore

        with _listing_errors(prefix or "/", self.url):
            # One page is enough: the service sorts keys, so the first page starts with the smallest.
            async for page in obstore.list(self._store, prefix or None, chunk_size=limit):
                return [str(meta["path"]) for meta in page]
        return []

    async def close(self) -> None:
        # obstore stores hold a connection pool released with the object; nothing to await.
        self._store = None


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


@contextlib.contextmanager
def _listing_errors(what: str, url: str) -> Iterator[None]:
    """Turns obstore's errors of a listing into the kinds of `BlobStore` errors (a missing prefix is not one:
    it lists nothing)."""
    from obstore import exceptions as oe

    try:
        yield
    except (oe.PermissionDeniedError, oe.UnauthenticatedError, PermissionError) as exc:
        raise BlobAccessError(f"listing {what} at {url} was refused: {_first_line(exc)}") from exc
    except (oe.GenericError, oe.JoinError, OSError) as exc:
        raise TransientBlobError(f"listing {what}: {_first_line(exc)}") from exc


def _local_names(folder: Path, *, folders: bool) -> list[str]:
    """Names of the sub-folders (or files) of a local folder; none when it does not exist."""
    try:
        with os.scandir(folder) as entries:
            return [e.name for e in entries if (e.is_dir() if folders else e.is_file())]
    except (FileNotFoundError, NotADirectoryError):
        return []


def open_blob_store(
    url: str,
    *,
    endpoint: str | None = None,
    region: str | None = None,
    skip_signature: bool | None = None,
    storage_options: dict[str, Any] | None = None,
    request_timeout: float = 60.0,
) -> ObstoreBlobStore:
    """Build a store for a local path / `file://`, `s3://bucket/prefix` or `gs://bucket/prefix`.

    S3: `endpoint` (e.g. a MinIO or test server; `http://` endpoints are allowed), `region`, and
    `skip_signature=True` for anonymous reads. The public pubnet lake (`s3://aws-public-blockchain/...`)
    defaults to its region (us-east-2) and anonymous access. `storage_options` passes any other obstore
    setting (credentials, `virtual_hosted_style_request`, ...). Our own retry policy sits above this
    store, so obstore's internal retries are turned off to avoid retrying twice.
    """
    from obstore.store import GCSStore, LocalStore, S3Store

    options = dict(storage_options or {})
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    client: Any = {
        "timeout": timedelta(seconds=request_timeout),
        "connect_timeout": timedelta(seconds=10),
    }
    no_retries: Any = {"max_retries": 0, "retry_timeout": timedelta(seconds=request_timeout)}
    if scheme in ("", "file"):
        path = Path(unquote(parts.path) if scheme == "file" else url).expanduser().resolve()
        if not path.is_dir():
            raise SourceConfigError(f"datastore folder {path} does not exist")
        return ObstoreBlobStore(LocalStore(prefix=path), url, root=path)
    if not parts.netloc:
        raise SourceConfigError(f"{url}: a bucket name is missing ({scheme}://bucket/prefix)")
    if scheme == "s3":
        public = parts.netloc == PUBLIC_LAKE_BUCKET
        if endpoint is not None:
            options["endpoint"] = endpoint
            if endpoint.startswith("http://"):
                client["allow_http"] = True
        region = region or (PUBLIC_LAKE_REGION if public else None)
        if region is not None:
            options["region"] = region
        if skip_signature if skip_signature is not None else public:
            options["skip_signature"] = True
        store: Any = S3Store.from_url(url, client_options=client, retry_config=no_retries, **options)
        return ObstoreBlobStore(store, url)
    if scheme in ("gs", "gcs"):
        if skip_signature:
            options["skip_signature"] = True
        if endpoint is not None:
            options["base_url"] = endpoint
            if endpoint.startswith("http://"):
                client["allow_http"] = True
        gs_url = f"gs://{parts.netloc}{parts.path}"
        store = GCSStore.from_url(gs_url, client_options=client, retry_config=no_retries, **options)
        return ObstoreBlobStore(store, url)
    raise SourceConfigError(f"{url}: not an object store URL (use a path, file://, s3:// or gs://)")
