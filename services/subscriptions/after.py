"""A subscription's `after` argument: where its stream starts.

- ``None``, ``""`` or ``"now"``: live from the network's current position (no catch-up);
- a row id (`core.ids`, e.g. ``0270985837184565248-0000000001``): the stored rows after it, then live;
- a query cursor of the same listing and filter (an ``endCursor`` of the listing's query field): the same. A
  cursor made for other filters or ranges is a 400 ``cursor_filters_mismatch`` (as in queries);
- anything else: a 400 ``invalid_parameter`` naming ``after``.
"""

from __future__ import annotations

from core.errors import BadRequest, invalid_parameter
from core.ids import MAX_LEDGER, OrderKey
from storage.query import Query

NOW = "now"
_TX_LAST = (1 << 20) - 1
_OP_LAST = (1 << 12) - 1
_EVENT_LAST = 10**10 - 1
_ID_LENGTH = len(OrderKey(0).id)


def end_of_ledger(ledger: int | None) -> str:
    """The position after every row of `ledger` and before every row of the next (None: before every row)."""
    if ledger is None or ledger < 1:
        return OrderKey(0).id
    return OrderKey(min(ledger, MAX_LEDGER), _TX_LAST, _OP_LAST, _EVENT_LAST).id


def parse_after(query: Query, after: str | None) -> str | None:
    """The position a stream of `query`'s rows starts after, or None for "now" (see the module docstring)."""
    if after is None or after in ("", NOW):
        return None
    if len(after) > 200:
        raise invalid_parameter("after", 'neither a row id, a cursor nor "now"')
    try:
        key = OrderKey.from_id(after)
        if key.id == after and len(after) == _ID_LENGTH:  # the canonical form only: ids compare as text
            return after
    except ValueError:
        pass
    try:
        return query.resume(after, parameter="after").after
    except BadRequest as exc:
        if exc.code == "cursor_filters_mismatch":
            raise
        raise invalid_parameter("after", 'neither a row id, a cursor of this listing nor "now"') from None
