"""Soroban values read once per distinct encoding, for every extractor of an ingestion process (issue 16).

Event topics and data repeat: on the 20 mainnet ledgers 63092982-63093001, 57,604 topics had 5,096 distinct
encodings and 21,215 data values 3,295 (``transfer``, ``native``, the same contracts and accounts, the same
fee amounts). A value the fast decoder hands out carries its XDR and is decoded (by stellar-sdk) on the first
accessor call, once per value object, and its friendly JSON (strkeys: base32 and a checksum) once per call.
Here a value is swapped for the first one seen with the same XDR, whose decoding is kept, and the friendly
JSON of a scalar and the base64 of the XDR are kept beside it: the rest of a ledger, and the next ledgers, reuse both.

Exact by construction: `ScValue` equality is XDR equality, and every accessor and JSON form is a function of
the XDR. A value without its bytes at hand (the stellar-sdk decoder's) is used as it is. Only immutable JSON
(strings, numbers, booleans, None) is shared between rows; lists and objects are built per call, so no row
can change another's. Bounded: the table is emptied when full, which costs only decoding again.
"""

from __future__ import annotations

from typing import Any

from ledgers.scval import ScValue

__all__ = ["friendly", "friendly_and_b64", "shared", "xdr_b64"]

_LIMIT = 2048  # peak RSS of 20 ledgers: 163 MB at 2,048 values, 172 MB at 8,192, for ~7% more CPU
_NO_JSON = object()


class _Known:
    __slots__ = ("b64", "json", "value")

    def __init__(self, value: ScValue) -> None:
        self.value = value
        self.json: Any = _NO_JSON
        self.b64: str | None = None


_known: dict[bytes, _Known] = {}


def _entry(value: ScValue) -> _Known | None:
    if not value.has_xdr:
        return None
    encoded = value.xdr
    found = _known.get(encoded)
    if found is None:
        if len(_known) >= _LIMIT:
            _known.clear()
        found = _known[encoded] = _Known(value)
    return found


def shared(value: ScValue) -> ScValue:
    """The value first seen with `value`'s XDR (decoded at most once), or `value` itself."""
    found = _entry(value)
    return value if found is None else found.value


def friendly(value: ScValue) -> Any:
    """``value.to_json()``, computed once per distinct scalar value."""
    found = _entry(value)
    return value.to_json() if found is None else _json_of(found)


def xdr_b64(value: ScValue) -> str:
    """``value.xdr_b64``, encoded once per distinct value."""
    found = _entry(value)
    return value.xdr_b64 if found is None else _b64_of(found)


def friendly_and_b64(value: ScValue) -> tuple[ScValue, Any, str] | None:
    """``(shared(value), friendly(value), xdr_b64(value))`` in one lookup, or None for a value without its bytes
    (the caller reads it as it is): contract events read all three of every topic and data value."""
    found = _entry(value)
    return None if found is None else (found.value, _json_of(found), _b64_of(found))


def _json_of(found: _Known) -> Any:
    if found.json is not _NO_JSON:
        return found.json
    result = found.value.to_json()
    if not isinstance(result, (list, dict)):
        found.json = result
    return result


def _b64_of(found: _Known) -> str:
    if found.b64 is None:
        found.b64 = found.value.xdr_b64
    return found.b64
