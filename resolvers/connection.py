"""Relay connections over the query router: one listing becomes one paginated query field.

A listing field ``widgets(filter, first, after, last, before, order)`` returns ``WidgetConnection { edges {
cursor node } nodes pageInfo { hasNextPage hasPreviousPage startCursor endCursor } }``.

- ``first`` (default 10) or ``last``, at most `MAX_FIRST` (100): a larger value is an error, never a silent cut.
- ``after`` goes with ``first``, ``before`` with ``last``; ``last``/``before`` is a read in the other direction
  from ``before``, reversed, so edges always come in the requested ``order``.
- Cursors are the opaque cursors of `core.ids` (the row's keyset position and the fingerprint of the filters
  and ranges), so a cursor used with other filters is refused (``cursor_filters_mismatch``).

One `QueryRouter.fetch` per field, whatever the page size. (No ``from __future__ import annotations`` here:
the resolver's argument types are built at run time and Strawberry reads them from the signature.)
"""

from enum import Enum
from typing import Annotated, Any

import strawberry
from strawberry.types.field import StrawberryField

from core.errors import BadRequest
from core.ids import encode_cursor
from processors.listing import Listing
from resolvers.context import RequestContext
from resolvers.filters import filter_input, read_filter
from resolvers.parts import SchemaParts
from resolvers.row_types import object_type, plain_field, resolver_field
from storage.query import Query, position_of

MAX_FIRST = 100
DEFAULT_FIRST = 10


@strawberry.enum(description="Row order: by order key (ledger, transaction, operation, event) or entity key.")
class Order(Enum):
    ASC = "asc"
    DESC = "desc"


def page_info_type(parts: SchemaParts) -> None:
    parts.define(
        "PageInfo",
        lambda: object_type(
            "PageInfo",
            [
                plain_field("has_next_page", bool),
                plain_field("has_previous_page", bool),
                plain_field("start_cursor", str | None),
                plain_field("end_cursor", str | None),
            ],
            "Relay page information.",
        ),
    )


def connection_type(parts: SchemaParts, node: str) -> None:
    """``{node}Edge`` and ``{node}Connection`` for the row type named `node`."""
    page_info_type(parts)
    parts.define(
        f"{node}Edge",
        lambda: object_type(
            f"{node}Edge",
            [plain_field("cursor", str), plain_field("node", parts.ref(node))],
        ),
    )
    parts.define(
        f"{node}Connection",
        lambda: object_type(
            f"{node}Connection",
            [
                plain_field("edges", parts.ref(f"list[{node}Edge]")),
                plain_field(
                    "nodes", parts.ref(f"list[{node}]"), description="The edges' nodes, for brevity."
                ),
                plain_field("page_info", parts.ref("PageInfo")),
            ],
        ),
    )


def page_size(first: int | None, last: int | None) -> int:
    if first is not None and last is not None:
        raise BadRequest(
            "last: pass either first or last, not both",
            code="invalid_pagination",
            details={"parameter": "last"},
        )
    name, size = ("last", last) if last is not None else ("first", first)
    if size is None:
        return DEFAULT_FIRST
    if not 1 <= size <= MAX_FIRST:
        raise BadRequest(
            f"{name} must be between 1 and {MAX_FIRST} (got {size}); page through more rows with cursors",
            code="page_size_out_of_range",
            details={"parameter": name},
        )
    return size


async def read_connection(
    ctx: RequestContext,
    listing: Listing[Any],
    filter_value: Any,
    *,
    first: int | None,
    after: str | None,
    last: int | None,
    before: str | None,
    order: Order,
) -> dict[str, Any]:
    """One page of `listing` as a connection dict (see the module docstring)."""
    ctx.require(listing.processor)
    size = page_size(first, last)
    for cursor_name, wrong in (
        ("after", before is not None or last is not None),
        ("before", first is not None),
    ):
        if wrong and (after if cursor_name == "after" else before) is not None:
            raise BadRequest(
                f"{cursor_name}: after goes with first, before with last",
                code="invalid_pagination",
                details={"parameter": cursor_name},
            )
    chosen = read_filter(listing, filter_value)
    backward = last is not None or before is not None
    query = Query(
        tenant_id=ctx.tenant_id,
        table=listing.table,
        filters=chosen.filters,
        from_time=chosen.from_time,
        to_time=chosen.to_time,
        from_ledger=chosen.from_ledger,
        to_ledger=chosen.to_ledger,
        time_column=listing.time_column,
        limit=size,
        descending=(order is Order.DESC) != backward,
    )
    fingerprint = query.fingerprint  # computed once: every cursor of the page shares it
    cursor = before if backward else after
    if cursor is not None:
        query = query.resume(cursor, parameter="before" if backward else "after")
    page = await ctx.router.fetch(query)
    ctx.sources.update(page.sources)
    ctx.rows += len(page.rows)
    rows = page.rows[::-1] if backward else page.rows
    table = listing.table
    cursors = [encode_cursor(position_of(table, row), fingerprint) for row in rows]
    more = page.has_more
    return {
        "edges": [{"cursor": c, "node": row} for c, row in zip(cursors, rows, strict=True)],
        "nodes": rows,
        "page_info": {
            # Paging forwards from a cursor, the row of that cursor comes before this page (and vice versa).
            "has_next_page": (cursor is not None) if backward else more,
            "has_previous_page": more if backward else (cursor is not None),
            "start_cursor": cursors[0] if cursors else None,
            "end_cursor": cursors[-1] if cursors else None,
        },
    }


FirstArg = Annotated[
    int | None, strawberry.argument(description=f"Page size, 1-{MAX_FIRST} (default {DEFAULT_FIRST}).")
]
LastArg = Annotated[int | None, strawberry.argument(description=f"Page size from the end, 1-{MAX_FIRST}.")]
AfterArg = Annotated[str | None, strawberry.argument(description="A cursor: rows after it (with first).")]
BeforeArg = Annotated[str | None, strawberry.argument(description="A cursor: rows before it (with last).")]


def listing_field(
    parts: SchemaParts, owner: str, name: str, listing: Listing[Any], node: str
) -> StrawberryField:
    """The query field `name` paging through `listing` as ``{node}Connection``, added to `parts`."""
    connection_type(parts, node)
    filter_type = filter_input(listing, f"{node}Filter")

    async def resolve(
        info: strawberry.Info,
        filter: filter_type | None = None,  # type: ignore[valid-type]
        first: FirstArg = None,
        after: AfterArg = None,
        last: LastArg = None,
        before: BeforeArg = None,
        order: Order = Order.ASC,
    ) -> Any:
        return await read_connection(
            info.context, listing, filter, first=first, after=after, last=last, before=before, order=order
        )

    # Nullable: null with an error (scope, filter).
    field = resolver_field(name, parts.ref(f"{node}Connection | None"), resolve, listing.description)
    parts.add_query_field(owner, field)
    return field
