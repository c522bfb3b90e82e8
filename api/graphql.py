"""The per-tenant GraphQL endpoint `/api/v1/{customer_id}/graphql` (GET and POST).

The auth middleware has already resolved the key to a tenant (another tenant's path is a 404 before this
runs), so every request here, introspection included, is from an authenticated key of this tenant. The
tenant's schema is the cached schema of its enabled processors (`schema.build.schema_for`).

- POST ``application/json`` ``{query, variables, operationName}``, or GET with the same as query parameters.
- GET with ``Accept: text/html`` and no ``query``: the GraphiQL page (`api.graphiql`: served offline, public
  like the docs page, see `is_graphiql_request`; it asks for the key itself).
- The answer is ``{"data", "errors"}`` written with orjson, status 200 when GraphQL ran (errors are in the
  body, masked by `schema.errors`), 400 (415 for a body that is not JSON) when the request itself is malformed,
  rendered like every error (`api.errors.error_response`, in GraphQL's shape). ``Latest-Ledger`` is added to
  every answer by `api.middleware.latest_ledger`.
"""

from __future__ import annotations

from typing import Any

import orjson
from graphql import DocumentNode, FieldNode, OperationDefinitionNode, OperationType
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route, WebSocketRoute

from api.errors import error_response, missing_api_key
from api.graphiql import page as graphiql_page
from api.graphql_metrics import operation_labels, outcome
from api.graphql_ws import websocket_endpoint
from api.public_pages import is_graphiql_request
from api.request_ids import request_id_of
from api.response_cache import Computed
from api.state import app_state
from core.errors import BadRequest, RateLimited, UnsupportedMediaType
from core.validation import check_json_shape
from resolvers.context import RequestContext
from schema.build import META_FIELD, TenantSchema, schema_for
from schema.cost import cost_error
from schema.errors import format_errors


def _json(body: dict[str, Any], status: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


async def _params(request: Request) -> dict[str, Any] | Response:
    if request.method == "GET":
        params: dict[str, Any] = dict(request.query_params)
        if "variables" in params:
            try:
                params["variables"] = orjson.loads(params["variables"])
                check_json_shape(params["variables"], "variables")
            except orjson.JSONDecodeError:
                return error_response(BadRequest("variables: not valid JSON"), request.scope)
            except BadRequest as exc:
                return error_response(exc, request.scope)
        return params
    if "json" not in request.headers.get("content-type", ""):
        return error_response(
            UnsupportedMediaType("send a JSON body (Content-Type: application/json)"), request.scope
        )
    try:
        body = orjson.loads(await request.body())
        check_json_shape(body, "the body")
    except orjson.JSONDecodeError:
        return error_response(BadRequest("the body is not valid JSON"), request.scope)
    except BadRequest as exc:
        return error_response(exc, request.scope)
    if not isinstance(body, dict):
        return error_response(
            BadRequest("the body must be a JSON object {query, variables, operationName}"), request.scope
        )
    return body


def _fill_meta(data: dict[str, Any], operation: OperationDefinitionNode | None, ctx: RequestContext) -> None:
    """Put the final query time and data sources into every ``_meta`` asked for (aliases included)."""
    if operation is None:
        return
    for selection in operation.selection_set.selections:
        if not isinstance(selection, FieldNode) or selection.name.value != META_FIELD:
            continue
        meta = data.get((selection.alias or selection.name).value)
        if not isinstance(meta, dict) or selection.selection_set is None:
            continue
        for sub in selection.selection_set.selections:
            if isinstance(sub, FieldNode):
                key = (sub.alias or sub.name).value
                if sub.name.value == "queryTimeMs":
                    meta[key] = ctx.elapsed_ms()
                elif sub.name.value == "dataSources":
                    meta[key] = sorted(ctx.sources)


def _operation(document: Any, name: str | None) -> OperationDefinitionNode | None:
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if name is None:
        return operations[0] if len(operations) == 1 else None
    return next((o for o in operations if o.name is not None and o.name.value == name), None)


async def _request_parts(request: Request) -> tuple[str, dict[str, Any] | None, str | None] | Response:
    """The query, variables and operation name, or the 400 for a request that is not a GraphQL request."""
    params = await _params(request)
    if isinstance(params, Response):
        return params
    query, variables, operation_name = (
        params.get("query"),
        params.get("variables"),
        params.get("operationName"),
    )
    if not isinstance(query, str) or not query.strip():
        return error_response(BadRequest("no query: send {query, variables, operationName}"), request.scope)
    if variables is not None and not isinstance(variables, dict):
        return error_response(BadRequest("variables must be a JSON object"), request.scope)
    if operation_name is not None and not isinstance(operation_name, str):
        return error_response(BadRequest("operationName must be a string"), request.scope)
    return query, variables, operation_name


async def graphql_endpoint(request: Request) -> Response:
    if (
        is_graphiql_request(
            request.method,
            "graphql",
            request.scope.get("query_string", b""),
            request.headers.get("accept", ""),
        )
        and "query" not in request.query_params
    ):
        return graphiql_page()
    principal = request.scope.get("state", {}).get("principal")
    if principal is None:  # the auth middleware guards every tenant path; never serve without it
        return error_response(missing_api_key(), request.scope)
    parts = await _request_parts(request)
    if isinstance(parts, Response):
        return parts
    query, variables, operation_name = parts

    tenant = principal.tenant
    state = app_state(request)
    configs = state.registry.configs(tenant.config)
    tenant_schema = schema_for(state.registry, frozenset(configs))
    ctx = RequestContext(
        router=state.router,
        tenant_id=tenant.id,
        network=tenant.config.customer.network.value,
        principal=principal,
        configs=configs,
        request_id=request_id_of(request.scope),
    )
    try:
        prepared = await tenant_schema.documents.prepare_async(query, state.validation_pool, tenant.id)
    except RateLimited as refusal:  # too many of this tenant's new documents in preparation (schema.guards)
        response = error_response(refusal, request.scope)
        _observe(request, None, None, [{"extensions": {"code": refusal.code}}], ctx)
        return response
    if prepared.document is None:
        errors = format_errors(prepared.errors, ctx.request_id)
        _observe(request, None, None, errors, ctx)
        return _json({"errors": errors})
    operation = _operation(prepared.document, operation_name)
    too_costly = cost_error(tenant_schema.graphql_schema, prepared.document, operation, variables)
    if too_costly is not None:  # refused before anything is read (schema.cost)
        errors = format_errors((too_costly,), ctx.request_id)
        _observe(request, prepared.document, operation, errors, ctx)
        return _json({"errors": errors})
    document = prepared.document

    async def compute() -> Computed:
        return await _execute(request, tenant_schema, document, operation, variables, operation_name, ctx)

    if operation is None or operation.operation is not OperationType.QUERY:  # only queries are cached
        return (await compute())[0]
    fingerprint = state.response_cache.graphql_fingerprint(query, document, variables, operation_name)
    response, hit = await state.response_cache.respond(
        request, tenant, principal.scopes, fingerprint, compute
    )
    if hit:  # counted like the answer it replays (stored answers have no errors)
        state.metrics.observe_graphql(*operation_labels(document, operation), outcome(None))
    return response


async def _execute(
    request: Request,
    tenant_schema: TenantSchema,
    document: DocumentNode,
    operation: OperationDefinitionNode | None,
    variables: dict[str, Any] | None,
    operation_name: str | None,
    ctx: RequestContext,
) -> Computed:
    """Run the operation: the response and whether it may be cached (it has no errors)."""
    result = await tenant_schema.execute(document, variables, operation_name, ctx)
    body: dict[str, Any] = {}
    if result.data is not None:
        _fill_meta(result.data, operation, ctx)
        body["data"] = result.data
    elif any(error.path is not None for error in result.errors or ()):
        # Execution ran and a non-null field's error reached the root: the spec answers `"data": null`.
        body["data"] = None
    if result.errors:
        body["errors"] = format_errors(result.errors, ctx.request_id)
    payload = orjson.dumps(body)
    limit = app_state(request).settings.graphql_max_response_bytes
    if len(payload) > limit:  # the largest pages the guards allow hold a few MB; rows with large values more
        body = {
            "data": None,
            "errors": [
                {
                    "message": f"the response is {len(payload)} bytes, over the {limit} served: "
                    "ask for smaller pages, fewer fields or fewer aliases",
                    "extensions": {"code": "response_too_large", "limit": limit},
                }
            ],
        }
        payload = orjson.dumps(body)
    _observe(request, document, operation, body.get("errors"), ctx)
    return Response(payload, media_type="application/json"), "errors" not in body


def _observe(
    request: Request,
    document: DocumentNode | None,
    operation: OperationDefinitionNode | None,
    errors: list[dict[str, Any]] | None,
    ctx: RequestContext,
) -> None:
    """Count the operation in the app's metrics and the rows it read for the access log."""
    kind, root_fields = operation_labels(document, operation)
    app_state(request).metrics.observe_graphql(kind, root_fields, outcome(errors))
    request.scope.setdefault("state", {})["rows"] = ctx.rows


routes: list[BaseRoute] = [
    Route("/api/v1/{customer_id}/graphql", graphql_endpoint, methods=["GET", "POST"], name="graphql"),
    WebSocketRoute("/api/v1/{customer_id}/graphql", websocket_endpoint, name="graphql_ws"),
]
