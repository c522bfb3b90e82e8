"""One error tree for the whole service.

Every error the service means to show a client is a `FlowError` with a stable `code`, an HTTP `status`
and `expose = True`. It is rendered as REST JSON (`{"error": {"code", "message"}}`) and, later, by the
GraphQL error masker. Anything else that escapes a handler is an internal error: clients get a generic
message with a request id, the full traceback goes to the log.
"""

from __future__ import annotations

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
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status
        self.details = details or {}

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "code": self.code,
            "message": self.message if self.expose else "internal error",
        }
        if self.expose and self.details:
            body.update(self.details)
        return {"error": body}


class ClientError(FlowError):
    """A problem with the request; safe to show to the client."""

    code = "bad_request"
    status = 400
    expose = True


class BadRequest(ClientError):
    pass


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
