"""Rendering of the error tree as REST JSON, and the last line of defence for unexpected errors."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from core.errors import FlowError

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


def error_response(
    status: int, code: str, message: str, *, headers: Mapping[str, str] | None = None, **extra: object
) -> JSONResponse:
    body: dict[str, object] = {"code": code, "message": message, **extra}
    return JSONResponse({"error": body}, status_code=status, headers=dict(headers or {}))


async def flow_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, FlowError)
    if not exc.expose:
        return await unexpected_error_handler(request, exc)
    return JSONResponse(exc.to_dict(), status_code=exc.status, headers=getattr(exc, "headers", None))


async def http_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = _HTTP_CODES.get(exc.status_code, "http_error")
    return error_response(exc.status_code, code, str(exc.detail), headers=exc.headers)


async def unexpected_error_handler(request: Request, exc: Exception) -> Response:
    # Internals never reach the client: a generic message and a request id that finds the traceback.
    request_id = uuid.uuid4().hex
    log.exception("unexpected error (request_id=%s) on %s %s", request_id, request.method, request.url.path)
    return error_response(500, "internal_error", "internal error", request_id=request_id)


EXCEPTION_HANDLERS = {
    FlowError: flow_error_handler,
    HTTPException: http_error_handler,
    Exception: unexpected_error_handler,
}
