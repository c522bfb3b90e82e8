"""`obsrvr-flow migrate`, `serve`, `worker` and `dev`: running the service (registered by `register`)."""

from __future__ import annotations

import inspect
import secrets
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import orjson
import typer
from pydantic import SecretStr

from core.errors import FlowError
from core.served import WORKER_DUTIES, served_lines
from core.settings import Settings
from core.tenant_config import TenantConfig
from obsrvr_flow.common import Stores, fail, load_settings, out, read_configs, registry, run

if TYPE_CHECKING:
    from processors.registry import Registry

DEMO_TENANT_FILE = Path("examples/tenants/acme-wallet.yaml")
SAMPLE_LEDGERS = Path(".obsrvr-flow/sample-ledgers")


def example_requests(processors: Registry, config: TenantConfig) -> tuple[str | None, str | None]:
    """What `dev` prints for a new user to try, from the tenant's own processors: the path of its first list
    route without path parameters, and a GraphQL body (JSON for curl -d) paging its first connection."""
    from graphql import get_named_type

    from api.rest_catalogue import enabled_routes
    from schema.build import schema_for

    names = processors.enabled_names(config)
    path = next(
        (r.path for r in enabled_routes(processors, names) if r.reading is None and not r.path_params), None
    )
    query_type = schema_for(processors, names).graphql_schema.query_type
    body = None
    for name, field in query_type.fields.items() if query_type is not None else ():
        node = getattr(get_named_type(field.type), "fields", {}).get("nodes")
        if get_named_type(field.type).name.endswith("Connection") and node is not None:
            row = get_named_type(node.type)
            selection = "id" if "id" in getattr(row, "fields", {}) else "__typename"
            body = orjson.dumps(
                {"query": f"{{ {name}(first: 5) {{ edges {{ node {{ {selection} }} }} }} }}"}
            ).decode()
            break
    return path, body


def migrate(
    revision: Annotated[str, typer.Option(help="Target revision")] = "head",
    downgrade: Annotated[bool, typer.Option(help="Downgrade to --revision instead")] = False,
) -> None:
    """Bring the database schema to a revision (default: head)."""
    from storage import migrate as migrations
    from storage.db import create_engine

    settings = load_settings()

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

    out.print(f"database at revision {run(work) or 'base'}")


def serve(
    host: Annotated[str, typer.Option(help="Address to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port")] = 8000,
) -> None:
    """Serve the API (uvicorn)."""
    _serve(load_settings(), host, port)


def worker(burst: Annotated[bool, typer.Option(help="Exit when the queue is empty")] = False) -> None:
    """Run an arq worker (needs OBSRVR_REDIS_URL): the jobs behind the API."""
    from ingest.collector import tune_for_ingestion
    from workers.worker import run_worker

    settings = load_settings()
    _configure_logging(settings)
    # A worker ingests for its whole life: its permanent heap (arq, and what the job context imports when it is
    # built: the engine, every processor, stellar-sdk, the outbox, the database layer) is imported here, then
    # frozen out of the collector's reach. Its decoding pool's processes freeze their own heap.
    import ingest.stream  # noqa: F401
    import services.webhooks.recorder  # noqa: F401
    import storage.db  # noqa: F401

    tune_for_ingestion()
    try:
        run_worker(settings, burst=burst)
    except (FlowError, ValueError) as exc:
        raise fail([str(exc)]) from exc


def dev(
    host: Annotated[str, typer.Option(help="Address to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port")] = 8000,
    tenant_file: Annotated[Path, typer.Option(help="Demo tenant YAML")] = DEMO_TENANT_FILE,
    live: Annotated[
        bool,
        typer.Option(
            "--live/--no-live",
            help="Keep adding simulated sample ledgers and ingest them as they appear (subscriptions see them)",
        ),
    ] = True,
    ledger_seconds: Annotated[
        float, typer.Option(help="Seconds between two simulated ledgers (with --live)", min=0.2)
    ] = 5.0,
) -> None:
    """Embedded mode in one step: migrate the SQLite database, onboard the demo tenant, print its demo key (the
    same one run after run while it stays valid), serve. A port in use is refused before anything else.

    With --live (the default) a small simulated network keeps writing a new sample ledger every
    --ledger-seconds into .obsrvr-flow/sample-ledgers, and the server ingests each one as it appears."""
    from obsrvr_flow.dev_keys import DEMO_KEYS_FILE, demo_key, read_saved, write_saved
    from obsrvr_flow.dev_live import NetworkThread, align_live_tail, subscription_example
    from obsrvr_flow.ports import port_problem
    from services.onboarding import apply_tenant, tenant_links
    from storage import migrate as migrations
    from storage.db import create_engine

    # Before anything is migrated, ingested, issued or printed: a busy port would only fail once all that is done.
    problem = port_problem(host, port)
    if problem is not None:
        raise fail([problem])
    settings = load_settings()
    if "log_format" not in settings.model_fields_set:  # a person reads dev's logs: text unless asked for JSON
        settings = settings.model_copy(update={"log_format": "text"})
    if settings.admin_token is None:
        settings = settings.model_copy(update={"admin_token": SecretStr(secrets.token_urlsafe(24))})
    settings = settings.model_copy(update={"public_url": f"http://{host}:{port}"})
    if (
        "webhook_allow_private" not in settings.model_fields_set
    ):  # webhooks to `webhooks listen` on this machine
        settings = settings.model_copy(update={"webhook_allow_private": True})
    network = None
    if live and settings.pubnet_source is None:
        from ledgers.samples.network import SimulatedNetwork

        # The live tail (run in this process, see obsrvr_flow.wiring) follows the simulated network's folder.
        settings = settings.model_copy(update={"pubnet_source": str(SAMPLE_LEDGERS.resolve())})
        network = SimulatedNetwork.resume(SAMPLE_LEDGERS)
    configs = read_configs(tenant_file)

    async def prepare() -> list[tuple[str, str]]:
        engine = create_engine(settings.database_url)
        try:
            await migrations.upgrade(engine)
        finally:
            await engine.dispose()
        keys = []
        saved = read_saved(DEMO_KEYS_FILE)
        async with Stores(settings) as stores:
            for config in configs:
                done = await apply_tenant(stores.tenants, stores.keys, config)
                secret = await demo_key(stores.keys, done.tenant.id, done.key, saved.get(done.tenant.id))
                keys.append((done.tenant.id, secret))
                saved[done.tenant.id] = secret
            write_saved(DEMO_KEYS_FILE, saved)
            await _ingest_samples(stores.engine, configs)
            if network is not None:
                await align_live_tail(stores.engine, network)
        return keys

    keys = run(prepare)
    examples = {config.customer.id: example_requests(registry(), config) for config in configs}
    admin_token = settings.admin_token.get_secret_value() if settings.admin_token else ""
    out.rule("Obsrvr Flow - embedded mode")
    out.print(f"start page http://{host}:{port}/ (console, docs, GraphiQL, health)", highlight=False)
    out.print(f"database   {settings.database_url}", highlight=False)
    out.print(f"admin      Authorization: Bearer {admin_token}", highlight=False)
    for tenant_id, secret in keys:
        links = tenant_links(settings, tenant_id)
        out.print(f"tenant     {tenant_id}", highlight=False)
        out.print(f"api key    {secret}", highlight=False)
        out.print("try:", highlight=False)
        auth = f"-H 'Authorization: Bearer {secret}'"
        out.print(f"  curl {auth} {links['discovery_url']}", highlight=False)
        rest_path, graphql_body = examples[tenant_id]
        if rest_path is not None:
            out.print(
                f"  curl {auth} '{links['discovery_url']}{rest_path.lstrip('/')}?limit=5'", highlight=False
            )
        if graphql_body is not None:
            out.print(
                f"  curl {auth} -H 'Content-Type: application/json' {links['graphql_url']} -d '{graphql_body}'",
                highlight=False,
            )
        out.print(
            f"  open {links['docs_url']} (REST docs) or {links['graphql_url']} (GraphiQL)", highlight=False
        )
        subscription = subscription_example(
            registry(), next(c for c in configs if c.customer.id == tenant_id)
        )
        if live and subscription is not None:
            out.print(
                f"  subscribe in GraphiQL (rows arrive as ledgers close): {subscription}", highlight=False
            )
        out.print(f"  curl http://{host}:{port}/readyz", highlight=False)
        out.print(
            f"  curl -H 'Authorization: Bearer {admin_token}' http://{host}:{port}/admin/tenants",
            highlight=False,
        )
    if network is not None:
        out.print(
            f"live       a new sample ledger every {ledger_seconds:g} s after ledger {network.last_ledger} "
            f"(simulated network in {SAMPLE_LEDGERS}), ingested as it appears; --no-live turns it off",
            highlight=False,
        )
    elif live:  # OBSRVR_PUBNET_SOURCE set: no simulation, the live tail follows that source
        out.print(f"live       following {settings.pubnet_source} with the live tail", highlight=False)
    out.rule()
    if network is None:
        _serve(settings, host, port, live_tails=live)
        return
    producer = NetworkThread(network, ledger_seconds)
    producer.start()
    try:
        _serve(settings, host, port, live_tails=True)
    finally:
        producer.stop()


async def _ingest_samples(engine: Any, configs: list[TenantConfig]) -> None:
    """Write the project's sample ledgers (built with stellar-sdk, see ledgers/samples) as a datastore under
    .obsrvr-flow/ and ingest them for the demo tenants, so a new user's first request returns rows."""
    from core.settings import Network
    from ingest.engine import IngestEngine, plan_tenants
    from ingest.stream import ingest_stream
    from ledgers.samples import ensure_sample_datastore
    from ledgers.sources import open_source
    from services.webhooks.recorder import outbox_for

    info = ensure_sample_datastore(SAMPLE_LEDGERS)
    plans = [p for p in plan_tenants(configs, registry().catalogue(), Network.pubnet) if p.processors]
    if not plans:
        return
    source = await open_source(str(SAMPLE_LEDGERS), Network.pubnet)
    try:
        report = await ingest_stream(
            source.ledgers(info.first_ledger, info.last_ledger),
            IngestEngine(engine, Network.pubnet, plans=plans, outbox=outbox_for(registry())),
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


def _serve(settings: Settings, host: str, port: int, *, live_tails: bool = False) -> None:
    import uvicorn

    from obsrvr_flow.wiring import build_app, freeze_heap_after_startup

    _configure_logging(settings)
    # GraphQL documents are prepared in a thread (schema.guards): the event loop waits for the GIL at most this
    # long each time it wakes up while that thread runs (5 ms by default: see docs/decisions.md "Fairness").
    sys.setswitchinterval(0.001)
    # Our logging as configured (log_config=None keeps uvicorn's own handlers out) and our access log
    # (api.middleware.access_log) instead of uvicorn's.
    from obsrvr_flow.websocket_protocol import websocket_protocol

    uvicorn.run(
        freeze_heap_after_startup(build_app(settings, live_tails=live_tails)),
        # A slow consumer's 4408 with its resume id must come before uvicorn's keep-alive gives up (1011, no id):
        # the writer's stall is seen within 1.5 ping intervals of the kernel's (bounded) buffers filling,
        # uvicorn's ping fails after 1 + 3 intervals (api.graphql_ws.connection, obsrvr_flow.websocket_protocol).
        ws=websocket_protocol(settings.websocket_socket_send_buffer_bytes),
        ws_ping_interval=settings.websocket_ping_seconds,
        ws_ping_timeout=3 * settings.websocket_ping_seconds,
        host=host,
        port=port,
        proxy_headers=True,
        log_level=settings.log_level.lower(),
        log_config=None,
        access_log=False,
        # A GraphQL GET carries its document in the request line: h11 buffers 16 KiB of an incomplete request
        # line and headers by default, so a longer query string was cut (a reset) before the body-limit
        # middleware could answer it; up to the GraphQL limit (and 16 KiB of headers) it is read and answered.
        h11_max_incomplete_event_size=settings.graphql_max_body_bytes + 16_384,
    )


def served_help(summary: str) -> str:
    """A command's help: its summary, then what the service serves (`core.served`, the same list as `GET /`,
    discovery and the README)."""
    lines = "\n".join(f"- {line}" for line in served_lines())
    return f"{summary}\n\nServed:\n\n{lines}"


def register(app: typer.Typer) -> None:
    """Add `migrate`, `serve`, `worker` and `dev` to the command line."""
    app.command()(migrate)
    app.command(help=served_help(inspect.getdoc(serve) or ""))(serve)
    app.command(help=f"{inspect.getdoc(worker)}\n\nJobs: {WORKER_DUTIES}.")(worker)
    app.command(help=served_help(inspect.getdoc(dev) or ""))(dev)
