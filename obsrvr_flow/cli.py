"""The `obsrvr-flow` command line. Every command reads the same settings (OBSRVR_* environment variables),
so the CLI, the API and the workers see the same database."""

from __future__ import annotations

import asyncio
import secrets
import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from pydantic import SecretStr, ValidationError
from rich.console import Console

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
SAMPLE_LEDGERS = Path(".obsrvr-flow/sample-ledgers")

# Printed by `dev`: a first GraphQL request (JSON body for curl -d).
EXAMPLE_GRAPHQL = (
    '{"query": "{ tokenTransfers(first: 5) { edges { node { id eventType from to asset amount } } } }"}'
)


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
    from services.onboarding import apply_tenant, tenant_links
    from storage import migrate as migrations
    from storage.db import create_engine

    settings = _settings()
    if "log_format" not in settings.model_fields_set:  # a person reads dev's logs: text unless asked for JSON
        settings = settings.model_copy(update={"log_format": "text"})
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
            await _ingest_samples(stores.engine, configs)
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
        auth = f"-H 'Authorization: Bearer {secret}'"
        out.print(f"  curl {auth} {links['discovery_url']}", highlight=False)
        out.print(f"  curl {auth} '{links['discovery_url']}token-transfers?limit=5'", highlight=False)
        out.print(
            f"  curl {auth} -H 'Content-Type: application/json' {links['graphql_url']} -d '{EXAMPLE_GRAPHQL}'",
            highlight=False,
        )
        out.print(
            f"  open {links['docs_url']} (REST docs) or {links['graphql_url']} (GraphiQL)", highlight=False
        )
        out.print(f"  curl http://{host}:{port}/readyz", highlight=False)
        out.print(
            f"  curl -H 'Authorization: Bearer {admin_token}' http://{host}:{port}/admin/tenants",
            highlight=False,
        )
    out.rule()
    _serve(settings, host, port)


async def _ingest_samples(engine: Any, configs: list[TenantConfig]) -> None:
    """Write the project's sample ledgers (built with stellar-sdk, see ledgers/samples) as a datastore under
    .obsrvr-flow/ and ingest them for the demo tenants, so a new user's first request returns rows."""
    from core.settings import Network
    from ingest.engine import IngestEngine, plan_tenants
    from ingest.stream import ingest_stream
    from ledgers.samples import ensure_sample_datastore
    from ledgers.sources import open_source

    info = ensure_sample_datastore(SAMPLE_LEDGERS)
    plans = [p for p in plan_tenants(configs, catalogue(), Network.pubnet) if p.processors]
    if not plans:
        return
    source = await open_source(str(SAMPLE_LEDGERS), Network.pubnet)
    try:
        report = await ingest_stream(
            source.ledgers(info.first_ledger, info.last_ledger),
            IngestEngine(engine, Network.pubnet, plans=plans),
        )
    finally:
        await source.close()
    out.print(
        f"sample ledgers {report.first}-{report.last} ingested from {SAMPLE_LEDGERS} for "
        f"{', '.join(p.tenant_id for p in plans)}",
        highlight=False,
    )


def _configure_logging(settings: Settings) -> None:
    from obsrvr_flow.logs import configure_logging

    configure_logging(settings)


def _serve(settings: Settings, host: str, port: int) -> None:
    import uvicorn

    from obsrvr_flow.wiring import build_app

    _configure_logging(settings)
    # Our logging as configured (log_config=None keeps uvicorn's own handlers out) and our access log
    # (api.middleware.access_log) instead of uvicorn's.
    uvicorn.run(
        build_app(settings),
        host=host,
        port=port,
        proxy_headers=True,
        log_level=settings.log_level.lower(),
        log_config=None,
        access_log=False,
    )


def main() -> None:
    # The other command modules register themselves on `app`; imported here so `cli` stays importable alone.
    import obsrvr_flow.data_commands
    import obsrvr_flow.tenant_commands  # noqa: F401

    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
