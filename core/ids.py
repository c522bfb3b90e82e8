"""Row ids, order keys and cursors (DESIGN.md "Ids, ordering, cursors, amounts").

Every row has a total order key `(ledger_sequence, transaction_index, operation_index, event_index)`. Its
string form is the row `id`: the Horizon paging token (TOID: `ledger << 32 | tx << 12 | op`, indices 1-based,
0 for "whole ledger/transaction"), a dash, and the event index, both zero-padded so that ids sort as strings
in the same order as the keys. The id is also the cursor position, the subscription resume point and the
webhook `event_id`.

Cursors are opaque: base64url of the order key and a fingerprint of the query's filters, so a cursor used with
other filters is refused (400), never answered with a wrong page.
"""

from __future__ import annotations

import base64
import hashlib
from typing import NamedTuple

import orjson

from core.errors import BadRequest

MAX_LEDGER = 2**32 - 1  # ledger sequence numbers are uint32
_TX_LIMIT = 1 << 20  # TOID: 20 bits of transaction index
_OP_LIMIT = 1 << 12  # and 12 bits of operation index


class OrderKey(NamedTuple):
    ledger_sequence: int
    transaction_index: int = 0
    operation_index: int = 0
    event_index: int = 0

    @property
    def toid(self) -> int:
        if not (0 <= self.transaction_index < _TX_LIMIT and 0 <= self.operation_index < _OP_LIMIT):
            raise ValueError(f"order key out of TOID range: {tuple(self)}")
        return (self.ledger_sequence << 32) | (self.transaction_index << 12) | self.operation_index

    @property
    def id(self) -> str:
        return f"{self.toid:019d}-{self.event_index:010d}"

    @classmethod
    def from_id(cls, row_id: str) -> OrderKey:
        toid_text, _, event_text = row_id.partition("-")
        if not (toid_text.isdigit() and event_text.isdigit()):
            raise ValueError(f"not a row id: {row_id!r}")
        toid = int(toid_text)
        return cls(toid >> 32, (toid >> 12) & (_TX_LIMIT - 1), toid & (_OP_LIMIT - 1), int(event_text))


def row_id(
    ledger_sequence: int, transaction_index: int, operation_index: int | None, event_index: int
) -> str:
    """The id of a row; a transaction-level row (no operation) uses operation index 0."""
    # `OrderKey(...).id` inlined: called for every extracted row, the tuple and its two properties cost about
    # as much as the rest of building a row (issue 16). Same checks, same text.
    operation_index = operation_index or 0
    if not (0 <= transaction_index < _TX_LIMIT and 0 <= operation_index < _OP_LIMIT):
        raise ValueError(
            f"order key out of TOID range: {(ledger_sequence, transaction_index, operation_index, event_index)}"
        )
    toid = (ledger_sequence << 32) | (transaction_index << 12) | operation_index
    # `zfill` pads as the `019d` / `010d` format specs do (a sign first), at half their cost.
    return f"{str(toid).zfill(19)}-{str(event_index).zfill(10)}"


_INT64 = range(-(2**63), 2**63)


def canonical_json(value: object) -> bytes:
    """`value` as canonical JSON (sorted keys); integers beyond 64 bits, which orjson refuses (a raw amount
    of an 18-decimal token easily is one), are written as their decimal text."""

    def wide(item: object) -> object:
        if isinstance(item, int) and not isinstance(item, bool):
            return item if item in _INT64 else str(item)
        if isinstance(item, dict):
            return {key: wide(inner) for key, inner in item.items()}
        if isinstance(item, list | tuple):
            return [wide(inner) for inner in item]
        return item

    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS, default=str)
    except TypeError:  # orjson.JSONEncodeError: an integer past 64 bits somewhere
        return orjson.dumps(wide(value), option=orjson.OPT_SORT_KEYS, default=str)


def filters_fingerprint(filters: object) -> str:
    """A short, stable digest of a query's filters (any JSON-able value; key order does not matter)."""
    return hashlib.sha256(canonical_json(filters)).hexdigest()[:16]


def encode_cursor(position: str, fingerprint: str) -> str:
    """An opaque cursor for `position` (a row id or another ordered key) under the given filters."""
    return base64.urlsafe_b64encode(f"{fingerprint}|{position}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str, fingerprint: str, *, parameter: str = "cursor") -> str:
    """The position inside `cursor`; a malformed cursor or one made for other filters is a 400."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        text = base64.urlsafe_b64decode(padded.encode("ascii")).decode()
        made_for, position = text.split("|", 1)
    except (ValueError, UnicodeError) as exc:
        raise invalid_cursor(parameter) from exc
    if made_for != fingerprint:
        raise BadRequest(
            f"{parameter}: this cursor belongs to a query with other filters; start again without it",
            code="cursor_filters_mismatch",
            details={"parameter": parameter},
        )
    return position


def invalid_cursor(parameter: str = "cursor") -> BadRequest:
    """A cursor that is not one of ours (malformed, or holding a position no row can have): 400, naming the
    parameter (REST's ``cursor``, GraphQL's ``after``/``before``) like every other refused value."""
    return BadRequest(
        f"{parameter}: not a valid cursor", code="invalid_cursor", details={"parameter": parameter}
    )
