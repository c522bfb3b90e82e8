"""The console at `/console`: onboarding, a tenant's dashboard and its live feed, in the browser (issue 17).

The page is static HTML holding no data (public, like the docs page and GraphiQL); its script and style
(`web/console/`, bundled with the graphql-ws client by `web/build.mjs` into `api/static/console/`, git-ignored,
built by `make web`) come from this service, never a CDN. The page asks for the admin token (kept in the tab's
session storage: it is the operator's credential, not to outlive the tab) and/or a tenant's API key (kept in the
local-storage item GraphiQL reads, ``obsrvr-flow:api-key``) and calls the existing JSON APIs with them:
`/admin/...` (processor catalogue, tenants, keys, webhooks) and `/api/v1/{id}/...` (discovery, ingestion,
usage, GraphQL).

Also here, the JSON the console needs that no route served before: the processor catalogue (`GET
/admin/processors`: each processor's config JSON Schema from its pydantic model, what it requires, its events and
subscriptions, and the schemas of the tenant's storage and API settings) and a tenant's ingestion per processor
(`GET /api/v1/{id}/ingestion` with the tenant's key; the admin route is `api.admin`'s).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from api import bundles
from api.admin import webhook_endpoints
from api.rest_rows import json_response
from api.state import app_state
from core.errors import BadRequest, ConfigError
from core.settings import Network
from core.tenant_config import ApiConfig, StorageConfig, parse_off_the_loop
from processors.registry import Registry
from services.ingestion_progress import ingestion_progress
from storage.tables import utcnow

BUNDLE = Path(__file__).resolve().parent / "static" / "console"
PATH = "/console"
ASSETS_PATH = "/assets/console"
ASSETS = {"console.js": "text/javascript; charset=utf-8", "console.css": "text/css; charset=utf-8"}
HEADERS = bundles.HEADERS
_PAGE = bundles.shell("Console", ASSETS_PATH, "console", "console", "Loading the console…")

_NOT_BUILT = bundles.not_built(
    "The console",
    "its console",
    "Meanwhile everything the console shows is in the JSON APIs: <code>/admin/tenants</code> and\n"
    "<code>/admin/processors</code> with the admin token, and <code>/api/v1/&lt;tenant&gt;/</code> with a tenant's"
    " key.",
)


def built() -> bool:
    """Whether `make web` has built the console's assets."""
    return bundles.is_built(BUNDLE, ASSETS)


async def page(request: Request) -> Response:
    return HTMLResponse(_PAGE if built() else _NOT_BUILT, headers=HEADERS)


async def asset(request: Request) -> Response:
    return bundles.asset_response(BUNDLE, ASSETS, request.path_params["name"], "the console's")


def processor_catalogue(registry: Registry) -> dict[str, Any]:
    """Every processor a tenant may pick, with the JSON Schema of its ``config:`` block (its pydantic model),
    the processors it requires, its webhook events and GraphQL subscriptions; and the schemas of the tenant
    document's ``storage:`` and ``api:`` blocks. The console generates its onboarding forms from this."""
    return {
        "processors": [
            {
                "type": p.type_name,
                "name": p.name,
                "description": p.description,
                "requires": list(p.requires),
                "config_schema": p.config_model.model_json_schema(),
                "webhook_events": [{"name": e.name, "description": e.description} for e in p.webhook_events],
                "subscriptions": [{"field": s.field, "type": s.node} for s in p.subscriptions],
                "scope": f"read:{p.name}",
            }
            for p in registry
        ],
        "networks": [n.value for n in Network],
        "storage_schema": StorageConfig.model_json_schema(),
        "api_schema": ApiConfig.model_json_schema(),
    }


async def catalogue_route(request: Request) -> Response:
    return json_response(processor_catalogue(app_state(request).registry))


async def validate_route(request: Request) -> Response:
    """`POST /admin/tenants/validate`: check a tenant document (YAML or JSON) without storing anything. 200 with
    ``valid`` and the problems, one line each starting with the path of the bad key: the tenant parser's own
    messages and the config webhook's check, the ones the CLI and `POST /admin/tenants` give. A check that finds
    problems is an answer, not a refused request (the console checks as the operator types)."""
    body = await request.body()  # bounded by `api.middleware.body_limit`
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadRequest("the body is not UTF-8 text", code="bad_encoding") from exc
    if not text.strip():
        raise BadRequest("the body must be a tenant configuration (YAML or JSON)", code="empty_body")
    state = app_state(request)
    try:
        configs = await parse_off_the_loop(text, state.registry.catalogue())
    except ConfigError as exc:
        return json_response({"valid": False, "errors": exc.errors})
    if len(configs) != 1:
        return json_response(
            {"valid": False, "errors": [f"expected one tenant document, got {len(configs)}"]}
        )
    try:
        # What `POST /admin/tenants` checks beyond the parser: the config webhook's URL and events. Without it, a
        # document checked valid here was refused there (found by an attacker's pass).
        await webhook_endpoints(state).check_config(configs[0])
    except BadRequest as exc:
        return json_response({"valid": False, "errors": [exc.message]})
    return json_response({"valid": True, "errors": [], "summary": configs[0].summary_lines()})


async def tenant_ingestion(request: Request) -> Response:
    """`GET /api/v1/{id}/ingestion`: the tenant's own ingestion (any valid key of the tenant: it is the state of
    its service, not a processor's data, like `/usage`)."""
    principal = request.scope["state"]["principal"]
    state = app_state(request)
    progress = await ingestion_progress(state.engine, state.registry, principal.tenant.config, utcnow())
    return json_response(_without_error_details(progress))


def _without_error_details(progress: dict[str, Any]) -> dict[str, Any]:
    """A backfill's `last_error` is a worker's exception text (``Type: message``), which may hold SQL, a ledger
    source's URL or a file path: internals the admin API shows, not any key of the tenant. Its type is kept (a
    tenant can still tell a failing backfill and report it); the full text stays on the admin route."""
    for summary in (progress.get("backfill") or {}).values():
        if isinstance(summary, dict) and summary.get("last_error"):
            summary["last_error"] = (
                str(summary["last_error"]).split(":", 1)[0][:100] + " (details: admin API)"
            )
    return progress


routes = [
    Route(PATH, page, methods=["GET"]),
    Route(ASSETS_PATH + "/{name}", asset, methods=["GET"]),
    Route("/admin/processors", catalogue_route, methods=["GET"]),
    Route("/admin/tenants/validate", validate_route, methods=["POST"]),
]
