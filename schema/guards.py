"""Guards on by default (DESIGN "Examples to follow" 7): token, depth and alias limits, with the parsed and
validated document cached per schema and query text.

A document is parsed with a token limit (`MAX_TOKENS`), then validated with the standard rules plus a depth
limit (introspection fields do not count, so GraphiQL's schema query passes) and an alias limit. The outcome,
document or errors, is cached (LRU, per tenant schema), so a repeated query skips parsing and validation:
clients that send the same query text with new variables pay neither. Each refusal carries a precise code
(`query_too_deep`, `too_many_aliases`, `too_many_tokens`, `graphql_parse_failed`, `graphql_validation_failed`).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from threading import Lock

from graphql import DocumentNode, GraphQLError, GraphQLSchema, parse, specified_rules, validate
from strawberry.extensions.max_aliases import create_validator as alias_validator
from strawberry.extensions.query_depth_limiter import create_validator as depth_validator

MAX_DEPTH = 10
MAX_ALIASES = 15
MAX_TOKENS = 2000
CACHE_SIZE = 256


@dataclass(frozen=True)
class Prepared:
    """A parsed and validated document, or the errors that refused it."""

    document: DocumentNode | None
    errors: tuple[GraphQLError, ...] = ()


def _coded(error: GraphQLError, code: str) -> GraphQLError:
    return GraphQLError(error.message, error.nodes, extensions={**(error.extensions or {}), "code": code})


def _validation_code(message: str) -> str:
    # The limit rules come from Strawberry and speak only through their messages.
    if "exceeds maximum operation depth" in message:
        return "query_too_deep"
    if "aliases found" in message:
        return "too_many_aliases"
    return "graphql_validation_failed"


class DocumentCache:
    """Parse + validate with the guards, cached by query text (see the module docstring)."""

    def __init__(self, schema: GraphQLSchema, *, size: int = CACHE_SIZE) -> None:
        self.schema = schema
        self.limits = (depth_validator(MAX_DEPTH, None), alias_validator(MAX_ALIASES))
        self._size = size
        self._entries: OrderedDict[str, Prepared] = OrderedDict()
        self._lock = Lock()

    def prepare(self, query: str) -> Prepared:
        with self._lock:
            hit = self._entries.get(query)
            if hit is not None:
                self._entries.move_to_end(query)
                return hit
        prepared = self._prepare(query)
        with self._lock:
            self._entries[query] = prepared
            if len(self._entries) > self._size:
                self._entries.popitem(last=False)
        return prepared

    def _prepare(self, query: str) -> Prepared:
        try:
            document = parse(query, max_tokens=MAX_TOKENS)
        except GraphQLError as error:
            code = "too_many_tokens" if "tokens" in error.message else "graphql_parse_failed"
            return Prepared(None, (_coded(error, code),))
        # The limits first, alone: a query refused for its size gets that one precise error (and the full
        # validation never runs on it).
        try:
            errors = validate(self.schema, document, self.limits) or validate(
                self.schema, document, specified_rules
            )
        except (KeyError, ValueError):
            # Strawberry's limit rules raise on documents they do not expect: an unknown fragment (which the
            # standard rules refuse) or an empty selection set, which graphql-core parses (`{}`) though the
            # spec allows none.
            errors = validate(self.schema, document, specified_rules) or [
                GraphQLError("a selection set cannot be empty")
            ]
        if errors:
            return Prepared(None, tuple(_coded(e, _validation_code(e.message)) for e in errors))
        return Prepared(document)
