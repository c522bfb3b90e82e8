"""Where cold files live: a local folder (a path or `file://`) or a bucket (`s3://`, `gs://`), through obstore.

The cold tier needs five things of a store: put a finished local file under a key so that the key holds the
whole file or nothing, fetch one back to a local file, list a prefix, delete keys, and tell "cannot reach or
write the store" (`ColdStoreUnreachable`: archival stops before deleting a hot row) from everything else. A
folder is written with a temporary name and renamed (readers of a half-copied file would see garbage); a
bucket takes one PUT (S3 and GCS make an object visible only when its upload completes).

Credentials and endpoint come from settings (`OBSRVR_COLD_*`); anything left unset falls back to obstore's own
environment lookup (`AWS_*`, `GOOGLE_*`), and `OBSRVR_COLD_ANONYMOUS` reads a public bucket unsigned. The same
construction as the ledger datastore's (`ledgers.sources.blobstore`), kept separate because storage must not
depend on ingestion.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from core.errors import RETRY_AFTER_SECONDS, ServiceUnavailable
from core.settings import Settings

_TEMP_MARK = ".tmp-"  # the infix of a folder store's files being copied in (renamed once complete)


class ColdStoreUnreachable(ServiceUnavailable):
    """The object store cannot be reached, or refused the request (credentials, permissions, a missing bucket).
    Archival aborts on it and deletes nothing; a reader turns it into 503 `cold_store_unavailable`. A service
    error itself, so the CLI prints it as one line (exit 1) and an API path meeting it answers 503."""

    code = "cold_store_unavailable"

    def __init__(self, message: str) -> None:
        super().__init__(message, headers={"Retry-After": str(RETRY_AFTER_SECONDS)})


@dataclass(frozen=True)
class ColdObject:
    key: str
    size: int


@dataclass(frozen=True)
class ColdCredentials:
    """What a bucket store is opened with beyond its URL (all optional)."""

    endpoint: str | None = None
    region: str | None = None
    anonymous: bool = False
    access_key_id: str | None = None
    secret_access_key: str | None = None
    service_account_path: str | None = None
    request_timeout: float = 60.0


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def local_folder(url: str) -> Path:
    """The folder of a plain path or a `file://` URL. `file:///abs` is absolute; `file://rel/dir` (the default
    `file://.obsrvr-flow/cold`) is read as the relative path `rel/dir` rather than a host `rel` and `/dir`,
    which would put the cold tier at the filesystem root; `file://localhost/abs` is `/abs`."""
    parts = urlsplit(url)
    if parts.scheme.lower() != "file":
        return Path(url).expanduser().resolve()
    host = "" if parts.netloc.lower() in ("", "localhost") else parts.netloc
    return Path(unquote(host + parts.path)).expanduser().resolve()


class ColdStore:
    """The cold root: keys are relative to it (`customer_id=<id>/processor=<name>/year=/month=/part-...`)."""

    def __init__(self, url: str, *, root: Path | None = None, store: Any = None) -> None:
        self.url = url
        self.root = root  # a local folder store: readers open files in place
        self._store = store

    @classmethod
    def from_settings(cls, settings: Settings) -> ColdStore:
        secret = settings.cold_secret_access_key
        return cls.open(
            settings.cold_url,
            ColdCredentials(
                endpoint=settings.cold_endpoint,
                region=settings.cold_region,
                anonymous=settings.cold_anonymous,
                access_key_id=settings.cold_access_key_id,
                secret_access_key=secret.get_secret_value() if secret is not None else None,
                service_account_path=settings.cold_service_account_path,
                request_timeout=settings.cold_request_timeout_seconds,
            ),
        )

    @classmethod
    def open(cls, url: str, credentials: ColdCredentials | None = None) -> ColdStore:
        """A store for a folder path, `file://...`, `s3://bucket/prefix` or `gs://bucket/prefix`. Nothing is
        contacted here; a folder is created when first written."""
        creds = credentials or ColdCredentials()
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme in ("", "file"):
            return cls(url, root=local_folder(url))
        if not parts.netloc:
            raise ValueError(f"{url}: a bucket name is missing ({scheme}://bucket/prefix)")
        from obstore.store import GCSStore, S3Store

        client: Any = {
            "timeout": timedelta(seconds=creds.request_timeout),
            "connect_timeout": timedelta(seconds=min(10.0, creds.request_timeout)),
        }
        if creds.endpoint is not None and creds.endpoint.startswith("http://"):
            client["allow_http"] = True
        # A few quick retries for a blip; an outage fails the run within seconds instead of obstore's minutes.
        retry: Any = {
            "max_retries": 2,
            "backoff": {"init_backoff": timedelta(milliseconds=100), "max_backoff": timedelta(seconds=2)},
            "retry_timeout": timedelta(seconds=creds.request_timeout),
        }
        options: dict[str, Any] = {}
        if creds.anonymous:
            options["skip_signature"] = True
        if scheme == "s3":
            if creds.endpoint is not None:
                options["endpoint"] = creds.endpoint
            if creds.region is not None:
                options["region"] = creds.region
            if creds.access_key_id is not None:
                options["access_key_id"] = creds.access_key_id
            if creds.secret_access_key is not None:
                options["secret_access_key"] = creds.secret_access_key
            store: Any = S3Store.from_url(url, client_options=client, retry_config=retry, **options)
            return cls(url, store=store)
        if scheme in ("gs", "gcs"):
            if creds.endpoint is not None:
                options["base_url"] = creds.endpoint
            if creds.service_account_path is not None:
                options["service_account_path"] = creds.service_account_path
            gs_url = f"gs://{parts.netloc}{parts.path}"
            store = GCSStore.from_url(gs_url, client_options=client, retry_config=retry, **options)
            return cls(url, store=store)
        raise ValueError(f"{url}: not a cold store URL (use a path, file://, s3:// or gs://)")

    # Keys -------------------------------------------------------------------------------------------------

    def tenant_prefix(self, tenant_id: str) -> str:
        return f"customer_id={tenant_id}/"

    def processor_prefix(self, tenant_id: str, processor: str) -> str:
        return f"{self.tenant_prefix(tenant_id)}processor={processor}/"

    def file_key(
        self, tenant_id: str, processor: str, year: int, month: int, first_id: str, last_id: str
    ) -> str:
        return (
            f"{self.processor_prefix(tenant_id, processor)}year={year:04d}/month={month:02d}/"
            f"part-{first_id}-{last_id}.parquet"
        )

    def local_path(self, key: str) -> Path | None:
        """Where a folder store keeps `key` (read in place); None for a bucket."""
        return self.root / key if self.root is not None else None

    # Operations -------------------------------------------------------------------------------------------

    async def put_file(self, key: str, local_path: Path) -> int:
        """Store `local_path` under `key`, complete or not at all; its size."""
        if self.root is not None:
            with self._errors("write", key):
                return await asyncio.to_thread(_copy_in, local_path, self.root / key)
        import obstore

        with self._errors("write", key):
            await obstore.put_async(self._store, key, local_path)
        return await asyncio.to_thread(os.path.getsize, local_path)

    async def fetch_file(self, key: str, local_path: Path) -> None:
        """Copy the object at `key` to `local_path` (written under a temporary name, then renamed)."""
        temp = local_path.with_name(f"{local_path.name}{_TEMP_MARK}{uuid.uuid4().hex}")
        local_path.parent.mkdir(parents=True, exist_ok=True)
        try:
            if self.root is not None:
                with self._errors("read", key):
                    await asyncio.to_thread(shutil.copyfile, self.root / key, temp)
            else:
                import obstore

                with self._errors("read", key):
                    result = await obstore.get_async(self._store, key)
                    with temp.open("wb") as out:
                        async for chunk in result.stream():
                            out.write(chunk)
            os.replace(temp, local_path)
        finally:
            temp.unlink(missing_ok=True)

    async def list(self, prefix: str) -> list[ColdObject]:
        """Every object under `prefix` (files being copied in included: a sweep removes leftovers); [] for a
        missing prefix."""
        if self.root is not None:
            with self._errors("list", prefix):
                return await asyncio.to_thread(_walk, self.root, prefix)
        import obstore

        out: list[ColdObject] = []
        with self._errors("list", prefix):
            async for page in obstore.list(self._store, prefix, chunk_size=1000):
                out.extend(ColdObject(str(meta["path"]), int(meta["size"])) for meta in page)
        return out

    async def delete(self, keys: Sequence[str]) -> None:
        """Delete `keys`; one already gone is not an error."""
        if not keys:
            return
        if self.root is not None:
            with self._errors("delete", keys[0]):
                await asyncio.to_thread(_unlink_all, self.root, keys)
            return
        import obstore

        for start in range(0, len(keys), 1000):
            chunk = list(keys[start : start + 1000])
            try:
                with self._errors("delete", chunk[0]):
                    await obstore.delete_async(self._store, chunk)
            except ColdStoreUnreachable as exc:
                if not isinstance(exc.__cause__, FileNotFoundError):
                    raise
                for key in chunk:  # a store that reports missing keys: one by one, ignoring those
                    try:
                        await obstore.delete_async(self._store, key)
                    except FileNotFoundError:
                        continue

    async def close(self) -> None:
        self._store = None  # obstore releases its connection pool with the object

    @contextmanager
    def _errors(self, action: str, key: str) -> Iterator[None]:
        try:
            yield
        except ColdStoreUnreachable:
            raise
        except Exception as exc:  # obstore's errors, OSError (permissions, a full disk, a missing file)
            raise ColdStoreUnreachable(
                f"cold store {self.url}: cannot {action} {key}: {_first_line(exc)}"
            ) from exc


def _copy_in(source: Path, target: Path) -> int:
    target.parent.mkdir(parents=True, exist_ok=True)
    temp = target.with_name(f"{target.name}{_TEMP_MARK}{uuid.uuid4().hex}")
    try:
        shutil.copyfile(source, temp)
        with temp.open("rb") as handle:
            os.fsync(handle.fileno())
        os.replace(temp, target)
    finally:
        temp.unlink(missing_ok=True)
    return target.stat().st_size


def _unlink_all(root: Path, keys: Sequence[str]) -> None:
    for key in keys:
        (root / key).unlink(missing_ok=True)


def _walk(root: Path, prefix: str) -> list[ColdObject]:
    if root.exists() and not root.is_dir():  # a broken store, not an empty one: a purge must not pass it by
        raise NotADirectoryError(f"{root} is not a folder")
    base = root / prefix
    if not base.is_dir():
        return []
    out: list[ColdObject] = []
    for folder, _, names in os.walk(base):
        for name in names:
            path = Path(folder) / name
            out.append(ColdObject(path.relative_to(root).as_posix(), path.stat().st_size))
    return out
