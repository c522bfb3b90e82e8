"""Logging of every process of the service (API, worker, dev), set up once by the CLI from the settings.

`OBSRVR_LOG_FORMAT=json` (the default): one JSON object per line (python-json-logger) with `timestamp` (ISO 8601
UTC), `level`, `logger`, `message`, whatever the call passed in `extra` (the access log's fields), the traceback
as `exc_info`, and `request_id` on every line written while a request is served. `text`: one readable line,
the request id in brackets (`obsrvr-flow dev` uses it unless the variable is set).
"""

from __future__ import annotations

import logging
import sys

from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonFormatter

from api.request_ids import current_request_id
from core.settings import Settings

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"
# Record attributes that are not fields: Python 3.12's task name, uvicorn's ANSI-coloured copy of its message.
NOT_FIELDS = [*RESERVED_ATTRS, "taskName", "color_message"]


class RequestIdFilter(logging.Filter):
    """Gives a record the id of the request being served (unless the call named one itself)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            request_id = current_request_id.get()
            if request_id is not None:
                record.request_id = request_id
        return True


def json_formatter() -> logging.Formatter:
    return JsonFormatter(
        "{levelname}{name}{message}",
        style="{",
        rename_fields={"levelname": "level", "name": "logger"},
        reserved_attrs=NOT_FIELDS,
        timestamp=True,
    )


def text_formatter() -> logging.Formatter:
    return logging.Formatter(TEXT_FORMAT, defaults={"request_id": "-"})


def log_handler(log_format: str) -> logging.Handler:
    """A stderr handler writing `log_format` ("json" or "text") lines, request ids included."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(json_formatter() if log_format == "json" else text_formatter())
    return handler


def configure_logging(settings: Settings) -> None:
    """Route every logger (ours, uvicorn's, arq's) through one handler at `settings.log_level`."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    root.addHandler(log_handler(settings.log_format))
    root.setLevel(settings.log_level)
