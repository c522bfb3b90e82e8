"""Rows as the REST API shows them, and the response envelope.

Rows are the table's columns without `tenant_id` (snake_case, as in exports). Amounts (`Amount` columns) and 64-bit ids
become strings, never JSON numbers (i128 values lose precision past 2**53); times are ISO 8601 UTC with
`Z`; JSON columns stay JSON. Bodies are written with orjson.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from functools import cache
from typing import Any

import orjson
from starlette.responses import Response

from storage.processor_tables import is_wide_integer
from storage.tables import metadata

JSON_OPTIONS = orjson.OPT_UTC_Z | orjson.OPT_NON_STR_KEYS


@cache
def amount_columns(table_name: str) -> tuple[str, ...]:
    """The columns written as strings: amounts and other integers that may pass 2**53 (offer ids)."""
    table = metadata.tables[table_name]
    return tuple(str(c.name) for c in table.columns if is_wide_integer(c))


def render_rows(
    rows: list[dict[str, Any]], table_name: str, relative_to: Iterable[str] | None = None
) -> list[dict[str, Any]]:
    """The page's rows made JSON-ready in place (they are fresh dicts of one read) and returned.

    With `relative_to` (the accounts a token transfer query filtered on), each row also says `direction`:
    `sent` when one of them is the sender (a transfer to oneself reads as sent), else `received`; and
    `counterparty`: the other side (null for a fee, a mint's missing sender or a burn's missing receiver).
    """
    amounts = amount_columns(table_name)
    accounts = frozenset(relative_to) if relative_to is not None else None
    for row in rows:
        for name in amounts:
            value = row.get(name)
            if value is not None:
                row[name] = str(value)
        if accounts is not None:
            sent = row.get("from") in accounts
            row["direction"] = "sent" if sent else "received"
            row["counterparty"] = row.get("to") if sent else row.get("from")
    return rows


def stringify(row: dict[str, Any], names: Sequence[str]) -> dict[str, Any]:
    """`row` with the integer amounts under `names` as strings."""
    for name in names:
        if row.get(name) is not None:
            row[name] = str(row[name])
    return row


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
