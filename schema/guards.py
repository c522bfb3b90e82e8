"""Guards on by default (DESIGN "Examples to follow" 7): size, token, depth, alias and overlap limits, with the
parsed and validated document cached per schema and query text.

A document longer than `MAX_DOCUMENT_CHARS` is refused before parsing; it is parsed with a token limit
(`MAX_TOKENS`), then validated with a depth limit (introspection fields do not count, so GraphiQL's schema query
passes) and an alias limit, then with the standard rules, whose field-merging check runs on a budget
(`OVERLAP_BUDGET`; graphql-core's default lets one document cost a second). Every limit costs time linear in the
document: fragments are measured once each, however often they are spread (a document spreading fragments two by
two, twenty levels deep, stays small but expands a million times). Each refusal carries a precise code
(`document_too_large`, `too_many_tokens`, `query_too_deep`, `too_many_aliases`, `query_too_complex`,
`graphql_parse_failed`, `graphql_validation_failed`).

The outcome is cached (LRU per tenant schema), so a repeated query skips parsing and validation: clients that
send the same query text with new variables pay neither. The cache is bounded in entries and in characters of
documents kept; refused documents go to a smaller cache of their own, so distinct bad documents cannot push
out the good ones. `prepare_async` prepares a document that is not cached and not tiny off the event loop:
validated in the validation pool's process and parsed in a thread when it is large, else both in the thread
(see docs/decisions.md "Fairness" for the figures). Both are queues shared by tenants, so a tenant has at most
`MAX_PREPARING` documents in them at a time; beyond, its next uncached document is refused at once (429
`too_many_concurrent_requests`, ``Retry-After: 1``) instead of queueing in front of the other tenants'.
"""

from __future__ import annotations

import asyncio
from collections import Counter, OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from threading import Lock
from typing import TYPE_CHECKING, Any

from graphql import (
    SKIP,
    ASTValidationRule,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationContext,
    ValidationRule,
    parse,
    specified_rules,
    validate,
)
from graphql.validation.rules.overlapping_fields_can_be_merged import OverlappingFieldsCanBeMergedRule
from graphql.validation.validate import ValidationAbortedError

from core.errors import RateLimited

if TYPE_CHECKING:
    from schema.validation_pool import ValidationPool

MAX_DEPTH = 10
MAX_ALIASES = 15
MAX_TOKENS = 2000
MAX_DOCUMENT_CHARS = 32_768
MAX_REPEATED_FIELDS = 20
"""Times one response name may be selected in one selection set, fragments included (they merge)."""
OVERLAP_BUDGET = 20_000
"""Units of graphql-core's field-merging budget (two per pair of fields compared, ~2 µs each)."""
CACHE_SIZE = 256
CACHE_CHARS = 4_194_304
"""Characters of documents the cache of one schema keeps (prepared documents weigh ~10x their text)."""
REFUSED_CACHE_SIZE = 64
REFUSED_CACHE_CHARS = 262_144
POOL_CHARS = 2_048
"""Documents longer than this, when not cached, are validated in the validation pool's process (when the app
has one); shorter ones cost a few milliseconds at most and stay in the thread."""
INLINE_CHARS = 256
"""Documents up to this length are prepared on the event loop (well under a millisecond); longer ones, when not
cached, in a thread."""
MAX_PREPARING = 2
"""Uncached documents one tenant may have in preparation (in the thread's or the validation process's queue) at
a time, per API process (counted by the cache of the tenant's schema: a tenant has one): another tenant's
document waits behind at most this many of each tenant's."""
RETRY_PREPARING_SECONDS = 1


@dataclass(frozen=True)
class Prepared:
    """A parsed and validated document, or the errors that refused it."""

    document: DocumentNode | None
    errors: tuple[GraphQLError, ...] = ()


def _coded(error: GraphQLError, code: str) -> GraphQLError:
    return GraphQLError(error.message, error.nodes, extensions={**(error.extensions or {}), "code": code})


def _refused(message: str, code: str, nodes: Any = None) -> GraphQLError:
    return GraphQLError(message, nodes, extensions={"code": code})


class _Shape:
    """Depth and alias count of a document's selections, each fragment measured once (memoized by name)."""

    def __init__(self, document: DocumentNode) -> None:
        self.fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        self._depths: dict[str, int] = {}
        self._aliases: dict[str, int] = {}
        self._names: dict[str, Counter[str]] = {}
        self._open: set[str] = (
            set()
        )  # fragments being measured: a cycle counts 0 (NoFragmentCycles reports it)

    def _fragment(self, name: str, memo: dict[str, Any], measure: Any, empty: Any = 0) -> Any:
        if name in memo:
            return memo[name]
        fragment = self.fragments.get(name)
        if fragment is None or name in self._open:
            return empty
        self._open.add(name)
        try:
            memo[name] = measure(fragment.selection_set)
        finally:
            self._open.discard(name)
        return memo[name]

    def depth(self, selection_set: SelectionSetNode | None) -> int:
        """Levels of fields below this selection set (a leaf field is one level); introspection ignored."""
        if selection_set is None:
            return 0
        deepest = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                if selection.name.value.startswith("__"):
                    continue
                levels = 1 + self.depth(selection.selection_set)
            elif isinstance(selection, InlineFragmentNode):
                levels = self.depth(selection.selection_set)
            elif isinstance(selection, FragmentSpreadNode):
                levels = self._fragment(selection.name.value, self._depths, self.depth)
            else:  # pragma: no cover - no other selection kinds
                levels = 0
            deepest = max(deepest, levels)
        return deepest

    def aliases(self, selection_set: SelectionSetNode | None) -> int:
        """Aliased fields below this selection set, counting each spread of a fragment."""
        if selection_set is None:
            return 0
        count = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                count += (selection.alias is not None) + self.aliases(selection.selection_set)
            elif isinstance(selection, InlineFragmentNode):
                count += self.aliases(selection.selection_set)
            elif isinstance(selection, FragmentSpreadNode):
                count += self._fragment(selection.name.value, self._aliases, self.aliases)
        return count

    def names(self, selection_set: SelectionSetNode) -> Counter[str]:
        """How often each response name is selected at this level (fragments and inline fragments merged in)."""
        counts: Counter[str] = Counter()
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                counts[(selection.alias or selection.name).value] += 1
            elif isinstance(selection, InlineFragmentNode):
                counts.update(self.names(selection.selection_set))
            elif isinstance(selection, FragmentSpreadNode):
                counts.update(self._fragment(selection.name.value, self._names, self.names, Counter()))
        return counts

    def repeated(self, selection_set: SelectionSetNode | None) -> tuple[str, int] | None:
        """The response name selected more than `MAX_REPEATED_FIELDS` times in one selection set at or below
        this one (fragments are checked where they are defined), with its count; None when there is none."""
        if selection_set is None:
            return None
        counts = self.names(selection_set)
        if counts:
            name, count = counts.most_common(1)[0]
            if count > MAX_REPEATED_FIELDS:
                return name, count
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode | InlineFragmentNode):
                found = self.repeated(selection.selection_set)
                if found is not None:
                    return found
        return None


class LimitsRule(ValidationRule):
    """Depth (``'<operation>' exceeds maximum operation depth of 10``) and aliases (``16 aliases found.
    Allowed: 15``, over all operations), the messages Strawberry's limiters give, in time linear in the
    document. graphql-core's own nesting check runs before each operation is measured (it aborts documents
    nested over 200 levels, through fragments too), so the recursion here stays shallow."""

    def __init__(self, context: ValidationContext) -> None:
        super().__init__(context)
        self.shape = _Shape(context.document)
        self.alias_count = 0
        self.repeats_reported = False

    def enter_operation_definition(self, node: OperationDefinitionNode, *_args: Any) -> Any:
        # A leaf at depth 0 is one level: MAX_DEPTH + 1 levels are allowed, as Strawberry counts.
        if self.shape.depth(node.selection_set) - 1 > MAX_DEPTH:
            name = node.name.value if node.name else "anonymous"
            self.report_error(
                _refused(f"'{name}' exceeds maximum operation depth of {MAX_DEPTH}", "query_too_deep", node)
            )
        self.alias_count += self.shape.aliases(node.selection_set)
        self._check_repeats(node.selection_set)
        return SKIP

    def enter_fragment_definition(self, node: FragmentDefinitionNode, *_args: Any) -> Any:
        self._check_repeats(node.selection_set)
        return SKIP

    def _check_repeats(self, selection_set: SelectionSetNode) -> None:
        # Comparing the fields of one response name is quadratic in their number (graphql-core's field-merging
        # rule): the budget below bounds its work, this gives the precise error first.
        found = None if self.repeats_reported else self.shape.repeated(selection_set)
        if found is not None:
            self.repeats_reported = True
            self.report_error(
                _refused(
                    f"'{found[0]}' is selected {found[1]} times in one selection set (fragments included); "
                    f"at most {MAX_REPEATED_FIELDS} are accepted",
                    "query_too_complex",
                )
            )

    def leave_document(self, *_args: Any) -> None:
        if self.alias_count > MAX_ALIASES:
            self.report_error(
                _refused(f"{self.alias_count} aliases found. Allowed: {MAX_ALIASES}", "too_many_aliases")
            )


class BudgetedOverlapRule(OverlappingFieldsCanBeMergedRule):
    """graphql-core's field-merging rule on a budget of `OVERLAP_BUDGET` (its own default is 25x larger)."""

    def __init__(self, context: ValidationContext) -> None:
        super().__init__(context)
        self.rule_context.remaining_complexity_budget = OVERLAP_BUDGET


class NonEmptySelectionsRule(ValidationRule):
    """graphql-core parses ``{}`` (an empty selection set), which the GraphQL grammar does not allow: refused here
    like any invalid document, instead of executing to ``{"data": {}}``."""

    def enter_selection_set(self, node: SelectionSetNode, *_args: Any) -> None:
        if not node.selections:
            self.report_error(GraphQLError("a selection set cannot be empty", node))


RULES: tuple[type[ASTValidationRule], ...] = (
    NonEmptySelectionsRule,
    *(BudgetedOverlapRule if rule is OverlappingFieldsCanBeMergedRule else rule for rule in specified_rules),
)


ABORTED = "Validation aborted."
"""graphql-core's message when the field-merging budget runs out or the nesting is too deep (other aborts, on
too many errors, say so)."""


def _validation_code(error: GraphQLError) -> str:
    if isinstance(error, ValidationAbortedError) and error.message == ABORTED:
        return "query_too_complex"
    code = (error.extensions or {}).get("code")
    return str(code) if code else "graphql_validation_failed"


def _message(error: GraphQLError) -> GraphQLError:
    if isinstance(error, ValidationAbortedError) and error.message == ABORTED:
        return GraphQLError(
            "the document is too complex to validate (repeated or overlapping fields, or nesting): "
            "merge repeated fields or split it"
        )
    return error


def _detached(error: GraphQLError) -> GraphQLError:
    """The error as clients see it (message, locations, extensions) without the AST nodes it points at: a
    refused document's tree (thousands of objects) is not kept alive by its cached errors."""
    if not error.nodes:
        return error
    return GraphQLError(
        error.message,
        source=error.source,
        positions=error.positions,
        extensions=error.extensions,
    )


class _Lru:
    """An LRU map of query text to `Prepared`, bounded in entries and in characters of the keys."""

    def __init__(self, size: int, chars: int) -> None:
        self.size, self.chars = size, chars
        self.entries: OrderedDict[str, Prepared] = OrderedDict()
        self.held = 0

    def get(self, query: str) -> Prepared | None:
        hit = self.entries.get(query)
        if hit is not None:
            self.entries.move_to_end(query)
        return hit

    def put(self, query: str, prepared: Prepared) -> None:
        if query in self.entries or len(query) > self.chars:
            return
        self.entries[query] = prepared
        self.held += len(query)
        while len(self.entries) > self.size or self.held > self.chars:
            old, _ = self.entries.popitem(last=False)
            self.held -= len(old)


class DocumentCache:
    """Parse + validate with the guards, cached by query text (see the module docstring)."""

    def __init__(
        self,
        schema: GraphQLSchema,
        processors: frozenset[str] = frozenset(),
        *,
        size: int = CACHE_SIZE,
        chars: int = CACHE_CHARS,
        refused_size: int = REFUSED_CACHE_SIZE,
        refused_chars: int = REFUSED_CACHE_CHARS,
    ) -> None:
        self.schema = schema
        self.processors = processors  # the schema's, named for the validation pool's process
        self._valid = _Lru(size, chars)
        self._refused = _Lru(refused_size, refused_chars)
        self._lock = Lock()
        # One thread per schema: two preparations at once would only contend for the GIL with each other and
        # with the event loop (measured: the victim's p50 doubled).
        self._thread: ThreadPoolExecutor | None = None
        # Documents in preparation per tenant (touched on the event loop only: no lock).
        self._preparing: Counter[str] = Counter()

    def cached(self, query: str) -> Prepared | None:
        with self._lock:
            return self._valid.get(query) or self._refused.get(query)

    @property
    def held_chars(self) -> int:
        """Characters of documents held, valid and refused (for tests and benches)."""
        return self._valid.held + self._refused.held

    def prepare(self, query: str) -> Prepared:
        """The cached outcome, or parse and validate now (and cache it)."""
        hit = self.cached(query)
        if hit is not None:
            return hit
        if len(query) > MAX_DOCUMENT_CHARS:  # not cached: refusing it again costs nothing
            return Prepared(
                None,
                (
                    _refused(
                        f"the document is {len(query)} characters long; at most {MAX_DOCUMENT_CHARS} are accepted",
                        "document_too_large",
                    ),
                ),
            )
        prepared = self._prepare(query)
        if prepared.document is None:  # keep the errors, not the document their nodes hold (fewer objects)
            prepared = Prepared(None, tuple(_detached(e) for e in prepared.errors))
        with self._lock:
            (self._valid if prepared.document is not None else self._refused).put(query, prepared)
        return prepared

    async def prepare_async(
        self, query: str, pool: ValidationPool | None = None, tenant: str | None = None
    ) -> Prepared:
        """`prepare`, off the event loop unless the outcome is cached, the document tiny or over the size limit:
        validated in `pool`'s process when one is given and the document is longer than `POOL_CHARS` (then only
        parsed here, in a thread), else (or when the pool's process has died) parsed and validated in a
        thread. A `tenant` with `MAX_PREPARING` documents in preparation already is refused (`RateLimited`)."""
        if len(query) <= INLINE_CHARS or len(query) > MAX_DOCUMENT_CHARS:
            return self.prepare(query)
        hit = self.cached(query)
        if hit is not None:
            return hit
        if tenant is None:
            return await self._prepare_off_loop(query, pool)
        if self._preparing[tenant] >= MAX_PREPARING:
            raise RateLimited(
                f"at most {MAX_PREPARING} new GraphQL documents of a tenant are prepared at a time: "
                "retry shortly, or reuse documents (repeated ones are cached; send changing values as variables)",
                code="too_many_concurrent_requests",
                headers={"Retry-After": str(RETRY_PREPARING_SECONDS)},
            )
        self._preparing[tenant] += 1
        try:
            return await self._prepare_off_loop(query, pool)
        finally:
            self._preparing[tenant] -= 1
            if self._preparing[tenant] <= 0:
                del self._preparing[tenant]

    async def _prepare_off_loop(self, query: str, pool: ValidationPool | None) -> Prepared:
        if self._thread is None:
            with self._lock:
                if self._thread is None:
                    self._thread = ThreadPoolExecutor(1, thread_name_prefix="graphql-prepare")
        loop = asyncio.get_running_loop()
        if pool is None or len(query) <= POOL_CHARS:
            return await loop.run_in_executor(self._thread, self.prepare, query)
        errors = await pool.errors(self.processors, query)
        if errors is None:  # the pool's process died (it logged it): in the thread, as without a pool
            return await loop.run_in_executor(self._thread, self.prepare, query)
        if errors:
            prepared = Prepared(None, errors)
        else:
            prepared = Prepared(
                await loop.run_in_executor(self._thread, partial(parse, query, max_tokens=MAX_TOKENS))
            )
        with self._lock:
            (self._valid if prepared.document is not None else self._refused).put(query, prepared)
        return prepared

    def check(self, query: str) -> Prepared:
        """Parse and validate `query` with the guards, uncached (the validation pool's process calls this)."""
        return self._prepare(query)

    def _prepare(self, query: str) -> Prepared:
        try:
            document = parse(query, max_tokens=MAX_TOKENS)
        except GraphQLError as error:
            code = "too_many_tokens" if "tokens" in error.message else "graphql_parse_failed"
            return Prepared(None, (_coded(error, code),))
        # The limits first, alone: a query refused for its size gets that one precise error (and the full
        # validation never runs on it).
        errors = validate(self.schema, document, [LimitsRule]) or validate(self.schema, document, RULES)
        if errors:
            return Prepared(None, tuple(_coded(_message(e), _validation_code(e)) for e in errors))
        return Prepared(document)
