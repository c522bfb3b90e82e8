"""The admin API of webhook endpoints (behind AdminAuthMiddleware like every `/admin` path; each change is
audited like the other admin routes):

- ``POST /admin/tenants/{id}/webhooks`` add an endpoint (201 with its secret, shown once); ``GET`` lists them
  with their backlog; ``DELETE`` removes every endpoint added through the API (the config endpoint follows the
  tenant YAML).
- ``GET`` / ``DELETE /admin/tenants/{id}/webhooks/{ep}``; ``POST .../rotate`` (new secret, the old one signs
  during the grace period), ``.../enable``, ``.../disable``.
- ``GET .../deliveries`` (the delivery log), ``GET .../dead-letters``, ``POST .../messages/{msg}/resend``,
  ``POST .../replay`` (``since_ledger`` or ``since_time``, ``only_dead``).
- ``POST .../preview`` and ``POST .../backfill`` over stored history (`api.admin_webhook_history`).

Every client-controlled value that is refused is a 4xx naming it: unknown tenant, endpoint or message 404, a
bad URL (``webhook_url_refused``), event, filter key or field 400, too many endpoints 409.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from api.admin import _audit, _checked, _existing, _json_fields, webhook_endpoints
from api.rest_rows import json_response
from api.state import AppState, app_state
from core.errors import invalid_parameter
from services.tenant_configs import stored_config
from services.webhooks.endpoints import API, NewEndpoint, queue_backfill
from services.webhooks.notify import wake_endpoint
from services.webhooks.operations import WebhookOperations, parse_ledger, parse_limit, parse_time
from storage.webhooks.endpoints import Endpoint

SECRET_NOTE = "the secret is shown only once; store it now"  # noqa: S105 (a note, not a secret)
NEW_ENDPOINT_FIELDS = {
    "url",
    "events",
    "filter",
    "description",
    "signing",
    "ordered",
    "max_concurrency",
    "since_ledger",
}


async def _endpoint(request: Request) -> tuple[AppState, Endpoint]:
    state = app_state(request)
    record = await _existing(state, request.path_params["tenant_id"])
    return state, await webhook_endpoints(state).get(record.id, request.path_params["endpoint_id"])


async def _wake(state: AppState, endpoint_id: str) -> None:
    """Start the endpoint's delivery now rather than at the next sweep (best effort: the sweep finds it anyway)."""
    if state.backends.webhook_jobs is not None:
        await wake_endpoint(state.backends.webhook_jobs, endpoint_id)


def _field(body: dict[str, Any], name: str, kind: type | tuple[type, ...], what: str) -> Any:
    value = body.get(name)
    if value is not None and (isinstance(value, bool) != (kind is bool) or not isinstance(value, kind)):
        raise invalid_parameter(name, f"must be {what}")
    return value


def new_endpoint(body: dict[str, Any]) -> NewEndpoint:
    """The new endpoint a JSON body asks for; a field of the wrong type is a 400 naming it."""
    if "url" not in body:
        raise invalid_parameter("url", "required")
    if "events" not in body:
        raise invalid_parameter("events", "required (a list of webhook event names)")
    url = _field(body, "url", str, "a URL (text)")
    ordered = _field(body, "ordered", bool, "true or false")
    return NewEndpoint(
        url=url,
        events=body["events"],
        filter=_field(body, "filter", dict, "an object of listing filter fields") or {},
        description=_field(body, "description", str, "text"),
        signing=_field(body, "signing", str, "hmac or ed25519") or "hmac",
        ordered=True if ordered is None else ordered,
        max_concurrency=_field(body, "max_concurrency", int, "an integer"),
        since_ledger=None
        if body.get("since_ledger") is None
        else parse_ledger("since_ledger", body["since_ledger"]),
    )


async def create_webhook_route(request: Request) -> Response:
    state = app_state(request)
    record = await _existing(state, request.path_params["tenant_id"])
    spec = new_endpoint(await _json_fields(request, state, NEW_ENDPOINT_FIELDS))
    created = await webhook_endpoints(state).add(stored_config(record, state.registry), spec)
    endpoint = created.endpoint
    backfill = None
    if spec.since_ledger is not None:
        backfill = await queue_backfill(state.backends.jobs, endpoint.id, spec.since_ledger, None)
    await _audit(
        request, state, "webhook.created", record.id, endpoint_id=endpoint.id, url=endpoint.url,
        events=list(endpoint.events), signing=endpoint.signing,
    )  # fmt: skip
    view = (await WebhookOperations(state.engine).views([endpoint]))[0]
    body = {"endpoint": view, "secret": created.secret, "note": SECRET_NOTE}
    if backfill is not None:
        body["backfill"] = backfill
    return json_response(body, status=201)


async def list_webhooks_route(request: Request) -> Response:
    state = app_state(request)
    record = await _existing(state, request.path_params["tenant_id"])
    endpoints = await webhook_endpoints(state).list(record.id)
    return json_response({"data": await WebhookOperations(state.engine).views(endpoints)})


async def delete_webhooks_route(request: Request) -> Response:
    """Remove every endpoint of the tenant added through the API (not the config endpoint: it follows the
    tenant YAML's ``webhook_url``)."""
    state = app_state(request)
    record = await _existing(state, request.path_params["tenant_id"])
    manager = webhook_endpoints(state)
    removed = [e.id for e in await manager.list(record.id) if e.source == API]
    for endpoint_id in removed:
        await manager.remove(record.id, endpoint_id)
    await _audit(request, state, "webhooks.deleted", record.id, endpoint_ids=removed)
    return json_response({"removed": removed})


async def get_webhook_route(request: Request) -> Response:
    state, endpoint = await _endpoint(request)
    return json_response({"endpoint": (await WebhookOperations(state.engine).views([endpoint]))[0]})


async def delete_webhook_route(request: Request) -> Response:
    state, endpoint = await _endpoint(request)
    await webhook_endpoints(state).remove(endpoint.tenant_id, endpoint.id)
    await _audit(request, state, "webhook.deleted", endpoint.tenant_id, endpoint_id=endpoint.id)
    return Response(status_code=204)


async def rotate_webhook_route(request: Request) -> Response:
    state, endpoint = await _endpoint(request)
    body = await _json_fields(request, state, {"signing"})
    signing = _field(body, "signing", str, "hmac or ed25519")
    rotated = await webhook_endpoints(state).rotate(endpoint.tenant_id, endpoint.id, signing)
    await _audit(
        request, state, "webhook.rotated", endpoint.tenant_id, endpoint_id=endpoint.id,
        signing=rotated.endpoint.signing, previous_expires_at=str(rotated.endpoint.previous_expires_at),
    )  # fmt: skip
    view = (await WebhookOperations(state.engine).views([rotated.endpoint]))[0]
    return json_response({"endpoint": view, "secret": rotated.secret, "note": SECRET_NOTE})


async def enable_webhook_route(request: Request) -> Response:
    state, endpoint = await _endpoint(request)
    enabled = await webhook_endpoints(state).enable(endpoint.tenant_id, endpoint.id)
    await _wake(state, endpoint.id)
    await _audit(request, state, "webhook.enabled", endpoint.tenant_id, endpoint_id=endpoint.id)
    return json_response({"endpoint": (await WebhookOperations(state.engine).views([enabled]))[0]})


async def disable_webhook_route(request: Request) -> Response:
    state, endpoint = await _endpoint(request)
    disabled = await webhook_endpoints(state).disable(endpoint.tenant_id, endpoint.id)
    await _audit(request, state, "webhook.disabled", endpoint.tenant_id, endpoint_id=endpoint.id)
    return json_response({"endpoint": (await WebhookOperations(state.engine).views([disabled]))[0]})


async def deliveries_route(request: Request) -> Response:
    """The delivery log, newest first: ``?limit=`` (1-1000, default 100), ``?message_id=`` for one message."""
    state, endpoint = await _endpoint(request)
    params = request.query_params
    rows = await WebhookOperations(state.engine).deliveries(
        endpoint, limit=parse_limit(params.get("limit")), message_id=params.get("message_id")
    )
    return json_response({"data": rows})


async def dead_letters_route(request: Request) -> Response:
    """Dead messages in id order: ``?limit=``, ``?after=<message id>`` for the next page."""
    state, endpoint = await _endpoint(request)
    params = request.query_params
    rows = await WebhookOperations(state.engine).dead_letters(
        endpoint, limit=parse_limit(params.get("limit")), after=params.get("after")
    )
    return json_response({"data": rows, "next_after": rows[-1]["id"] if rows else None})


async def resend_route(request: Request) -> Response:
    state, endpoint = await _endpoint(request)
    message_id = request.path_params["message_id"]
    found = await WebhookOperations(state.engine).resend(endpoint, message_id)
    await _wake(state, endpoint.id)
    await _audit(
        request, state, "webhook.resent", endpoint.tenant_id, endpoint_id=endpoint.id, message_id=message_id
    )
    return json_response({"message": found}, status=202)


async def replay_route(request: Request) -> Response:
    """Send again since a ledger (``since_ledger``) or a ledger close time (``since_time``, ISO 8601); all
    delivered and dead messages, or only the dead (``only_dead``: true)."""
    state, endpoint = await _endpoint(request)
    body = await _json_fields(request, state, {"since_ledger", "since_time", "only_dead"})
    since_ledger = body.get("since_ledger")
    since_time = body.get("since_time")
    only_dead = _field(body, "only_dead", bool, "true or false") or False
    replayed = await WebhookOperations(state.engine).replay(
        endpoint,
        since_ledger=None if since_ledger is None else parse_ledger("since_ledger", since_ledger),
        since_time=None if since_time is None else parse_time("since_time", since_time),
        only_dead=only_dead,
    )
    if replayed:
        await _wake(state, endpoint.id)
    await _audit(
        request, state, "webhook.replayed", endpoint.tenant_id, endpoint_id=endpoint.id,
        since_ledger=since_ledger, since_time=since_time, only_dead=only_dead, messages=replayed,
    )  # fmt: skip
    return json_response({"replayed": replayed}, status=202)


BASE = "/admin/tenants/{tenant_id}/webhooks"
ONE = BASE + "/{endpoint_id}"

routes = [
    Route(path, _checked(endpoint), methods=methods)
    for path, endpoint, methods in (
        (BASE, create_webhook_route, ["POST"]),
        (BASE, list_webhooks_route, ["GET"]),
        (BASE, delete_webhooks_route, ["DELETE"]),
        (ONE, get_webhook_route, ["GET"]),
        (ONE, delete_webhook_route, ["DELETE"]),
        (ONE + "/rotate", rotate_webhook_route, ["POST"]),
        (ONE + "/enable", enable_webhook_route, ["POST"]),
        (ONE + "/disable", disable_webhook_route, ["POST"]),
        (ONE + "/deliveries", deliveries_route, ["GET"]),
        (ONE + "/dead-letters", dead_letters_route, ["GET"]),
        (ONE + "/messages/{message_id}/resend", resend_route, ["POST"]),
        (ONE + "/replay", replay_route, ["POST"]),
    )
]
