"""Hypothesis strategies for the hostile-input suite (tests/api/test_hostile_input.py, tests/core/
test_hostile_config.py): what an attacker or a careless client sends.

Text holds NUL characters, lone surrogates, control and bidirectional characters, overlong values, SQL and
path fragments; dates sit at the calendar's edges (years 1 and 9999 with offsets that push them past it);
integers are huge, negative or past 64 bits, also as text. The `HOSTILE` settings keep the example counts
moderate and the runs deterministic (`derandomize`, no example database): a failure prints its falsifying
example and a `@reproduce_failure` blob, and the same run finds it again. `OBSRVR_HOSTILE_EXAMPLES` raises the
count for a longer local hunt.
"""

from __future__ import annotations

import copy
import os
import string
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

EXAMPLES = int(os.environ.get("OBSRVR_HOSTILE_EXAMPLES", "30"))

HOSTILE = settings(
    max_examples=EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)

CALENDAR_EDGES = [
    "0001-01-01",
    "0001-01-01T00:00:00+01:00",
    "0001-01-01T00:00:00Z",
    "0001-01-01T00:00:00.000001-23:59",
    "9999-12-31",
    "9999-12-31T23:59:59.999999-01:00",
    "9999-12-31T23:59:59.999999+14:00",
    "9999-12-31T23:59:59Z",
    "0000-01-01",
    "10000-01-01",
    "2025-02-29",
    "2024-02-29T24:00:00Z",
    "2025-06-01T23:59:60Z",
    "2025-06-01T12:00:00+24:00",
    "1969-12-31T23:59:59Z",
    "1970-01-01T00:00:00Z",
    "2025-06-01T12:00:00",
]
HUGE_INTEGERS = [
    -1,
    0,
    2**31,
    2**32 - 1,
    2**32,
    2**53 + 1,
    2**63 - 1,
    2**63,
    2**64,
    2**127 - 1,
    2**128,
    10**38,
    10**39 - 1,
    10**39,
    10**40,
    -(2**63) - 1,
]
NASTY_STRINGS = [
    "",
    " ",
    "\x00",
    "a\x00b",
    "\ud800",
    "x\udfff",
    "\ud83d",
    "\u202e",
    "\ufeff",
    "\t\r\n",
    "%00",
    "%",
    "null",
    "NaN",
    "-Infinity",
    "1e309",
    "0x10",
    "٣",
    "\uff11\uff12",  # fullwidth digits
    "' OR '1'='1",
    "'; DROP TABLE tenants; --",
    "../../etc/passwd",
    "native",
    "native/native",
    "*",
    "**",
    "now",
    "{}",
    "[]",
    '["a"]',
    "\\",
    "A" * 2000,
    "9" * 5000,
    "G" + "A" * 55,
    "C" + "A" * 55,
]


def characters() -> st.SearchStrategy[str]:
    """Any code point, surrogates and control characters included (st.text leaves surrogates out)."""
    return st.characters(codec=None, exclude_categories=())


def nasty_text(*, surrogates: bool = True) -> st.SearchStrategy[str]:
    """Hostile text; without lone surrogates where the transport cannot carry them (a URL built by a client)."""
    alphabet = characters() if surrogates else st.characters(codec="utf-8")
    strategy = st.one_of(
        st.sampled_from(NASTY_STRINGS),
        st.sampled_from(CALENDAR_EDGES),
        st.sampled_from(HUGE_INTEGERS).map(str),
        st.integers().map(str),
        st.text(alphabet=alphabet, max_size=40),
        st.text(alphabet=string.printable, max_size=40),
        st.tuples(st.sampled_from(NASTY_STRINGS), st.sampled_from(NASTY_STRINGS)).map("".join),
    )
    if surrogates:
        return strategy
    return strategy.filter(lambda text: _encodable(text))


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def json_values(*, surrogates: bool = True) -> st.SearchStrategy[Any]:
    """Hostile JSON-able values: scalars of every kind and small nestings of them."""
    scalars = st.one_of(
        nasty_text(surrogates=surrogates),
        st.sampled_from(HUGE_INTEGERS),
        st.integers(),
        st.floats(allow_nan=False, allow_infinity=False),
        st.booleans(),
        st.none(),
    )
    return st.recursive(
        scalars,
        lambda inner: st.one_of(
            st.lists(inner, max_size=4),
            st.dictionaries(nasty_text(surrogates=surrogates), inner, max_size=3),
        ),
        max_leaves=6,
    )


@st.composite
def mutated_documents(draw: st.DrawFn, document: dict[str, Any]) -> dict[str, Any]:
    """A copy of a tenant `document` with one leaf (or one key) of ``customer``, at a random depth, replaced by
    a hostile value."""
    document = copy.deepcopy(document)
    node: Any = document["customer"]
    while True:
        keys = list(node) if isinstance(node, dict) else list(range(len(node)))
        if not keys:
            break
        key = draw(st.sampled_from(keys))
        child = node[key]
        if isinstance(child, dict | list) and child and draw(st.booleans()):
            node = child
            continue
        if isinstance(node, dict) and draw(st.integers(0, 4)) == 0:
            node[draw(nasty_text())] = node.pop(key)
        else:
            node[key] = draw(json_values())
        break
    return document
