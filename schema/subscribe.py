"""Running a subscription operation: an `ExecutionResult` when it is refused at the start, else a stream of
`Pushed` items, one per row, each the operation executed on the row plus the row's id (which the WebSocket
transport sends as ``extensions.id``: the query cursor position and webhook event id too).

The subscription field's resolver (`resolvers.subscriptions`) does every check that can refuse (scope, filter,
``after``) before it returns the row stream, so those come back as the `ExecutionResult`; errors while rows
flow (`services.subscriptions.SlowConsumer`) are raised by the stream's ``__anext__``. Closing the stream
(``aclose``, whether or not iteration began) leaves the row source.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

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

from schema.executor import FastExecutor


@dataclass(frozen=True)
class Pushed:
    """One item of a subscription: the result of the operation on one row, and that row's id."""

    result: ExecutionResult
    row_id: str


class PushedStream:
    """The `Pushed` items of a started subscription (see the module docstring)."""

    def __init__(self, executor: FastExecutor, source: AsyncIterator[Any]) -> None:
        self._executor = executor
        self._source = source
        self._closed = False

    def __aiter__(self) -> PushedStream:
        return self

    async def __anext__(self) -> Pushed:
        if self._closed:
            raise StopAsyncIteration
        row = await self._source.__anext__()
        event = self._executor.build_per_event_executor(row)
        fresh = getattr(event.context_value, "for_event", None)  # RequestContext: loaders per event
        if fresh is not None:
            event.context_value = fresh()
        result = execute_subscription_event(event)
        if is_awaitable(result):
            result = await result
        assert isinstance(result, ExecutionResult)
        return Pushed(result, str(row["id"]))

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
) -> ExecutionResult | PushedStream:
    """Start the subscription operation of `document` (already validated against `schema`)."""
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
    return PushedStream(executor, source)  # type: ignore[arg-type]
