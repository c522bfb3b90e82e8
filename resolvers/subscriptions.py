"""Subscription fields: ``on<Node>(filter: <Node>Filter, after: String): <Node>!``, one per declared
`processors.delivery.Subscription`, streaming the rows of its history listing from `RequestContext.live`.

Everything that can be refused is checked when the subscription starts, before a row is read: the key's scope
(``insufficient_scope``), the filter (the listing's own validation, as the query field does) and ``after``
(`LiveRows.stream` parses it). The filter's ranges (``from``/``to``, ``fromLedger``/``toLedger``) become filters
on the listing's time column and ``ledger_sequence``, so live rows are matched against them too. (No
``from __future__ import annotations``: Strawberry reads the resolver's argument types at run time.)
"""

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from typing import Annotated, Any

import strawberry
from strawberry.types.field import StrawberryField
from strawberry.types.fields.resolver import StrawberryResolver

from core.errors import BadRequest
from processors.delivery import Subscription
from processors.listing import Listing
from resolvers.context import RequestContext
from resolvers.filters import ListingFilter, filter_input, read_filter
from resolvers.parts import SchemaParts
from storage.query import Filter

SubscriptionAfterArg = Annotated[
    str | None,
    strawberry.argument(
        description='Where to start: "now" (the default: live rows only), a row id or a cursor of the same '
        "listing and filter (the stored rows after it first, then live rows)."
    ),
]


def range_filters(listing: Listing[Any], chosen: ListingFilter) -> tuple[Filter, ...]:
    """`chosen`'s filters with its time and ledger ranges as filters too (what a live row is matched with)."""
    bounds = (
        (listing.time_column, "gte", chosen.from_time),
        (listing.time_column, "lte", chosen.to_time),
        ("ledger_sequence", "gte", chosen.from_ledger),
        ("ledger_sequence", "lte", chosen.to_ledger),
    )
    extra = tuple(Filter((column,), op, value) for column, op, value in bounds if value is not None)  # type: ignore[arg-type]
    return (*chosen.filters, *extra)


class OpenStream:
    """The rows of an entered `LiveRows.stream`, leaving it on `aclose` (whether or not iteration began)."""

    def __init__(
        self, manager: AbstractAsyncContextManager[AsyncIterator[dict[str, Any]]], rows: AsyncIterator[Any]
    ) -> None:
        self._manager = manager
        self._rows = rows
        self._closed = False

    def __aiter__(self) -> "OpenStream":
        return self

    async def __anext__(self) -> dict[str, Any]:
        row: dict[str, Any] = await self._rows.__anext__()
        return row

    def ready(self) -> list[dict[str, Any]]:
        """The rows available now without waiting (a ledger's live rows), when the source can tell."""
        ready = getattr(self._rows, "ready", None)
        return ready() if ready is not None else []

    def write_through(self, writer: Any) -> bool:
        """Hand the source a writer of live rows (`services.subscriptions.members.Writer`), when it takes one."""
        write_through = getattr(self._rows, "write_through", None)
        if write_through is None:
            return False
        write_through(writer)
        return True

    async def aclose(self) -> None:
        if not self._closed:
            self._closed = True
            await self._manager.__aexit__(None, None, None)


async def open_rows(
    ctx: RequestContext, listing: Listing[Any], filter_value: Any, after: str | None
) -> OpenStream:
    """Check scope and filter, then enter the context's stream (which checks `after`)."""
    ctx.require(listing.processor)
    chosen = read_filter(listing, filter_value)
    if ctx.live is None:
        raise BadRequest(
            "subscriptions are served over WebSocket at this GraphQL path (graphql-transport-ws)",
            code="subscriptions_need_websocket",
        )
    manager = ctx.live.stream(ctx.tenant_id, ctx.network, listing, range_filters(listing, chosen), after)
    rows = await manager.__aenter__()
    return OpenStream(manager, rows)


def subscription_field(parts: SchemaParts, subscription: Subscription) -> StrawberryField:
    """The subscription field of `subscription` (its node type and filter input come from the query side)."""
    listing = subscription.listing
    filter_type = filter_input(listing, f"{subscription.node}Filter")

    async def subscribe(
        info: strawberry.Info,
        filter: filter_type | None = None,  # type: ignore[valid-type]
        after: SubscriptionAfterArg = None,
    ) -> Any:
        return await open_rows(info.context, listing, filter, after)

    return StrawberryField(
        python_name=subscription.field,
        graphql_name=subscription.field,
        type_annotation=parts.ref(subscription.node),
        base_resolver=StrawberryResolver(subscribe),
        description=subscription.description,
        is_subscription=True,
    )
