"""Exact integer amounts of any size (stroops, or a token's i128 units) on both backends.

PostgreSQL stores `NUMERIC(39,0)`. SQLite's integers stop at 64 bits, so there an amount is stored as text in
an encoding that sorts and compares like the number: a sign letter (`n` before `p`) and 40 digits, where a
negative value stores `10**40 - |value|` so that larger magnitudes sort first. Comparisons in SQL
(`amount >= :min_amount`) go through the same encoding for the bound value, so filters stay exact.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import Numeric, String, TypeDecorator
from sqlalchemy.engine import Dialect

SORTABLE_DIGITS = 40
_OFFSET = 10**SORTABLE_DIGITS
LIMIT = 10**39  # NUMERIC(39,0): enough for i128 / u128 (39 digits)


def encode_sortable(value: int) -> str:
    if not -LIMIT < value < LIMIT:
        raise ValueError(f"amount out of range: {value}")
    if value >= 0:
        return f"p{value:0{SORTABLE_DIGITS}d}"
    return f"n{_OFFSET + value:0{SORTABLE_DIGITS}d}"


def decode_sortable(text: str) -> int:
    magnitude = int(text[1:])
    return magnitude if text[0] == "p" else magnitude - _OFFSET


class Amount(TypeDecorator[int]):
    """An exact integer amount; Python side is always `int`."""

    impl = Numeric(39, 0)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> Any:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(SORTABLE_DIGITS + 1))
        return dialect.type_descriptor(Numeric(39, 0, asdecimal=True))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        number = int(value)
        if dialect.name == "sqlite":
            return encode_sortable(number)
        return Decimal(number)

    def process_result_value(self, value: Any, dialect: Dialect) -> int | None:
        if value is None:
            return None
        if dialect.name == "sqlite":
            return decode_sortable(value)
        return int(value)
