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
from core.validation import unstorable_text
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
