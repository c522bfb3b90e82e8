"""Custom GraphQL scalars (DESIGN "Ids, ordering, cursors, amounts").

- ``BigInt``: an exact integer of any size (amounts in raw units up to i128, offer ids), always a JSON
  string on output, so no client parses it into a float. Input: a digit string (or a GraphQL Int).
- ``DateTime``: ISO 8601 in UTC with a ``Z`` suffix; input accepts any ISO 8601 with an offset (naive
  values are taken as UTC), clamped into the span of `core.instants` (years 1970-9000).
- ``Address``: a ``G…``, ``M…`` or ``C…`` strkey, checked on input (checksum included).
- ``Asset``: ``native``, ``CODE:ISSUER`` or a contract id, checked on input and returned canonical.
- ``JSON``: decoded ScVal values (topics, data, keys) as they are.

Type annotations use the Python types below; `SCALAR_MAP` tells Strawberry what they are in GraphQL.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, NewType

import strawberry
from strawberry.types.scalar import ScalarDefinition

from core.instants import utc_instant
from ledgers.strkeys import is_address, parse_asset

BigInt = NewType("BigInt", int)
Address = NewType("Address", str)
Asset = NewType("Asset", str)
JSON = NewType("JSON", object)


def _serialize_bigint(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError(f"BigInt cannot represent {value!r}")
    return str(value)


def _parse_bigint(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        text = value[1:] if value[:1] == "-" else value
        if text.isascii() and text.isdigit() and len(text) <= 40:
            return int(value)
    raise ValueError(f'BigInt must be an integer as a string, e.g. "1000000" (got {value!r})')


def serialize_datetime(value: Any) -> str:
    """ISO 8601 UTC with ``Z`` (the row timestamps are aware UTC datetimes)."""
    if not isinstance(value, datetime):
        raise ValueError(f"DateTime cannot represent {value!r}")
    aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    return aware.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _parse_datetime(value: Any) -> datetime:
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError:
            pass
        else:
            return utc_instant(parsed)
    raise ValueError(f'DateTime must be ISO 8601, e.g. "2025-06-01T12:00:00Z" (got {value!r})')


def _parse_address(value: Any) -> str:
    if isinstance(value, str) and is_address(value):
        return value
    raise ValueError(f"not an address (G..., M... or C... strkey): {value!r}")


def _parse_asset(value: Any) -> str:
    try:
        return parse_asset(value)
    except (ValueError, TypeError):
        raise ValueError(f"not an asset (native, CODE:ISSUER or a contract id): {value!r}") from None


def _identity(value: Any) -> Any:
    return value


SCALAR_MAP: dict[object, ScalarDefinition] = {
    BigInt: strawberry.scalar(
        name="BigInt",
        description="An exact integer of any size (raw amounts up to i128), as a string.",
        serialize=_serialize_bigint,
        parse_value=_parse_bigint,
    ),
    datetime: strawberry.scalar(
        name="DateTime",
        description="An ISO 8601 timestamp in UTC, e.g. 2025-06-01T12:00:00Z.",
        serialize=serialize_datetime,
        parse_value=_parse_datetime,
    ),
    Address: strawberry.scalar(
        name="Address",
        description="A Stellar account (G..., M...) or contract (C...) strkey, checked on input.",
        serialize=str,
        parse_value=_parse_address,
    ),
    Asset: strawberry.scalar(
        name="Asset",
        description="native, CODE:ISSUER, or a token contract id (C...).",
        serialize=str,
        parse_value=_parse_asset,
    ),
    JSON: strawberry.scalar(
        name="JSON",
        description="A decoded Soroban value (ScVal as JSON: big integers as strings, bytes as hex).",
        serialize=_identity,
        parse_value=_identity,
    ),
}
