"""The GraphQL error masker: the error tree (`core.errors`) rendered as GraphQL errors.

- A `FlowError` meant for clients (``expose``) keeps its message; its ``code`` goes to ``extensions.code``
  (`core.errors.render_error`, as for REST, so one fault has one code on both APIs).
- Errors graphql-core makes itself (syntax, validation, variable coercion, a null in a non-null field) carry
  no original exception and are about the request: shown as they are.
- Anything else is unexpected: the client gets ``internal error`` with a ``requestId`` (the request's id, the
  one in its ``X-Request-Id`` header), and the full traceback is logged under that id (never sent).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from graphql import GraphQLError

from core.errors import DatabaseBusy, DatabaseUnavailable, FlowError, RenderedError, render_error
from storage.db import database_unavailable, write_conflict

log = logging.getLogger("obsrvr_flow.graphql")


def graphql_error(rendered: RenderedError) -> dict[str, Any]:
    """A rendered error in GraphQL's shape: the message, and the code and details as `extensions`
    (`request_id` as `requestId`, GraphQL's camelCase)."""
    extensions = dict(rendered.body["error"])
    message = extensions.pop("message")
    if "request_id" in extensions:
        extensions["requestId"] = extensions.pop("request_id")
    return {"message": message, "extensions": extensions}


def format_error(error: GraphQLError, request_id: str) -> dict[str, Any]:
    """One GraphQL error as JSON, masked when unexpected."""
    body: dict[str, Any] = dict(error.formatted)  # message, locations, path, extensions
    original = error.original_error
    while isinstance(original, GraphQLError) and original.original_error is not None:
        original = original.original_error
    if original is not None and not isinstance(original, FlowError) and database_unavailable(original):
        original = DatabaseUnavailable()  # an outage, not a fault: the code REST answers with, 503's meaning
    elif original is not None and not isinstance(original, FlowError) and write_conflict(original):
        original = (
            DatabaseBusy()
        )  # SQLite refusing a write for now (embedded mode): the code REST answers with
    if original is None or isinstance(original, GraphQLError):
        extensions = dict(body.get("extensions") or {})
        extensions.setdefault("code", "graphql_validation_failed" if error.path is None else "graphql_error")
        return {**body, "extensions": extensions}
    if isinstance(original, FlowError) and original.expose:
        return {**body, **graphql_error(render_error(original, request_id))}
    if error.path is None and isinstance(original, ValueError | TypeError):
        # A variable's value refused by a scalar (bad address, bad asset): graphql-core wraps the scalar's
        # ValueError into a message that names the variable and the reason.
        return {**body, "extensions": {"code": "bad_user_input"}}
    log.error(
        "unexpected GraphQL error (request_id=%s) at %s",
        request_id,
        error.path,
        exc_info=(type(original), original, original.__traceback__),
        extra={"request_id": request_id},
    )
    masked = graphql_error(render_error(original, request_id))
    where = {key: value for key, value in body.items() if key in ("locations", "path")}
    return {"message": masked["message"], **where, "extensions": masked["extensions"]}


def format_errors(errors: Iterable[GraphQLError], request_id: str) -> list[dict[str, Any]]:
    return [format_error(error, request_id) for error in errors]
