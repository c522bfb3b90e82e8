"""The `obsrvr-flow` command line. Every command reads the same settings (OBSRVR_* environment variables),
so the CLI, the API and the workers see the same database."""

from __future__ import annotations

import asyncio
import logging
import secrets
import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from pydantic import SecretStr, ValidationError
from rich.console import Console
from rich.table import Table

from core.errors import ConfigError, FlowError
from core.settings import Settings
from core.tenant_config import TenantConfig, parse_tenant_documents
from processors.registry import catalogue

T = TypeVar("T")

app = typer.Typer(no_args_is_help=True, add_completion=False, help="Obsrvr Flow: hosted Stellar data API.")
tenants_app = typer.Typer(no_args_is_help=True, help="Validate, apply and list tenants.")
keys_app = typer.Typer(no_args_is_help=True, help="Create, list and revoke API keys.")
app.add_typer(tenants_app, name="tenants")
app.add_typer(keys_app, name="keys")

out = Console(soft_wrap=True)
err = Console(stderr=True)
DEMO_TENANT_FILE = Path("examples/tenants/acme-wallet.yaml")


def _fail(lines: list[str], code: int = 1) -> typer.Exit:
    for line in lines:
        err.print(f"[red]error:[/red] {line}", highlight=False, markup=True, soft_wrap=True)
    return typer.Exit(code)


def _settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        lines = [
            f"OBSRVR_{'_'.join(str(p) for p in e['loc']).upper() or 'SETTINGS'}: {e['msg']}"
            for e in exc.errors()
        ]
        raise _fail(lines, 2) from exc


def _run(work: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run one async command body, turning service errors into clear messages and exit codes."""
    try:
        return asyncio.run(work())
    except ConfigError as exc:
        raise _fail(exc.errors) from exc
    except FlowError as exc:
        raise _fail([exc.message if exc.expose else f"{type(exc).__name__}: {exc}"]) from exc


def _read_configs(path: Path) -> list[TenantConfig]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise _fail([f"{path}: {exc.strerror or exc}"]) from exc
    try:
        return parse_tenant_documents(text, catalogue())
    except ConfigError as exc:
        raise _fail([f"{path}: {line}" for line in exc.errors]) from exc


class _Stores:
    """The storage objects a CLI command needs, opened for the command and closed after it."""

    def __init__(self, settings: Settings) -> None:
        from storage.api_keys import ApiKeyStore
        from storage.db import create_engine
        from storage.tenants import TenantStore

        self.engine = create_engine(settings.database_url)
        self.tenants = TenantStore(self.engine)
        self.keys = ApiKeyStore(self.engine, settings.pepper)

    async def __aenter__(self) -> _Stores:
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


# --- tenants -------------------------------------------------------------------------------------------


@tenants_app.command("validate")
def tenants_validate(
    file: Annotated[Path, typer.Argument(help="Tenant YAML (one or more documents)")],
) -> None:
    """Validate a tenant file and print a summary; a bad file exits 1 with one line per problem."""
    configs = _read_configs(file)
    for config in configs:
        for line in config.summary_lines():
            out.print(line, highlight=False)
    out.print(f"{file}: valid ({len(configs)} tenant{'s' if len(configs) != 1 else ''})", highlight=False)


@tenants_app.command("apply")
def tenants_apply(file: Annotated[Path, typer.Argument(help="Tenant YAML (one or more documents)")]) -> None:
    """Create each tenant of the file (printing its first API key) or update its configuration."""
    from api.onboarding import apply_tenant

    configs = _read_configs(file)
    settings = _settings()

    async def work() -> list[str]:
        new_keys = []
        async with _Stores(settings) as stores:
            for config in configs:
                done = await apply_tenant(stores.tenants, stores.keys, config)
                verb = "created" if done.created else f"updated (config version {done.tenant.config_version})"
                out.print(f"tenant {done.tenant.id}: {verb}", highlight=False)
                if done.key is not None:
                    out.print(f"  key {done.key.key.id} (prefix {done.key.key.prefix}), shown once:")
                    new_keys.append(done.key.secret)
        return new_keys

    for secret in _run(work):
        print(secret)


@tenants_app.command("list")
def tenants_list() -> None:
    """List tenants."""
    settings = _settings()

    async def work() -> list[Any]:
        async with _Stores(settings) as stores:
            return await stores.tenants.list()

    table = Table("id", "name", "network", "config version", "updated")
    for t in _run(work):
        table.add_row(
            t.id, t.name, t.network, str(t.config_version), t.updated_at.isoformat(timespec="seconds")
        )
    out.print(table)


@tenants_app.command("delete")
def tenants_delete(tenant_id: str) -> None:
    """Delete a tenant and its API keys."""
    settings = _settings()

    async def work() -> bool:
        async with _Stores(settings) as stores:
            return await stores.tenants.delete(tenant_id)

    if not _run(work):
        raise _fail([f"no tenant '{tenant_id}'"])
    out.print(f"tenant {tenant_id}: deleted")


# --- keys ----------------------------------------------------------------------------------------------


@keys_app.command("create")
def keys_create(
    tenant_id: str,
    scope: Annotated[list[str] | None, typer.Option("--scope", help="Repeatable; default read:*")] = None,
    name: Annotated[str | None, typer.Option(help="A label for the key")] = None,
) -> None:
    """Create an API key; the key is printed alone on the last line of stdout."""
    from api.onboarding import check_scopes

    settings = _settings()

    async def work() -> str:
        async with _Stores(settings) as stores:
            if await stores.tenants.get(tenant_id) is None:
                raise FlowError(f"no tenant '{tenant_id}'", code="tenant_not_found", status=404)
            issued = await stores.keys.create(tenant_id, check_scopes(scope), name=name)
            out.print(
                f"key {issued.key.id} (prefix {issued.key.prefix}, scopes {', '.join(issued.key.scopes)})"
            )
            return issued.secret

    secret = _run(work)
    print(secret)


@keys_app.command("list")
def keys_list(tenant_id: str) -> None:
    """List a tenant's keys (ids and prefixes; secrets are never stored)."""
    settings = _settings()

    async def work() -> list[Any]:
        async with _Stores(settings) as stores:
            return await stores.keys.list(tenant_id)

    table = Table("id", "prefix", "name", "scopes", "created", "last used", "revoked")
    for k in _run(work):
        table.add_row(
            k.id,
            k.prefix,
            k.name or "",
            " ".join(k.scopes),
            k.created_at.isoformat(timespec="seconds"),
            k.last_used_at.isoformat(timespec="seconds") if k.last_used_at else "",
            k.revoked_at.isoformat(timespec="seconds") if k.revoked_at else "",
        )
    out.print(table)


@keys_app.command("revoke")
def keys_revoke(tenant_id: str, key_id: str) -> None:
    """Revoke an API key."""
    settings = _settings()

    async def work() -> bool:
        async with _Stores(settings) as stores:
            return await stores.keys.revoke(tenant_id, key_id)

    if not _run(work):
        raise _fail([f"no active key '{key_id}' for tenant '{tenant_id}'"])
    out.print(f"key {key_id}: revoked")


# --- service -------------------------------------------------------------------------------------------


@app.command()
def migrate(
    revision: Annotated[str, typer.Option(help="Target revision")] = "head",
    downgrade: Annotated[bool, typer.Option(help="Downgrade to --revision instead")] = False,
) -> None:
    """Bring the database schema to a revision (default: head)."""
    from storage import migrate as migrations
    from storage.db import create_engine

    settings = _settings()

    async def work() -> str | None:
        engine = create_engine(settings.database_url)
        try:
            if downgrade:
                await migrations.downgrade(engine, revision)
            else:
                await migrations.upgrade(engine, revision)
            return await migrations.current_revision(engine)
        finally:
            await engine.dispose()

    out.print(f"database at revision {_run(work) or 'base'}")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port")] = 8000,
) -> None:
    """Serve the API (uvicorn)."""
    _serve(_settings(), host, port)


@app.command()
def worker(burst: Annotated[bool, typer.Option(help="Exit when the queue is empty")] = False) -> None:
    """Run an arq worker (needs OBSRVR_REDIS_URL): ingestion, archival, webhooks, maintenance."""
    from workers.worker import run_worker

    settings = _settings()
    _configure_logging(settings)
    try:
        run_worker(settings, burst=burst)
    except (FlowError, ValueError) as exc:
        raise _fail([str(exc)]) from exc


@app.command()
def dev(
    host: Annotated[str, typer.Option(help="Address to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port")] = 8000,
    tenant_file: Annotated[Path, typer.Option(help="Demo tenant YAML")] = DEMO_TENANT_FILE,
) -> None:
    """Embedded mode in one step: migrate the SQLite database, onboard the demo tenant, print a key, serve."""
    from api.onboarding import apply_tenant, tenant_links
    from storage import migrate as migrations
    from storage.db import create_engine

    settings = _settings()
    if settings.admin_token is None:
        settings = settings.model_copy(update={"admin_token": SecretStr(secrets.token_urlsafe(24))})
    settings = settings.model_copy(update={"public_url": f"http://{host}:{port}"})
    configs = _read_configs(tenant_file)

    async def prepare() -> list[tuple[str, str]]:
        engine = create_engine(settings.database_url)
        try:
            await migrations.upgrade(engine)
        finally:
            await engine.dispose()
        keys = []
        async with _Stores(settings) as stores:
            for config in configs:
                done = await apply_tenant(stores.tenants, stores.keys, config)
                issued = done.key or await stores.keys.create(done.tenant.id, ("read:*",), name="dev")
                keys.append((done.tenant.id, issued.secret))
        return keys

    keys = _run(prepare)
    admin_token = settings.admin_token.get_secret_value() if settings.admin_token else ""
    out.rule("Obsrvr Flow - embedded mode")
    out.print(f"database   {settings.database_url}", highlight=False)
    out.print(f"admin      Authorization: Bearer {admin_token}", highlight=False)
    for tenant_id, secret in keys:
        links = tenant_links(settings, tenant_id)
        out.print(f"tenant     {tenant_id}", highlight=False)
        out.print(f"api key    {secret}", highlight=False)
        out.print("try:", highlight=False)
        out.print(f"  curl -H 'Authorization: Bearer {secret}' {links['discovery_url']}", highlight=False)
        out.print(f"  curl http://{host}:{port}/readyz", highlight=False)
        out.print(
            f"  curl -H 'Authorization: Bearer {admin_token}' http://{host}:{port}/admin/tenants",
            highlight=False,
        )
    out.rule()
    _serve(settings, host, port)


def _configure_logging(settings: Settings) -> None:
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def _serve(settings: Settings, host: str, port: int) -> None:
    import uvicorn

    from obsrvr_flow.wiring import build_app

    _configure_logging(settings)
    uvicorn.run(
        build_app(settings), host=host, port=port, proxy_headers=True, log_level=settings.log_level.lower()
    )


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
