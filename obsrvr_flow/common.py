"""What every `obsrvr-flow` command shares: the consoles, settings, running an async body with clear errors,
reading tenant files, and the stores a command opens for its duration.

Every command reads the same settings (OBSRVR_* environment variables) and the service's processor registry, so
the CLI, the API and the workers see the same database and the same processors.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Coroutine, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from core.errors import ConfigError, FlowError
from core.settings import Settings
from core.tenant_config import TenantConfig, parse_tenant_documents

if TYPE_CHECKING:
    from processors.registry import Registry

T = TypeVar("T")

out = Console(soft_wrap=True)
err = Console(stderr=True)


def fail(lines: list[str], code: int = 1) -> typer.Exit:
    """Print each line as an error on standard error; the caller raises the returned exit."""
    for line in lines:
        err.print(f"[red]error:[/red] {line}", highlight=False, markup=True, soft_wrap=True)
    return typer.Exit(code)


def print_table(headers: Sequence[str], rows: Iterable[Sequence[str]]) -> None:
    """A table on standard output: boxed and fitted to the width on a terminal; otherwise tab-separated lines of
    whole values (a fitted table cuts long values such as key ids, which a script or a copy then cannot use)."""
    if out.is_terminal:
        table = Table(*headers)
        for row in rows:
            table.add_row(*row)
        out.print(table)
        return
    for line in (headers, *rows):
        print("\t".join(line))


def load_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        lines = [
            f"OBSRVR_{'_'.join(str(p) for p in e['loc']).upper() or 'SETTINGS'}: {e['msg']}"
            for e in exc.errors()
        ]
        raise fail(lines, 2) from exc


def registry() -> Registry:
    """The service's processors, validated (a broken processor fails the command with its name).

    Imported here, by the commands that use it: the processors bring the Stellar SDK and every extractor, about
    a second of CPU that `--help` and the commands working on keys or endpoints alone do not need."""
    from processors.registry import default_registry

    try:
        return default_registry()
    except FlowError as exc:
        raise fail([exc.message]) from exc


def run(work: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run one async command body, turning service errors into clear messages and exit codes."""
    try:
        return asyncio.run(work())
    except ConfigError as exc:
        raise fail(exc.errors) from exc
    except FlowError as exc:
        # The operator reads the message itself: a class name ("FlowError: ...") tells them nothing more.
        raise fail([exc.message]) from exc


def read_configs(path: Path) -> list[TenantConfig]:
    """Every tenant of a YAML file, validated; a bad file exits 1 with one `path: problem` line each."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise fail([f"{path}: {exc.strerror or exc}"]) from exc
    try:
        return parse_tenant_documents(text, registry().catalogue())
    except ConfigError as exc:
        raise fail([f"{path}: {line}" for line in exc.errors]) from exc


class Stores:
    """The storage objects a command needs, opened for the command and closed after it; refuses to run on a
    database that is not at the migration head."""

    def __init__(self, settings: Settings) -> None:
        from storage.api_keys import ApiKeyStore
        from storage.db import create_engine
        from storage.tenants import TenantStore

        self.engine = create_engine(settings.database_url)
        self.tenants = TenantStore(self.engine)
        self.keys = ApiKeyStore(self.engine, settings.pepper)

    async def __aenter__(self) -> Stores:
        from storage.migrate import current_revision, head_revision

        current = await current_revision(self.engine)
        if current != head_revision():
            await self.engine.dispose()
            raise FlowError(
                f"the database is at migration {current or 'nothing'}, head is {head_revision()}: "
                "run `obsrvr-flow migrate` first",
                code="not_migrated",
                status=503,
            )
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.engine.dispose()


@contextlib.asynccontextmanager
async def job_queue(settings: Settings) -> AsyncIterator[Any]:
    """The arq queue when Redis is configured, else None (embedded mode has no workers to hand jobs to).

    Redis unreachable: a queue whose enqueues raise `QueueUnavailable` (a command that records work, such as
    `tenants apply`, succeeds and the workers queue that work once Redis is back)."""
    if settings.redis_url is None:
        yield None
        return
    from storage.jobs import ArqJobQueue, JobQueue, UnreachableJobQueue
    from storage.redis_breaker import OUTAGE_ERRORS

    queue: JobQueue
    try:
        queue = await ArqJobQueue.connect(settings.redis_url, settings.queue_name, retries=0)
    except OUTAGE_ERRORS as exc:
        queue = UnreachableJobQueue(f"{type(exc).__name__}: {exc}")
    try:
        yield queue
    finally:
        await queue.close()
