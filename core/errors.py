"""One error tree for the whole service, and the one function that renders it.

Every error the service means to show a client is a `FlowError` with a stable `code`, an HTTP `status`,
`expose = True` and, where HTTP needs them, `headers` (`WWW-Authenticate`, `Retry-After`). `render_error` turns
it, or anything else, into (status, headers, body): the REST exception handlers, the pure ASGI middleware and
the GraphQL endpoint and error masker all answer from it, so one fault has one code whatever the path.
Anything that is not an exposed `FlowError` is an internal error: clients get a generic message with the
request id, the full traceback goes to the log under that id.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


class FlowError(Exception):
    """Base of every error the service raises on purpose."""

    code: str = "internal_error"
    status: int = 500
    expose: bool = False

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        status: int | None = None,
        details: dict[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status
        self.details = details or {}
        self.headers = dict(headers or {})


class ClientError(FlowError):
    """A problem with the request; safe to show to the client."""

    code = "bad_request"
    status = 400
    expose = True


class BadRequest(ClientError):
    pass


def invalid_parameter(parameter: str, message: str, *, problems: list[str] | None = None) -> BadRequest:
    """A value the client gave that is refused, in both APIs alike: 400 `invalid_parameter` naming it (REST's
    parameter, or a GraphQL argument or filter path), the message starting with it."""
    details: dict[str, Any] = {"parameter": parameter}
    if problems is not None:
        details["problems"] = problems
    return BadRequest(f"{parameter}: {message}", code="invalid_parameter", details=details)


class Unauthorized(ClientError):
    code = "unauthorized"
    status = 401


class Forbidden(ClientError):
    code = "forbidden"
    status = 403


class NotFound(ClientError):
    code = "not_found"
    status = 404


class Conflict(ClientError):
    code = "conflict"
    status = 409


class PayloadTooLarge(ClientError):
    code = "payload_too_large"
    status = 413


class UnsupportedMediaType(ClientError):
    code = "unsupported_media_type"
    status = 415


class RateLimited(ClientError):
    code = "rate_limited"
    status = 429


class ConfigError(ClientError):
    """A configuration document (tenant YAML, settings) that does not validate.

    `errors` holds one line per problem, each starting with the path of the bad key,
    e.g. ``customer.processors[1].config.contracts[0]: not a contract address``.
    """

    code = "invalid_config"
    status = 422

    def __init__(self, errors: list[str], *, message: str | None = None) -> None:
        self.errors = list(errors)
        super().__init__(message or "; ".join(self.errors), details={"errors": self.errors})


class ServiceUnavailable(FlowError):
    code = "service_unavailable"
    status = 503
    expose = True


RETRY_AFTER_SECONDS = 5
"""What a 503 for an outage of a store asks the client to wait (`Retry-After`)."""


class DatabaseUnavailable(ServiceUnavailable):
    """The database cannot be reached (down, restarting, or not answering in time): 503 with `Retry-After`."""

    code = "database_unavailable"

    def __init__(self, message: str = "the database is unavailable; retry shortly") -> None:
        super().__init__(message, headers={"Retry-After": str(RETRY_AFTER_SECONDS)})


class DatabaseBusy(ServiceUnavailable):
    """The embedded (SQLite) database refused a write for now because another writer was committing (the live
    tail, a job): 503 with a short `Retry-After`; the refused transaction wrote nothing."""

    code = "database_busy"

    def __init__(self, message: str = "the database is busy with another write; retry in a second") -> None:
        super().__init__(message, headers={"Retry-After": "1"})


class QueueUnavailable(ServiceUnavailable):
    """The job queue (Redis) cannot be reached: 503 with `Retry-After` where an action needs it at once."""

    code = "queue_unavailable"

    def __init__(self, message: str = "the job queue is unavailable; retry shortly") -> None:
        super().__init__(message, headers={"Retry-After": str(RETRY_AFTER_SECONDS)})


INTERNAL_ERROR = "internal_error"


@dataclass(frozen=True)
class RenderedError:
    """An error as a client sees it. `body` is the REST shape, ``{"error": {"code", "message", ...}}``;
    GraphQL carries the same fields as ``{"message", "extensions": {"code", ...}}``."""

    status: int
    headers: Mapping[str, str]
    body: dict[str, Any]

    @property
    def code(self) -> str:
        return str(self.body["error"]["code"])


def render_error(exc: BaseException, request_id: str) -> RenderedError:
    """The client's view of `exc`: an exposed `FlowError` as it is (code, message, details, headers); anything
    else masked as a 500 `internal_error` naming only `request_id` (the caller logs the traceback under it)."""
    if isinstance(exc, FlowError) and exc.expose:
        error = {"code": exc.code, "message": exc.message, **exc.details}
        return RenderedError(exc.status, dict(exc.headers), {"error": error})
    error = {"code": INTERNAL_ERROR, "message": "internal error", "request_id": request_id}
    return RenderedError(500, {}, {"error": error})
