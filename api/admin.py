"""The admin API: tenant onboarding, API key management and queued archival (behind AdminAuthMiddleware)."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from api.cost import usage_of
from api.discovery import tenant_endpoints
from api.state import AppState, app_state
from core.errors import BadRequest, NotFound, invalid_parameter
from core.tenant_config import TenantConfig, parse_off_the_loop
from core.validation import check_json_shape, checked_text, unstorable_text
from services.archiving import ARCHIVE_JOB, archived_processors, parse_before
from services.backfill_guard import APPLY_ADVICE, new_starts, planning_backfills
from services.ingestion_progress import ingestion_progress
from services.onboarding import (
    check_key_name,
    check_scopes,
    create_tenant,
    ingestion_status,
    key_view,
    schedule_backfills,
    tenant_links,
    tenant_view,
)
from services.tenant_configs import previous_config, stored_config
from services.tenant_purge import queue_purge, start_purge
from services.webhooks.endpoints import WebhookEndpoints, config_sync_view
from services.webhooks.events import EventCatalogue
from storage.audit import AuditEntry
from storage.backfill import BackfillStore
from storage.purges import PurgeStore
from storage.tables import utcnow

log = logging.getLogger("obsrvr_flow.admin")


async def _body(request: Request) -> bytes:
    # Bounded by `api.middleware.body_limit` (OBSRVR_MAX_BODY_BYTES): a larger body never gets here.
    return await request.body()


async def _tenant_config(request: Request, state: AppState) -> TenantConfig:
    """The one tenant document of the body, YAML or JSON (JSON is YAML), fully validated."""
    body = await _body(request)
    if not body.strip():
        raise BadRequest("the body must be a tenant configuration (YAML or JSON)", code="empty_body")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadRequest("the body is not UTF-8 text", code="bad_encoding") from exc
    configs = await parse_off_the_loop(text, state.registry.catalogue())
    if len(configs) != 1:
        raise BadRequest(f"expected one tenant document, got {len(configs)}", code="one_document_expected")
    return configs[0]


async def _json_object(request: Request, state: AppState) -> dict[str, Any]:
    body = await _body(request)
    if not body.strip():
        return {}
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"the body is not valid JSON: {exc}", code="invalid_json") from exc
    check_json_shape(value, "the body")
    if not isinstance(value, dict):
        raise BadRequest("the body must be a JSON object", code="invalid_json")
    return value


async def _json_fields(request: Request, state: AppState, allowed: set[str]) -> dict[str, Any]:
    """The JSON object body, refusing a field that is not one of `allowed` (400 `invalid_body` naming it)."""
    body = await _json_object(request, state)
    unknown = set(body) - allowed
    if unknown:
        raise BadRequest(f"unknown field(s): {', '.join(sorted(unknown))}", code="invalid_body")
    return body


async def _audit(
    request: Request, state: AppState, action: str, tenant_id: str | None, **detail: Any
) -> None:
    admin = request.scope.get("state", {}).get("admin")
    await state.audit.record(
        AuditEntry(
            action=action,
            actor="admin",
            tenant_id=tenant_id,
            method=request.method,
            path=request.url.path,
            status=None,
            client_ip=request.client.host if request.client else None,
            detail={"admin": admin.subject if admin else None, **detail},
        )
    )


def webhook_endpoints(state: AppState) -> WebhookEndpoints:
    """The webhook endpoint operations of this app (validated against its processors' event catalogue)."""
    return WebhookEndpoints(state.engine, EventCatalogue.from_registry(state.registry), state.settings)


async def _existing(state: AppState, tenant_id: str) -> Any:
    record = await state.tenants.get(tenant_id)
    if record is None:
        raise NotFound(f"no tenant '{tenant_id}'", code="tenant_not_found")
    return record


async def _schedule(state: AppState, config: TenantConfig, previous: TenantConfig | None) -> dict[str, Any]:
    """Queue the tenant's backfills. The tenant (and its key, shown once) are already committed: a queue that
    cannot be reached must not turn that into an error the client would retry into a 409."""
    try:
        return await schedule_backfills(
            state.engine, state.backends.jobs, config, previous, state.settings.backfill_chunk_ledgers
        )
    except Exception:
        log.exception("could not queue the backfill of tenant %s", config.customer.id)
        return {
            "*": {
                "status": "not_queued",
                "reason": "the job queue is unreachable; PUT the tenant again later",
            }
        }


async def create_tenant_route(request: Request) -> Response:
    state = app_state(request)
    config = await _tenant_config(request, state)
    webhooks = webhook_endpoints(state)
    await webhooks.check_config(config)  # a refused webhook_url stores nothing
    onboarded = await create_tenant(state.tenants, state.keys, config)
    assert onboarded.key is not None
    state.forget_tenant(onboarded.tenant.id)
    webhook = config_sync_view(await webhooks.sync_config(config))
    await _audit(
        request, state, "tenant.created", onboarded.tenant.id, key_prefix=onboarded.key.key.prefix,
        webhook_endpoint=webhook and webhook["endpoint_id"],
    )  # fmt: skip
    backfill = await _schedule(state, config, None)
    body = {
        "tenant": tenant_view(onboarded.tenant),
        "api_key": key_view(onboarded.key.key, onboarded.key.secret),
        "backfill": backfill,
        "endpoints": tenant_endpoints(state.registry, config),
        **tenant_links(state.settings, onboarded.tenant.id),
        "note": "the api_key secret is shown only once; store it now",
    }
    if webhook is not None:
        body["webhook"] = webhook
    return JSONResponse(body, status_code=201)


async def list_tenants_route(request: Request) -> Response:
    state = app_state(request)
    return JSONResponse({"data": [tenant_view(t) for t in await state.tenants.list()]})


async def get_tenant_route(request: Request) -> Response:
    """The tenant with its keys; while its deletion runs, the purge's progress; after it, 404 `tenant_deleted`."""
    state = app_state(request)
    tenant_id = request.path_params["tenant_id"]
    if await state.tenants.get(tenant_id) is None:
        purge = await PurgeStore(state.engine).get(tenant_id)
        if purge is not None and not purge.finished:
            return JSONResponse({"tenant": {"id": tenant_id, "status": "deleting"}, "purge": purge.as_dict()})
        if purge is not None and purge.finished_at is not None:
            raise NotFound(
                f"tenant '{tenant_id}' was deleted (purge finished at {purge.finished_at.isoformat()})",
                code="tenant_deleted",
            )
    record = await _existing(state, tenant_id)
    keys = await state.keys.list(record.id)
    return JSONResponse(
        {
            "tenant": tenant_view(record),
            "keys": [key_view(k) for k in keys],
            **tenant_links(state.settings, record.id),
        }
    )


async def put_tenant_route(request: Request) -> Response:
    state = app_state(request)
    tenant_id = request.path_params["tenant_id"]
    config = await _tenant_config(request, state)
    if config.customer.id != tenant_id:
        raise BadRequest(
            f"customer.id '{config.customer.id}' does not match the tenant in the path '{tenant_id}'",
            code="id_mismatch",
        )
    # Read past the cache, and tolerantly: an update is how an operator fixes a stored config that no longer
    # validates.
    previous = previous_config(await state.tenants.get(tenant_id), state.registry)
    starts = new_starts(config, previous)
    webhooks = webhook_endpoints(state)
    await webhooks.check_config(config)  # a refused webhook_url stores nothing
    # Refused (409) before anything is stored when a new start reaches below the archive; held while planning.
    async with planning_backfills(state.engine, state.registry, tenant_id, starts, advice=APPLY_ADVICE):
        record = await state.tenants.update(
            tenant_id, config.customer.name, config.customer.network.value, config.to_document()
        )
        state.forget_tenant(tenant_id)
        backfill = await _schedule(state, config, previous)
    webhook = config_sync_view(await webhooks.sync_config(config))
    await _audit(
        request, state, "tenant.updated", tenant_id, config_version=record.config_version,
        webhook_endpoint=webhook and {"id": webhook["endpoint_id"], "action": webhook["action"]},
    )  # fmt: skip
    body = {
        "tenant": tenant_view(record),
        "backfill": backfill,
        "endpoints": tenant_endpoints(state.registry, config),
    }
    if webhook is not None:
        body["webhook"] = webhook
    return JSONResponse(body)


async def requeue_backfill_route(request: Request) -> Response:
    """Queue again every unfinished backfill chunk of the tenant (safe to repeat: job ids are deterministic)."""
    state = app_state(request)
    record = await _existing(state, request.path_params["tenant_id"])
    count = await BackfillStore(state.engine).requeue(state.backends.jobs, record.id)
    await _audit(request, state, "backfill.requeued", record.id, jobs=count)
    return JSONResponse({"requeued": count})


async def archive_route(request: Request) -> Response:
    """Queue an archival of the tenant now (body, optional: `processor`, `before` = a ledger or an ISO time);
    202 with the job id. Checked here, so a bad value is a 400 now rather than a failed job later."""
    state = app_state(request)
    record = await _existing(state, request.path_params["tenant_id"])
    body = await _json_fields(request, state, {"processor", "before"})
    processor, before = body.get("processor"), body.get("before")
    if processor is not None and not isinstance(processor, str):
        raise BadRequest("processor: must be a string (a processor name)", code="invalid_body")
    if before is not None and (isinstance(before, bool) or not isinstance(before, str | int)):
        raise BadRequest("before: must be a ledger number or an ISO-8601 time", code="invalid_body")
    before_text = None if before is None else str(before)
    if before_text is not None:
        parse_before(checked_text("before", before_text))
    config = stored_config(record, state.registry)
    archived_processors(
        state.registry, config, None if processor is None else checked_text("processor", processor)
    )
    job_id = f"archive:{record.id}:{uuid.uuid4().hex}"
    await state.backends.jobs.enqueue(ARCHIVE_JOB, record.id, processor, before_text, job_id=job_id)
    await _audit(
        request, state, "archive.queued", record.id, job_id=job_id, processor=processor, before=before_text
    )
    return JSONResponse({"status": "queued", "job_id": job_id}, status_code=202)


async def ingestion_route(request: Request) -> Response:
    state = app_state(request)
    record = await _existing(state, request.path_params["tenant_id"])
    # Tolerantly: an operator looks at the ingestion of a tenant whose stored config no longer validates too
    # (then without the per-processor view, which needs its processors).
    config = previous_config(record, state.registry)
    if config is None:
        return JSONResponse(await ingestion_status(state.engine, record.id, record.network))
    return JSONResponse(await ingestion_progress(state.engine, state.registry, config, utcnow()))


async def usage_route(request: Request) -> Response:
    """The tenant's cost report (`services.cost_report`)."""
    state = app_state(request)
    record = await _existing(state, request.path_params["tenant_id"])
    return await usage_of(state, record.id)


async def delete_tenant_route(request: Request) -> Response:
    """Delete the tenant: its row and keys at once (access ends), the rest by a queued purge job (202). Asked
    again while the purge runs, it queues the purge again (a no-op while the job is queued or running). The
    purge writes the one audit record of the deletion, so this request writes none of its own."""
    state = app_state(request)
    tenant_id = request.path_params["tenant_id"]
    purge = await start_purge(state.engine, tenant_id, actor="admin")
    if purge is None:
        raise NotFound(f"no tenant '{tenant_id}'", code="tenant_not_found")
    state.forget_tenant(tenant_id)
    state.forget_keys()
    try:
        job: dict[str, Any] = {"queued": await queue_purge(state.backends.jobs, purge)}
    except Exception:
        # The deletion is committed (access has ended): a queue that cannot take the job must not turn it into
        # an error; the workers' `resume_purges` cron queues every unfinished purge.
        log.exception("could not queue the purge of tenant %s", tenant_id)
        job = {"queued": False, "reason": "the job queue is unreachable: the purge is queued once it is back"}
    return JSONResponse(
        {"purge": purge.as_dict(), "job": job, "progress_url": f"/admin/tenants/{tenant_id}"}, status_code=202
    )


async def create_key_route(request: Request) -> Response:
    state = app_state(request)
    record = await _existing(state, request.path_params["tenant_id"])
    body = await _json_fields(request, state, {"scopes", "name"})
    scopes = body.get("scopes")
    name = body.get("name")
    if scopes is not None and (not isinstance(scopes, list) or not all(isinstance(s, str) for s in scopes)):
        raise BadRequest("scopes: must be a list of strings", code="invalid_body")
    issued = await state.keys.create(
        record.id, check_scopes(state.registry, scopes), name=check_key_name(name)
    )
    await _audit(request, state, "key.created", record.id, key_prefix=issued.key.prefix)
    return JSONResponse(
        {"api_key": key_view(issued.key, issued.secret), "note": "the secret is shown only once"},
        status_code=201,
    )


async def revoke_key_route(request: Request) -> Response:
    state = app_state(request)
    tenant_id = request.path_params["tenant_id"]
    key_id = request.path_params["key_id"]
    await _existing(state, tenant_id)
    if not await state.keys.revoke(tenant_id, key_id):
        raise NotFound(f"no active key '{key_id}' for tenant '{tenant_id}'", code="key_not_found")
    state.forget_keys()
    await _audit(request, state, "key.revoked", tenant_id, key_id=key_id)
    return Response(status_code=204)


async def audit_route(request: Request) -> Response:
    state = app_state(request)
    params = request.query_params
    limit_text = params.get("limit", "100")
    if not (limit_text.isascii() and limit_text.isdigit() and len(limit_text) <= 4) or not (
        1 <= int(limit_text) <= 1000
    ):
        raise invalid_parameter("limit", "must be an integer from 1 to 1000")
    await state.audit.flush()
    rows = await state.audit.query(
        tenant_id=params.get("tenant_id"), action=params.get("action"), limit=int(limit_text)
    )
    return JSONResponse(orjson.loads(orjson.dumps({"data": rows}, default=str)))


def _checked(endpoint: Callable[[Request], Awaitable[Response]]) -> Callable[[Request], Awaitable[Response]]:
    """`endpoint` behind the one check of the text an admin request carries in its path and query: a value
    (or name) the database cannot take is a 400 naming the parameter, before any store sees it."""

    async def handle(request: Request) -> Response:
        for name, value in request.path_params.items():
            checked_text(name, str(value))
        for name, value in request.query_params.multi_items():
            checked_text(name if unstorable_text(name) is None else "query", name)
            checked_text(name, value)
        return await endpoint(request)

    handle.__name__ = endpoint.__name__
    return handle


routes = [
    Route(path, _checked(endpoint), methods=methods)
    for path, endpoint, methods in (
        ("/admin/tenants", create_tenant_route, ["POST"]),
        ("/admin/tenants", list_tenants_route, ["GET"]),
        ("/admin/tenants/{tenant_id}", get_tenant_route, ["GET"]),
        ("/admin/tenants/{tenant_id}", put_tenant_route, ["PUT"]),
        ("/admin/tenants/{tenant_id}", delete_tenant_route, ["DELETE"]),
        ("/admin/tenants/{tenant_id}/ingestion", ingestion_route, ["GET"]),
        ("/admin/tenants/{tenant_id}/usage", usage_route, ["GET"]),
        ("/admin/tenants/{tenant_id}/backfill", requeue_backfill_route, ["POST"]),
        ("/admin/tenants/{tenant_id}/archive", archive_route, ["POST"]),
        ("/admin/tenants/{tenant_id}/keys", create_key_route, ["POST"]),
        ("/admin/tenants/{tenant_id}/keys/{key_id}", revoke_key_route, ["DELETE"]),
        ("/admin/audit", audit_route, ["GET"]),
    )
]
