"""Webhook messages made from rows, purely: ids, payloads, and which rows an endpoint's events take.

A message is fixed when it is recorded (live in the ingest transaction, or by a backfill over stored history), and
both paths build it here from the row as stored, so a row gives the same message id and the same bytes whichever
path records it:

- id ``msg_<endpoint id>_<event type>_<row id>``: the ``webhook-id`` header and the payload's ``event_id``. The
  event type is part of it because one transfer row can be both a ``token_transfer`` and a ``large_payment`` of
  the same endpoint.
- payload (compact JSON, orjson, UTC times with ``Z``)::

    {"event_id", "event_type", "timestamp" (the ledger's close time), "tenant_id", "ledger_sequence",
     "transaction_hash" (the row's tx_hash or null), "row_id", "data": <the row as the REST API shows it>}

  ``data`` is the table's columns without ``tenant_id``, amounts and 64-bit integers as strings
  (`storage.columns.string_fields`, as `api.rest_rows` renders them), times ISO 8601 with ``Z``, JSON columns as
  JSON. A ``large_payment``'s ``data`` also has ``"threshold_exceeded": true`` and ``"threshold"``: the decimal
  threshold that applied.
- ``large_payment``: a token transfer whose absolute ``amount`` (the decimal column, in asset units) is at least
  the tenant's ``large_payment_threshold`` for the row's asset (`core.tenant_config.ApiConfig`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from functools import cache
from typing import Any

import orjson
from sqlalchemy import Table

from storage.columns import string_fields, table_fields
from storage.query import Filter
from storage.row_match import row_matches

JSON_OPTIONS = orjson.OPT_UTC_Z | orjson.OPT_NON_STR_KEYS
LARGE_PAYMENT = "large_payment"

Thresholds = Callable[[str], str | None]
"""The large-payment threshold (decimal text) of an asset, or None when the asset has none."""


@dataclass(frozen=True)
class Message:
    """One recorded message: what `storage.webhooks.outbox` inserts."""

    id: str
    endpoint_id: str
    tenant_id: str
    event_type: str
    row_id: str
    ledger: int
    closed_at: datetime
    payload: bytes


def message_id(endpoint_id: str, event_type: str, row_id: str) -> str:
    return f"msg_{endpoint_id}_{event_type}_{row_id}"


@cache
def _shown_columns(table: Table) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The columns a row shows (all but ``tenant_id``), and those whose integers are written as strings."""
    return (
        tuple(c.name for c in table.columns if c.name != "tenant_id"),
        string_fields(table_fields(table)),
    )


def row_data(table: Table, row: Mapping[str, Any]) -> dict[str, Any]:
    """`row` as the REST API shows it (before JSON encoding): every column of `table` but ``tenant_id`` (a column
    the row lacks is null, as stored), string fields' integers as strings."""
    shown, strings = _shown_columns(table)
    data = {name: row.get(name) for name in shown}
    for name in strings:
        value = data.get(name)
        if value is not None:
            data[name] = str(value)
    return data


def payload(
    message_id_: str,
    event_type: str,
    tenant_id: str,
    table: Table,
    row: Mapping[str, Any],
    extra: Mapping[str, Any] | None = None,
) -> bytes:
    """The exact body of a message (see the module docstring); `extra` is added to ``data``."""
    data = row_data(table, row)
    if extra:
        data.update(extra)
    body = {
        "event_id": message_id_,
        "event_type": event_type,
        "timestamp": row["closed_at"],
        "tenant_id": tenant_id,
        "ledger_sequence": row["ledger_sequence"],
        "transaction_hash": row.get("tx_hash"),
        "row_id": row["id"],
        "data": data,
    }
    return orjson.dumps(body, option=JSON_OPTIONS)


def large_payment_threshold(row: Mapping[str, Any], thresholds: Thresholds) -> str | None:
    """The threshold `row` (a token transfer) reaches, or None when it is no large payment."""
    asset = row.get("asset")
    threshold = thresholds(asset) if isinstance(asset, str) else None
    if threshold is None:
        return None
    try:
        amount = abs(Decimal(str(row.get("amount"))))
    except InvalidOperation:  # no decimal amount: nothing to compare
        return None
    return threshold if amount >= Decimal(threshold) else None


def no_thresholds(_asset: str) -> str | None:
    """No asset has a large-payment threshold."""
    return None


def event_extra(event_type: str, row: Mapping[str, Any], thresholds: Thresholds) -> Mapping[str, Any] | None:
    """What `event_type` adds to the ``data`` of `row`'s message, ``{}`` for nothing, or None when the row is not
    an event of that type at all (a transfer below the large-payment threshold)."""
    if event_type != LARGE_PAYMENT:
        return {}
    threshold = large_payment_threshold(row, thresholds)
    if threshold is None:
        return None
    return {"threshold_exceeded": True, "threshold": threshold}


def event_messages(
    endpoint_id: str,
    tenant_id: str,
    event_type: str,
    table: Table,
    filters: Sequence[Filter],
    rows: Iterable[Mapping[str, Any]],
    thresholds: Thresholds = no_thresholds,
) -> list[Message]:
    """The messages of `event_type` that `rows` (of `table`, one tenant's) make for an endpoint filtering with
    `filters` (its filter as the event's listing turns it into `storage.query.Filter`s)."""
    messages = []
    for row in rows:
        if not row_matches(filters, row):
            continue
        extra = event_extra(event_type, row, thresholds)
        if extra is None:
            continue
        mid = message_id(endpoint_id, event_type, row["id"])
        messages.append(
            Message(
                id=mid,
                endpoint_id=endpoint_id,
                tenant_id=tenant_id,
                event_type=event_type,
                row_id=row["id"],
                ledger=int(row["ledger_sequence"]),
                closed_at=row["closed_at"],
                payload=payload(mid, event_type, tenant_id, table, row, extra),
            )
        )
    return messages
