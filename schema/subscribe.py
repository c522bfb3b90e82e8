"""Running a subscription operation: an `ExecutionResult` when it is refused at the start, else a stream of
`Pushed` items, one per row, each the operation executed on the row plus the row's id (which the WebSocket
transport sends as ``extensions.id``: the query cursor position and webhook event id too).

The subscription field's resolver (`resolvers.subscriptions`) does every check that can refuse (scope, filter,
``after``) before it returns the row stream, so those come back as the `ExecutionResult`; errors while rows
flow (a store read failing during a catch-up) are raised by the stream's ``__anext__``. Closing the stream
(``aclose``, whether or not iteration began) leaves the row source; a task still waiting in ``__anext__`` then
ends (StopAsyncIteration), though cancelling it first is the tidy order.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import AsyncIterator, Hashable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from graphql import (
    DocumentNode,
    ExecutionResult,
    GraphQLError,
    GraphQLSchema,
    OperationType,
    create_source_event_stream,
    execute_subscription_event,
)
from graphql.pyutils import is_awaitable

from core.ids import canonical_json
from schema.executor import FastExecutor

Shared = TypeVar("Shared")


class SharedResults(Generic[Shared]):
    """Results of recent events, shared by the subscriptions that would compute the very same one: the same
    tenant, the same readable processors (the only thing of the caller resolvers look at), the same document
    object (`schema.guards` caches one per query text) with the same variables, and the same row. A thousand
    subscribers of one query then cost one execution per row, not a thousand. Bounded (LRU); an entry holds
    its document, so a reused object id can never match another document. (The WebSocket transport keeps its
    encoded batches of rows in one too: `api.graphql_ws.batches`.)"""

    def __init__(self, size: int = 4096) -> None:
        self._size = size
        self._entries: OrderedDict[Hashable, tuple[DocumentNode, Shared]] = OrderedDict()
        self.executions = 0
        """Results computed (misses), for tests."""

    def get(self, key: Hashable, document: DocumentNode) -> Shared | None:
        found = self._entries.get(key)
        if found is None or found[0] is not document:
            return None
        self._entries.move_to_end(key)
        return found[1]

    def put(self, key: Hashable, document: DocumentNode, result: Shared) -> None:
        self.executions += 1
        self._entries[key] = (document, result)
        self._entries.move_to_end(key)
        while len(self._entries) > self._size:
            self._entries.popitem(last=False)


RESULTS: SharedResults[ExecutionResult] = SharedResults()


@dataclass(frozen=True)
class Pushed:
    """One item of a subscription: the result of the operation on one row, and that row's id."""

    result: ExecutionResult
    row_id: str


class PushedStream:
    """The `Pushed` items of a started subscription (see the module docstring)."""

    def __init__(
        self,
        executor: FastExecutor,
        source: AsyncIterator[Any],
        document: DocumentNode,
        share: Hashable | None = None,
    ) -> None:
        self._executor = executor
        self._document = document
        self._source = source
        self._closed = False
        self._share = share

    async def _execute(self, row: Any) -> ExecutionResult:
        event = self._executor.build_per_event_executor(row)
        fresh = getattr(event.context_value, "for_event", None)  # RequestContext: loaders per event
        if fresh is not None:
            event.context_value = fresh()
        result = execute_subscription_event(event)
        if is_awaitable(result):
            result = await result
        assert isinstance(result, ExecutionResult)
        return result

    def __aiter__(self) -> PushedStream:
        return self

    def write_through(self, writer: Any) -> bool:
        """Let the row source write live rows to the client itself while this stream's consumer is idle
        (`services.subscriptions.members.Writer`; None: no more); False when the source cannot."""
        write_through = getattr(self._source, "write_through", None)
        return bool(write_through(writer)) if write_through is not None else False

    @property
    def share(self) -> Hashable | None:
        """What makes two subscriptions' results of one row the same (None: never shared), with `document`."""
        return self._share

    @property
    def document(self) -> DocumentNode:
        return self._document

    async def next_rows(self) -> list[Any]:
        """The next row (waiting for it) and every row already available after it (the source's ``ready()``,
        when it has one: a ledger's rows for a live subscription), to execute with `pushed`."""
        if self._closed:
            raise StopAsyncIteration
        row = await self._source.__anext__()
        ready = getattr(self._source, "ready", None)
        return [row, *ready()] if ready is not None else [row]

    async def __anext__(self) -> Pushed:
        if self._closed:
            raise StopAsyncIteration
        return await self.pushed(await self._source.__anext__())

    async def pushed(self, row: Any) -> Pushed:
        """The operation executed on `row` (shared with the subscriptions computing the same, `SharedResults`)."""
        row_id = str(row["id"])
        if self._share is None:
            return Pushed(await self._execute(row), row_id)
        key = (self._share, row_id)
        result = RESULTS.get(key, self._document)
        if result is None:
            result = await self._execute(row)
            RESULTS.put(key, self._document, result)
        return Pushed(result, row_id)

    async def aclose(self) -> None:
        if not self._closed:
            self._closed = True
            aclose = getattr(self._source, "aclose", None)
            if aclose is not None:
                await aclose()


async def subscribe(
    schema: GraphQLSchema,
    document: DocumentNode,
    variables: Mapping[str, Any] | None,
    operation_name: str | None,
    context: Any,
    processors: frozenset[str] = frozenset(),
) -> ExecutionResult | PushedStream:
    """Start the subscription operation of `document` (already validated against `schema`). With the
    schema's `processors` named, subscriptions computing the same results share them (`SharedResults`)."""
    executor = FastExecutor.build(
        schema,
        document,
        None,
        context,
        dict(variables) if variables is not None else None,
        operation_name,
    )
    if isinstance(executor, list):
        return ExecutionResult(None, errors=executor)
    if executor.operation.operation is not OperationType.SUBSCRIPTION:
        return ExecutionResult(
            None, errors=[GraphQLError("this operation is not a subscription", executor.operation)]
        )
    source = create_source_event_stream(executor)
    if is_awaitable(source):
        source = await source
    if isinstance(source, ExecutionResult):
        return source
    share = _share_key(schema, processors, document, variables, operation_name, context)
    return PushedStream(executor, source, document, share)  # type: ignore[arg-type]


def _share_key(
    schema: GraphQLSchema,
    processors: frozenset[str],
    document: DocumentNode,
    variables: Mapping[str, Any] | None,
    operation_name: str | None,
    context: Any,
) -> Hashable | None:
    """What makes two subscriptions' results of one row the same (`SharedResults`); None: never share."""
    tenant = getattr(context, "tenant_id", None)
    principal = getattr(context, "principal", None)
    if tenant is None or principal is None or not processors:
        return None
    readable = frozenset(name for name in processors if principal.can_read(name))
    return (id(schema), tenant, readable, id(document), operation_name, canonical_json(variables or {}))
