"""Request ids: the id of the request being served, as the request-id middleware
(`api.middleware.request_id`) accepted or made it; every log line written while serving carries it.

A caller's (or a proxy's) `X-Request-Id` is kept when it is a sane value, 1-128 characters of
``[A-Za-z0-9._:-]``, so one id can follow a request across services; anything else is replaced by a fresh id and
never echoed (it would go into our headers and logs as the caller wrote it).
"""

from __future__ import annotations

import re
import uuid
from contextvars import ContextVar

from starlette.types import Scope

HEADER = b"x-request-id"
_SANE = re.compile(r"[A-Za-z0-9._:-]{1,128}")

current_request_id: ContextVar[str | None] = ContextVar("obsrvr_request_id", default=None)
"""The id of the request being served in this context (None outside a request); log records carry it."""


def new_request_id() -> str:
    return uuid.uuid4().hex


def accepted_request_id(value: str | None) -> str:
    """The caller's id when it is sane, else a new one."""
    return value if value is not None and _SANE.fullmatch(value) else new_request_id()


def request_id_of(scope: Scope) -> str:
    """The request's id, as the middleware set it (a new one for a scope that never passed it)."""
    state = scope.setdefault("state", {})
    request_id = state.get("request_id")
    if not isinstance(request_id, str):
        request_id = state["request_id"] = new_request_id()
    return request_id
