"""The GraphQL error masker: the error tree (`core.errors`) rendered as GraphQL errors.

- A `FlowError` meant for clients (``expose``) keeps its message; its ``code`` goes to ``extensions.code``.
- Errors graphql-core makes itself (syntax, validation, variable coercion, a null in a non-null field) carry
  no original exception and are about the request: shown as they are.
- Anything else is unexpected: the client gets ``internal error`` with a ``requestId``, and the full
  traceback is logged under that id (never sent).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from graphql import GraphQLError

from core.errors import FlowError

log = logging.getLogger("obsrvr_flow.graphql")


def format_error(error: GraphQLError, request_id: str) -> dict[str, Any]:
    """One GraphQL error as JSON, masked when unexpected."""
    body: dict[str, Any] = dict(error.formatted)  # message, locations, path, extensions
    original = error.original_error
    while isinstance(original, GraphQLError) and original.original_error is not None:
        original = original.original_error
    if original is None or isinstance(original, GraphQLError):
        extensions = dict(body.get("extensions") or {})
        extensions.setdefault("code", "graphql_validation_failed" if error.path is None else "graphql_error")
        return {**body, "extensions": extensions}
    if isinstance(original, FlowError) and original.expose:
        extensions = {"code": original.code}
        if original.details:
            extensions.update(original.details)
        return {**body, "message": original.message, "extensions": extensions}
    if error.path is None and isinstance(original, ValueError | TypeError):
        # A variable's value refused by a scalar (bad address, bad asset): graphql-core wraps the scalar's
        # ValueError into a message that names the variable and the reason.
        return {**body, "extensions": {"code": "bad_user_input"}}
    log.error(
        "unexpected GraphQL error (request_id=%s) at %s",
        request_id,
        error.path,
        exc_info=(type(original), original, original.__traceback__),
    )
    masked = {key: value for key, value in body.items() if key in ("locations", "path")}
    return {
        "message": "internal error",
        **masked,
        "extensions": {"code": "internal_error", "requestId": request_id},
    }


def format_errors(errors: Iterable[GraphQLError], request_id: str) -> list[dict[str, Any]]:
    return [format_error(error, request_id) for error in errors]
