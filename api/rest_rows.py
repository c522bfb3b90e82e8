"""Rows as the REST API shows them, and the response envelope.

Rows are the table's columns without `tenant_id` (snake_case, as in exports), or the fields a route's own reading
declares. Amounts and 64-bit ids (`storage.columns`) become strings, never JSON numbers (i128 values lose
precision past 2**53); times are ISO 8601 UTC with `Z`; JSON columns stay JSON. Bodies are written with orjson.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cache
from typing import Any

import orjson
from sqlalchemy import Table
from starlette.responses import Response

from storage.columns import string_fields, table_fields

JSON_OPTIONS = orjson.OPT_UTC_Z | orjson.OPT_NON_STR_KEYS


@cache
def table_string_fields(table: Table) -> tuple[str, ...]:
    """The columns of `table` whose integers are written as strings."""
    return string_fields(table_fields(table))


def render_rows(rows: list[dict[str, Any]], names: Sequence[str]) -> list[dict[str, Any]]:
    """The page's rows made JSON-ready in place (they are fresh dicts of one read) and returned: the integers of
    the string fields `names` (`storage.columns.string_fields`) become strings."""
    for row in rows:
        for name in names:
            value = row.get(name)
            if value is not None:
                row[name] = str(value)
    return rows


def envelope(
    data: list[dict[str, Any]],
    *,
    total: int,
    exact: bool,
    query_ms: float,
    sources: Sequence[str],
    next_cursor: str | None,
) -> dict[str, Any]:
    """The seed's envelope. `total_results` is exact up to the count cap; past it, it is the cap and
    `total_results_exact` is false (at least that many rows match)."""
    return {
        "data": data,
        "metadata": {
            "total_results": total,
            "total_results_exact": exact,
            "returned_results": len(data),
            "query_time_ms": round(query_ms, 2),
            "data_sources": list(sources),
            "next_cursor": next_cursor,
        },
    }


def json_response(body: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    return Response(
        orjson.dumps(body, option=JSON_OPTIONS),
        status_code=status,
        media_type="application/json",
        headers=dict(headers or {}),
    )
