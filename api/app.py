"""`create_app(settings)`: the ASGI application. Everything is built in the lifespan from the settings
passed in; nothing connects at import time."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import CollectorRegistry
from starlette.applications import Starlette
from starlette.middleware import Middleware

from api import (
    admin,
    admin_live,
    admin_webhook_history,
    admin_webhooks,
    console,
    discovery,
    graphiql,
    graphql,
    health,
    home,
    metrics,
    rest,
)
from api.admin_credentials import AdminVerifier
from api.app_metrics import ApiMetrics
from api.errors import EXCEPTION_HANDLERS
from api.graphql_ws.registry import Connections
from api.middleware.access_log import AccessLogMiddleware
from api.middleware.admin_auth import AdminAuthMiddleware
from api.middleware.allowlist import IpAllowlistMiddleware
from api.middleware.auth import ApiKeyAuthMiddleware
from api.middleware.body_limit import BodyLimitMiddleware
from api.middleware.database_outage import DatabaseOutageMiddleware
from api.middleware.http_metrics import HttpMetricsMiddleware
from api.middleware.latest_ledger import LatestLedgerMiddleware
from api.middleware.ratelimit import RateLimitMiddleware
from api.middleware.request_id import RequestIdMiddleware
from api.middleware.usage import UsageMiddleware
from api.response_cache import ResponseCache
from api.state import AppState
from core.settings import Settings
from processors.registry import Registry, default_registry
from schema.validation_pool import ValidationPool
from services.startup import check_startup
from services.subscriptions import SubscriptionHub
from services.subscriptions.collector import QuietCollector
from storage.api_keys import ApiKeyStore
from storage.audit import AuditLog
from storage.backends import open_backends
from storage.cold.reader import ColdReader
from storage.db import create_engine
from storage.jobs import InProcessJobQueue
from storage.router import QueryRouter
from storage.tenants import TenantStore
from storage.usage import UsageCounters

log = logging.getLogger("obsrvr_flow.api")

JobFunction = Callable[..., Awaitable[Any]]


@dataclass(frozen=True)
class JobWiring:
    """The job functions and how to build their context, handed in by the composition root.

    In the embedded mode the in-process runner executes these same functions with the same context as
    the arq workers do; `api` itself never imports `workers`. `open_context` gets the app's metrics registry,
    so the jobs run here record their ingestion counters where this app's `/metrics` shows them.
    """

    functions: Mapping[str, JobFunction]
    open_context: Callable[[CollectorRegistry], Awaitable[dict[str, Any]]]
    close_context: Callable[[dict[str, Any]], Awaitable[None]]
    periodic: Mapping[str, float] = field(default_factory=dict)
    """Job name -> interval in seconds: what the workers' arq crons run, run here by the in-process runner
    (embedded mode only; with Redis the workers run them)."""
    webhook_periodic: Mapping[str, float] = field(default_factory=dict)
    """The same for the webhook queue's runner (the delivery sweep)."""
    concurrency: int = 1
    """Jobs the in-process runner runs at once (embedded mode only): 2 where a live tail, which holds a runner
    for its whole budget, runs beside the other jobs."""


def create_app(
    settings: Settings, *, registry: Registry | None = None, jobs: JobWiring | None = None
) -> Starlette:
    """The service's ASGI app, built from `settings`, the processors of `registry` (default: the service's
    own) and the job wiring, for in-process jobs. Start-up fails, naming the processors at fault, when their
    tables or GraphQL parts do not fit (`services.startup`)."""
    processors = registry if registry is not None else default_registry()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        # A short wait for a pool slot: when PostgreSQL hangs, connects hold the slots (5 s each) and the
        # requests queued behind them answer 503 within seconds rather than after the pool's default 30 s.
        engine = create_engine(settings.database_url, pool_timeout=settings.database_pool_timeout_seconds)
        try:
            await check_startup(engine, processors)
        except BaseException:
            await engine.dispose()
            raise
        # One metrics registry per app, never the process-wide default: apps (and tests) never share series.
        metrics_registry = CollectorRegistry()
        ctx = (
            await jobs.open_context(metrics_registry)
            if jobs is not None
            else {"settings": settings, "engine": engine}
        )
        backends = await open_backends(
            settings, jobs.functions if jobs else {}, ctx, job_concurrency=jobs.concurrency if jobs else 1
        )
        if jobs is not None and isinstance(backends.jobs, InProcessJobQueue):
            for name, every in jobs.periodic.items():
                backends.jobs.repeat(name, every)
        if jobs is not None and isinstance(backends.webhook_jobs, InProcessJobQueue):
            for name, every in jobs.webhook_periodic.items():
                backends.webhook_jobs.repeat(name, every)
        # Cold reads: the router reads a tenant's archived rows from here (none archived: never touched).
        cold = ColdReader.from_settings(settings, engine)
        audit = AuditLog(engine, settings.audit_flush_seconds)
        usage = UsageCounters(engine, settings.audit_flush_seconds)
        router = QueryRouter(engine, cold=cold, on_cold_read=usage.record_cold_read)
        keys = ApiKeyStore(engine, settings.pepper)
        # GraphQL subscriptions: rows from pub/sub after commit (Redis, or in-process in the embedded mode),
        # caught up through the router; WebSocket connections are counted and their keys rechecked here.
        # Full garbage collections after a fan-out, not during one (`services.subscriptions.collector`).
        subscriptions = SubscriptionHub(backends.pubsub, router, settings, QuietCollector())
        websockets = Connections(keys.verify, settings.auth_cache_seconds)
        app.state.flow = AppState(
            settings=settings,
            engine=engine,
            tenants=TenantStore(engine),
            keys=keys,
            audit=audit,
            usage=usage,
            backends=backends,
            admin=AdminVerifier(settings),
            # Reads that reach the cold tier are counted per tenant (the cost report prices them).
            router=router,
            registry=processors,
            metrics=ApiMetrics(metrics_registry, backends.breaker),
            response_cache=ResponseCache(
                backends.cache, router, max_entry_bytes=settings.response_cache_max_entry_bytes
            ),
            # Its process builds the schemas of the service's own processors: other registries (tests) validate
            # in the preparation thread.
            validation_pool=ValidationPool() if processors is default_registry() else None,
            websockets=websockets,
            subscriptions=subscriptions,
        )
        audit.start()
        usage.start()
        try:
            yield
        finally:
            await websockets.close()
            await subscriptions.close()
            if app.state.flow.validation_pool is not None:
                app.state.flow.validation_pool.close()
            await usage.close()
            await audit.close()
            await backends.close()
            await cold.close()
            await cold.store.close()
            if jobs is not None:
                await jobs.close_context(ctx)
            await engine.dispose()

    return Starlette(
        routes=[
            *home.routes,
            *health.routes,
            *metrics.routes,
            *admin.routes,
            *admin_live.routes,
            *admin_webhooks.routes,
            *admin_webhook_history.routes,
            *discovery.routes,
            *graphql.routes,
            *graphiql.routes,
            *console.routes,
            *rest.tenant_routes(processors),
        ],
        middleware=[
            Middleware(RequestIdMiddleware),
            Middleware(AccessLogMiddleware),
            Middleware(HttpMetricsMiddleware),
            Middleware(DatabaseOutageMiddleware),
            Middleware(AdminAuthMiddleware),
            Middleware(ApiKeyAuthMiddleware),
            Middleware(LatestLedgerMiddleware),
            Middleware(IpAllowlistMiddleware),
            Middleware(RateLimitMiddleware),
            Middleware(UsageMiddleware),
            Middleware(BodyLimitMiddleware),
        ],
        exception_handlers=dict(EXCEPTION_HANDLERS),
        lifespan=lifespan,
    )
