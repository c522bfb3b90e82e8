"""The per-tenant filter of contract events: `select(rows, config)`.

Semantics (Stellar RPC ``getEvents`` for the topic patterns):

- ``contracts``: the event's contract id is one of them;
- ``event_types``: its ``event_type`` (topic 0 as symbol or string) is one of them;
- ``topics``: it matches at least one pattern. A pattern position is ``*`` (exactly one topic, any value),
  ``**`` (last position only: zero or more remaining topics) or a literal compared with the topic's text form
  (``topicN``: symbols, strings and addresses as they are, other values as canonical JSON text, see
  `processors.contract_events.extract.topic_text`). Without ``**`` the event must have exactly as many topics
  as the pattern has positions;
- ``include_failed``: keep events of failed transactions (dropped by default);
- ``include_diagnostics``: keep ``diagnostic`` events (dropped by default).

Empty lists mean "all". The kinds are AND'ed; the patterns are OR'ed among themselves.

The filter runs once per ledger per tenant, so a config is compiled once into a `_Matcher` (cached on the
config's hashable key) and each row costs a few set and tuple lookups.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from processors.contract_events.config import ContractEventConfig
from processors.contract_events.extract import DIAGNOSTIC, TABLE

_ONE = "*"
_REST = "**"
_TOPIC_KEYS = ("topic0", "topic1", "topic2", "topic3")

Rows = list[dict[str, Any]]


@dataclass(frozen=True, slots=True)
class _Pattern:
    """A compiled topic pattern: the literal positions, and the topic counts it accepts."""

    literals: tuple[tuple[str, str], ...]  # (topicN column, literal)
    min_topics: int
    exact: bool  # no trailing `**`: the count must equal min_topics

    def matches(self, row: Mapping[str, Any]) -> bool:
        count = len(row["topics_xdr"])
        if count < self.min_topics or (self.exact and count != self.min_topics):
            return False
        return all(row[column] == literal for column, literal in self.literals)


def _compile_pattern(pattern: tuple[str, ...]) -> _Pattern:
    exact = not pattern or pattern[-1] != _REST
    positions = pattern if exact else pattern[:-1]
    literals = tuple((_TOPIC_KEYS[i], segment) for i, segment in enumerate(positions) if segment != _ONE)
    return _Pattern(literals, len(positions), exact)


@dataclass(frozen=True, slots=True)
class _Matcher:
    contracts: frozenset[str] | None
    event_types: frozenset[str] | None
    patterns: tuple[_Pattern, ...]
    include_failed: bool
    include_diagnostics: bool

    @property
    def keeps_everything(self) -> bool:
        return (
            self.contracts is None
            and self.event_types is None
            and not self.patterns
            and self.include_failed
            and self.include_diagnostics
        )

    def matches(self, row: Mapping[str, Any]) -> bool:
        if not self.include_failed and not row["in_successful_tx"]:
            return False
        if not self.include_diagnostics and row["type"] == DIAGNOSTIC:
            return False
        if self.contracts is not None and row["contract_id"] not in self.contracts:
            return False
        if self.event_types is not None and row["event_type"] not in self.event_types:
            return False
        return not self.patterns or any(pattern.matches(row) for pattern in self.patterns)


_ConfigKey = tuple[tuple[str, ...], tuple[str, ...], tuple[tuple[str, ...], ...], bool, bool]


def _key(config: ContractEventConfig) -> _ConfigKey:
    # The config model is frozen but holds lists (unhashable): this tuple form is its cache key.
    return (
        tuple(config.contracts),
        tuple(config.event_types),
        tuple(tuple(pattern) for pattern in config.topics),
        config.include_failed,
        config.include_diagnostics,
    )


@lru_cache(maxsize=1024)
def _compile(key: _ConfigKey) -> _Matcher:
    contracts, event_types, patterns, include_failed, include_diagnostics = key
    return _Matcher(
        contracts=frozenset(contracts) or None,
        event_types=frozenset(event_types) or None,
        patterns=tuple(_compile_pattern(pattern) for pattern in patterns),
        include_failed=include_failed,
        include_diagnostics=include_diagnostics,
    )


def compile_config(config: ContractEventConfig) -> _Matcher:
    """The compiled filter of `config` (cached: equal configs share one matcher)."""
    return _compile(_key(config))


def select(rows: Mapping[str, Rows], config: ContractEventConfig) -> dict[str, Rows]:
    """The rows of `rows` (as returned by `extract`) that the tenant's `config` keeps."""
    matcher = compile_config(config)
    table_rows = rows.get(TABLE, [])
    if matcher.keeps_everything:
        return {TABLE: list(table_rows)}
    return {TABLE: [row for row in table_rows if matcher.matches(row)]}
