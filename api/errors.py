"""Errors as HTTP responses: every error answer of the service is `core.errors.render_error` written as JSON.

The REST exception handlers below, the pure ASGI middleware (`api.middleware.asgi.send_error`) and the GraphQL
endpoint all go through `error_response`; unexpected errors are logged here with the request id the client
sees. On a tenant's GraphQL endpoint the same error takes GraphQL's shape (``{"errors": [{"message",
"extensions": {"code", ...}}]}``), elsewhere REST's (``{"error": {"code", "message", ...}}``).
"""

from __future__ import annotations

import logging

import orjson
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Scope

from api.paths import is_graphql_path, route_path
from api.request_ids import request_id_of
from core.errors import (
    INTERNAL_ERROR,
    ClientError,
    FlowError,
    RenderedError,
    Unauthorized,
    render_error,
)
from schema.errors import graphql_error

log = logging.getLogger("obsrvr_flow.api")

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
}


def rendered_error(exc: BaseException, scope: Scope) -> RenderedError:
    """`render_error` for a request; an unexpected error's traceback is logged under the request's id."""
    request_id = request_id_of(scope)
    rendered = render_error(exc, request_id)
    if rendered.code == INTERNAL_ERROR:
        log.error(
            "unexpected error (request_id=%s) on %s %s",
            request_id,
            scope.get("method", "WS"),
            scope.get("path", ""),
            exc_info=(type(exc), exc, exc.__traceback__),
            extra={"request_id": request_id},
        )
    return rendered


def error_response(exc: BaseException, scope: Scope) -> Response:
    """The error answer for `exc`, with its headers and the request id (the request id middleware adds it
    too, but a 500 is written outside it)."""
    rendered = rendered_error(exc, scope)
    headers = {**rendered.headers, "X-Request-Id": request_id_of(scope)}
    graphql = scope.get("type") == "http" and is_graphql_path(route_path(scope))
    return Response(
        orjson.dumps({"errors": [graphql_error(rendered)]} if graphql else rendered.body),
        status_code=rendered.status,
        media_type="application/json",
        headers=headers,
    )


def missing_api_key() -> Unauthorized:
    """A tenant request without a key: refused by the auth middleware, and by GraphQL as its last guard."""
    return Unauthorized(
        "send your API key as 'Authorization: Bearer <key>'",
        code="missing_api_key",
        headers={"WWW-Authenticate": 'Bearer realm="obsrvr-flow"'},
    )


def from_http_exception(exc: HTTPException) -> ClientError:
    """Starlette's own refusals (no route, wrong method) as errors of our tree, with their headers (`Allow`)."""
    return ClientError(
        str(exc.detail),
        code=_HTTP_CODES.get(exc.status_code, "http_error"),
        status=exc.status_code,
        headers=exc.headers,
    )


async def flow_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, FlowError)
    return error_response(exc, request.scope)


async def http_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return error_response(from_http_exception(exc), request.scope)


async def unexpected_error_handler(request: Request, exc: Exception) -> Response:
    # Internals never reach the client: a generic message and the request id that finds the traceback.
    return error_response(exc, request.scope)


EXCEPTION_HANDLERS = {
    FlowError: flow_error_handler,
    HTTPException: http_error_handler,
    Exception: unexpected_error_handler,
}
