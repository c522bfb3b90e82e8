"""Hostile tenant documents (issue 12): whatever a file holds, validation answers valid or `path: problem` lines
that print and encode, never an exception of its own; what it accepts the database and the limiter can take.

Property-based (strategies in tests/hostile.py): the demo tenant's document with a leaf or a key replaced by
hostile values (NUL, lone surrogates, huge integers, calendar edges, nested structures), written as YAML or JSON.
The API suite posts such documents to the admin API on both backends (tests/api/test_hostile_input.py).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from core.errors import ConfigError
from core.tenant_config import (
    MAX_CACHE_TTL_SECONDS,
    MAX_COLD_RETENTION_YEARS,
    MAX_CONCURRENT_REQUESTS,
    MAX_HOT_RETENTION_DAYS,
    MAX_RATE_LIMIT_PER_MINUTE,
    parse_tenant_config,
    parse_tenant_documents,
)
from core.validation import MAX_NESTING, MAX_VALUES, shape_problem, unstorable_text
from processors.registry import default_registry
from tests.hostile import HOSTILE, mutated_documents

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "tenants" / "acme-wallet.yaml"
CATALOGUE = default_registry().catalogue()
# `path: problem`: a path in the document (a key other than a plain name quoted, `customer['a b']`) or the line
# of a YAML syntax error.
LINE = re.compile(r"^(line \d+|document|(documents\[\d+\]\.)?customer(\[.*?\]|[.\[][^ ]*)*): \S")


def example() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(EXAMPLE.read_text())
    return document


def _strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [text for key, item in value.items() for text in (*_strings(key), *_strings(item))]
    if isinstance(value, list):
        return [text for item in value for text in _strings(item)]
    return []


@HOSTILE
@given(document=mutated_documents(example()), as_json=st.booleans())
def test_hostile_documents_are_valid_or_refused_path_by_path(document: dict[str, Any], as_json: bool) -> None:
    # json.dumps writes lone surrogates and huge integers as JSON does (escapes, digits); YAML is YAML.
    text = json.dumps(document) if as_json else yaml.safe_dump(document, allow_unicode=False)
    try:
        configs = parse_tenant_documents(text, CATALOGUE)
    except ConfigError as exc:
        assert exc.errors
        for line in exc.errors:
            assert LINE.match(line), line
            line.encode("utf-8")  # prints on a terminal, travels in a JSON error body
        return
    (config,) = configs
    stored = config.to_document()
    orjson.dumps(stored)  # what the tenants table stores (JSON) can be written
    assert all(unstorable_text(text) is None for text in _strings(stored))
    api = config.customer.api
    assert api.rate_limit_per_minute <= MAX_RATE_LIMIT_PER_MINUTE
    assert api.concurrent_requests <= MAX_CONCURRENT_REQUESTS


@pytest.mark.parametrize(
    ("path", "bound"),
    [
        (("api", "rate_limit_per_minute"), MAX_RATE_LIMIT_PER_MINUTE),
        (("api", "concurrent_requests"), MAX_CONCURRENT_REQUESTS),
        (("api", "cache_ttl_seconds"), MAX_CACHE_TTL_SECONDS),
        (("storage", "hot_retention_days"), MAX_HOT_RETENTION_DAYS),
        (("storage", "cold_retention_years"), MAX_COLD_RETENTION_YEARS),
        (("processors", 0, "start_ledger"), 2**32 - 1),
    ],
)
@pytest.mark.parametrize("beyond", [1, 2**63 - 1, 10**100])
def test_every_numeric_setting_has_an_upper_bound_named_by_its_path(
    path: tuple[str | int, ...], bound: int, beyond: int
) -> None:
    document = example()
    node: Any = document["customer"]
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = bound
    parse_tenant_config(document, CATALOGUE)  # the bound itself is allowed
    node[path[-1]] = bound + beyond
    where = "customer." + ".".join(f"[{k}]" if isinstance(k, int) else k for k in path).replace(".[", "[")
    with pytest.raises(ConfigError) as refused:
        parse_tenant_config(document, CATALOGUE)
    assert refused.value.errors == [f"{where}: must be <= {bound}"]


@pytest.mark.parametrize(
    ("value", "ok"),
    [("1" * 39, True), ("1" * 40, False), ("0." + "1" * 38, True), ("0." + "1" * 39, False), (10**39, False)],
)
def test_the_large_payment_threshold_is_bounded(value: object, ok: bool) -> None:
    document = example()
    document["customer"]["api"]["large_payment_threshold"] = value
    if ok:
        parse_tenant_config(document, CATALOGUE)
        return
    with pytest.raises(ConfigError) as refused:
        parse_tenant_config(document, CATALOGUE)
    assert refused.value.errors[0].startswith("customer.api.large_payment_threshold: not a decimal amount")


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ('name: "Acme\\0Wallet"', "customer.name: contains a NUL character"),
        ('name: "Acme\\uD800"', "customer.name: contains a lone surrogate (not valid Unicode text)"),
        (
            'name: Acme\n  "bad\\0key": 1',
            "customer['bad\\x00key']: the key contains a NUL character",
        ),
    ],
    ids=["nul", "surrogate", "key"],
)
def test_text_the_database_cannot_store_is_refused_at_its_path(text: str, line: str) -> None:
    document = EXAMPLE.read_text().replace('name: "Acme Wallet"', text)
    with pytest.raises(ConfigError) as refused:
        parse_tenant_documents(document, CATALOGUE)
    assert line in refused.value.errors


def test_a_processor_type_that_is_not_a_string_is_a_problem_line() -> None:
    """Found by the suite: a list as a processor's type broke the webhook-event check (TypeError, a 500)."""
    document = example()
    document["customer"]["processors"][0]["type"] = ["TokenTransferProcessor"]
    document["customer"]["a b"] = 1
    with pytest.raises(ConfigError) as refused:
        parse_tenant_config(document, CATALOGUE)
    assert "customer.processors[0].type: Input should be a valid string" in refused.value.errors
    assert "customer['a b']: unknown key" in refused.value.errors


def _nested(depth: int) -> str:
    """A YAML (and JSON) list nested `depth` levels deep, as the value of the customer's name."""
    return "[" * depth + "]" * depth


@pytest.mark.parametrize(
    ("value", "line"),
    [
        (
            _nested(MAX_NESTING - 2),
            None,
        ),  # with the document's own two levels: at the limit, refused as a type
        (_nested(MAX_NESTING - 1), "document: is nested more than 64 levels deep"),
        (
            _nested(200),
            "document: is nested more than 64 levels deep",
        ),  # PyYAML reads it; deeper, it refuses itself
        ("&a [*a]", "document: is nested more than 64 levels deep"),  # an alias holding itself
    ],
    ids=["at-the-limit", "past-it", "deep", "alias-cycle"],
)
def test_a_document_nested_too_deeply_is_one_problem_line(value: str, line: str | None) -> None:
    """Found by an attacker's pass: a document nested ~950 levels deep passed PyYAML and broke the storable-text
    walk with a RecursionError (a 500 from the admin API and the console). Whatever the depth, the answer is a
    problem line; the limit counts the document's own levels (customer: 1, name: 2)."""
    text = EXAMPLE.read_text().replace('name: "Acme Wallet"', f"name: {value}")
    with pytest.raises(ConfigError) as refused:
        parse_tenant_documents(text, CATALOGUE)
    if line is None:
        assert "customer.name: Input should be a valid string" in refused.value.errors
    else:
        assert refused.value.errors == [line]


def test_a_billion_laughs_document_is_refused_at_once() -> None:
    """Aliases of aliases: nine lines that expand to 10**9 values for any walk of the document (ours, pydantic's).
    Refused by counting what the walk would visit, up to `MAX_VALUES`."""
    lines = ["l0: &l0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 10)}]" for i in range(1, 9)]
    text = EXAMPLE.read_text() + "\n" + "\n".join(f"  {line}" for line in lines)
    with pytest.raises(ConfigError) as refused:
        parse_tenant_documents(text, CATALOGUE)
    assert refused.value.errors == [f"document: holds more than {MAX_VALUES} values (YAML aliases expanded)"]


def test_the_shape_check_walks_without_recursion() -> None:
    deep: list[Any] = []
    for _ in range(100_000):  # far past the interpreter's recursion limit
        deep = [deep]
    assert shape_problem(deep, max_values=None) == f"is nested more than {MAX_NESTING} levels deep"
    assert shape_problem([[1, {"a": [2]}]] * 10, max_values=None) is None
    wide = list(range(MAX_VALUES))
    assert shape_problem(wide, max_values=None) is None
    assert shape_problem(wide) == f"holds more than {MAX_VALUES} values (YAML aliases expanded)"
    assert shape_problem({"a": {"b": 1}}, max_depth=1) == "is nested more than 1 levels deep"
    assert shape_problem({"a": {"b": 1}}, max_depth=2) is None


@pytest.mark.parametrize(
    ("schedule", "runs"),
    [
        ("0 0 31 2 *", False),
        ("* * 31 4 *", False),
        ("0 0 30 2 *", False),
        ("0 0 29 2 *", True),
        ("0 0 31 2 1", True),
    ],
)
def test_an_archive_schedule_that_never_runs_is_refused(schedule: str, runs: bool) -> None:
    """Found by an attacker's pass: February 31st is a valid cron expression that never runs, and the archive
    scheduler's check of every tenant failed on it every minute (croniter finds no previous run), so no tenant
    was archived on schedule. February 29th runs every four years; with a weekday, cron runs on either."""
    document = example()
    document["customer"].setdefault("storage", {})["archive_schedule"] = schedule
    if runs:
        assert parse_tenant_config(document, CATALOGUE).customer.storage.archive_schedule == schedule
        return
    with pytest.raises(ConfigError) as refused:
        parse_tenant_config(document, CATALOGUE)
    assert refused.value.errors == [
        "customer.storage.archive_schedule: this cron expression never runs (no such day in that month)"
    ]


@pytest.mark.parametrize(
    "tagged",
    [
        "!!bool 'maybe'",
        "!!timestamp 'garbage'",
        "!!int ''",
        "!!float ''",
        "!!set [1]",
        "!!map [1]",
        "!!omap [1]",
    ],
)
def test_explicit_tags_that_cannot_be_read_are_a_problem_line(tagged: str) -> None:
    """Found by an attacker's pass: PyYAML's constructors raise KeyError, AttributeError, IndexError or TypeError
    on such values, which reached the admin API and the console as 500s."""
    text = EXAMPLE.read_text().replace('name: "Acme Wallet"', f"name: {tagged}")
    with pytest.raises(ConfigError) as refused:
        parse_tenant_documents(text, CATALOGUE)
    assert len(refused.value.errors) == 1 and LINE.match(refused.value.errors[0]), refused.value.errors
