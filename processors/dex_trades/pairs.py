"""Asset pairs in one canonical orientation, and exact prices written as decimal strings.

Shared by the trades (their ``pair`` column and pair filter) and the candles of `processors.dex_volume`.

**Canonical orientation.** A pair is written ``BASE/COUNTER``. ``native`` (XLM) is always the base; otherwise
the base is the asset whose string (``CODE:ISSUER`` or a ``C…`` contract id) comes first in code-point order
(Python's ``<`` on ``str``, SQL ``COLLATE "C"``). So XLM/USDC is ``native/USDC:GA5Z…`` (quoted, as people
quote it, in USDC per XLM), and ``EURC:…/USDC:…`` is ordered by code, then issuer. Asset strings never hold
``/``, so a pair splits at its only slash. A pair named in either direction maps to the same canonical pair.

**Prices** are exact rationals ``(n, d)`` in lowest terms; ``decimal_text`` writes one as a decimal string for
people: at most `SIGNIFICANT_DIGITS` significant digits, rounded half-even, plain notation, no trailing zeros
(``"0.1234"``, ``"2"``). The string is exact whenever the rational has a terminating expansion that fits; the
``(n, d)`` columns always are.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Context, Decimal
from fractions import Fraction
from functools import lru_cache

__all__ = ["NATIVE", "SIGNIFICANT_DIGITS", "canonical_pair", "decimal_text", "pair_assets", "reduced"]

NATIVE = "native"
SIGNIFICANT_DIGITS = 20
# A context of its own: the decimal module's thread-local default may be changed by anyone.
_CONTEXT = Context(prec=SIGNIFICANT_DIGITS, rounding=ROUND_HALF_EVEN)


def _sort_key(asset: str) -> tuple[bool, str]:
    return (asset != NATIVE, asset)


@lru_cache(maxsize=1 << 14)
def canonical_pair(asset_a: str, asset_b: str) -> str:
    """``BASE/COUNTER`` of two assets, in the canonical orientation whichever order they come in."""
    base, counter = sorted((asset_a, asset_b), key=_sort_key)
    return f"{base}/{counter}"


def pair_assets(pair: str) -> tuple[str, str]:
    """``(base, counter)`` of a ``BASE/COUNTER`` string."""
    base, _, counter = pair.partition("/")
    return base, counter


def reduced(numerator: int, denominator: int) -> tuple[int, int] | None:
    """``numerator/denominator`` in lowest terms; None when the denominator is 0 (no price)."""
    if denominator == 0:
        return None
    value = Fraction(numerator, denominator)
    return value.numerator, value.denominator


# Memoised: a candle's open, high, low and close are trade prices, and the same trade's price is a price of its
# candle in every interval (1m to 1w), rewritten at every batch that touches the bucket (issue 16: ~0.4 ms a ledger
# of dex_volume's upkeep).
@lru_cache(maxsize=1 << 14)
def decimal_text(numerator: int, denominator: int) -> str:
    """The rational ``numerator/denominator`` (denominator > 0) as a decimal string (see the module docstring)."""
    value = _CONTEXT.divide(Decimal(numerator), Decimal(denominator))
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text
