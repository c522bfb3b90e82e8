"""Stored rows as JSON-able dicts and back: what pub/sub messages carry to the subscription hubs.

`encode_rows(table, rows)` turns rows of `table` (as the ingest batch holds them, or as the query router returns
them) into dicts orjson can write exactly; `decode_rows(table, wire_rows)` gives back the rows the router would
have returned for them: every column of the table but ``tenant_id`` (the channel names the tenant), a column the
ingest row did not set reading as None. Per column kind (`storage.columns`):

- amounts and other wide integers: decimal strings (JSON numbers, and orjson, stop at 64 bits);
- datetimes: ISO 8601 text of the tz-aware instant, read back as the same aware `datetime`;
- JSON values: as they are (the stored value), except integers past 64 bits, written as their decimal text in
  a one-key object ``{"$int": "..."}`` so they survive orjson too (a stored one-key object whose key is
  ``$int`` or ``$obj`` is wrapped as ``{"$obj": {...}}``, so decoding is never ambiguous);
- everything else (text, integers, booleans, None): as it is.

Decoding is the exact inverse on every history table of every processor (tests/storage/test_row_wire.py runs it
on the real mainnet rows of each).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Table

from storage.columns import ColumnKind, column_kind

WireRow = dict[str, Any]
MESSAGE_VERSION = 2
"""The version of the pub/sub row messages (`ingest.publish`), which the subscription hubs check."""
_INT64 = range(-(2**63), 2**63)
_WIDE = "$int"
_OBJECT = "$obj"
_TAGS = (_WIDE, _OBJECT)
_Codec = tuple[tuple[str, Callable[[Any], Any], Callable[[Any], Any]], ...]
_CODECS: dict[Table, _Codec] = {}
_DECODERS: dict[Table, dict[str, Callable[[Any], Any]]] = {}


def _same(value: Any) -> Any:
    return value


def _int_text(value: Any) -> Any:
    return None if value is None else str(value)


def _text_int(value: Any) -> Any:
    return None if value is None else int(value)


def _iso(value: Any) -> Any:
    return None if value is None else value.isoformat()


def _moment(value: Any) -> Any:
    return None if value is None else datetime.fromisoformat(value)


def _json_out(value: Any) -> Any:
    if isinstance(value, int) and not isinstance(value, bool):
        return value if value in _INT64 else {_WIDE: str(value)}
    if isinstance(value, dict):
        encoded = {key: _json_out(inner) for key, inner in value.items()}
        # A stored object that looks like a tag is itself wrapped, so decoding is never ambiguous.
        return {_OBJECT: encoded} if len(value) == 1 and next(iter(value)) in _TAGS else encoded
    if isinstance(value, list | tuple):
        return [_json_out(inner) for inner in value]
    return value


def _json_in(value: Any) -> Any:
    if isinstance(value, dict):
        if len(value) == 1:
            tag, inner = next(iter(value.items()))
            if tag == _WIDE and isinstance(inner, str):
                return int(inner)
            if tag == _OBJECT and isinstance(inner, dict):
                return {key: _json_in(item) for key, item in inner.items()}
        return {key: _json_in(inner) for key, inner in value.items()}
    if isinstance(value, list):
        return [_json_in(inner) for inner in value]
    return value


_BY_KIND: dict[ColumnKind, tuple[Callable[[Any], Any], Callable[[Any], Any]]] = {
    ColumnKind.AMOUNT: (_int_text, _text_int),
    ColumnKind.BIG_INTEGER: (_int_text, _text_int),
    ColumnKind.DATETIME: (_iso, _moment),
    ColumnKind.JSON: (_json_out, _json_in),
}


def _codec(table: Table) -> _Codec:
    found = _CODECS.get(table)
    if found is None:
        found = _CODECS[table] = tuple(
            (str(c.name), *_BY_KIND.get(column_kind(c), (_same, _same)))
            for c in table.columns
            if c.name != "tenant_id"
        )
    return found


def rows_channel(tenant_id: str, processor_name: str) -> str:
    """The pub/sub channel of a tenant's processor's new rows (publisher and subscription hubs agree on it)."""
    return f"rows:{tenant_id}:{processor_name}"


def encode_rows(table: Table, rows: Iterable[Mapping[str, Any]]) -> list[WireRow]:
    """`rows` of `table` as JSON-able dicts (see the module docstring); ``tenant_id`` is left out."""
    codec = _codec(table)
    return [{name: out(row.get(name)) for name, out, _ in codec} for row in rows]


def column_decoders(table: Table) -> dict[str, Callable[[Any], Any]]:
    """Per column of `table` (but ``tenant_id``), what `decode_rows` applies to its wire value: for reading a few
    columns of a wire row (a subscription filter's) without decoding the rest."""
    found = _DECODERS.get(table)
    if found is None:
        found = _DECODERS[table] = {name: back for name, _, back in _codec(table)}
    return found


def decode_rows(table: Table, wire_rows: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The rows `encode_rows` was given, as the query router returns them (every column but ``tenant_id``)."""
    codec = _codec(table)
    return [{name: back(row.get(name)) for name, _, back in codec} for row in wire_rows]
