"""The readings behind the REST routes: a page of a listing, or the route's own reading.

A list route builds its `Query` from the listing's filter model and `to_filters` (the same translation GraphQL
uses) and asks the query router; a route with its own reading (`processors.rest_spec.RestReading`) is handed a
`RestCall` with the validated filters and common parameters. Nothing here knows SQL or any processor.
"""

from __future__ import annotations

import time
from typing import Any

from starlette.requests import Request

from api.middleware.auth import Principal
from api.rest_params import (
    DEFAULT_LIMIT,
    check_known,
    filter_model,
    parse_bounds,
    parse_limit,
    parse_order,
    parse_range,
)
from api.rest_rows import envelope, render_rows, table_string_fields
from api.state import app_state
from processors.rest_spec import RestCall, RestRoute
from storage.columns import string_fields
from storage.query import Query, position_of

COUNT_CAP = 1_000
"""`total_results` is exact up to this many rows; past it the count stops (and says it is not exact)."""


async def answer(request: Request, route: RestRoute[Any], principal: Principal) -> dict[str, Any]:
    """The envelope answering `request` on `route` (its own reading, or a page of its listing)."""
    params = request.query_params
    check_known(params, route)
    model = filter_model(route, params, request.path_params)
    if route.reading is None:
        return await list_page(request, route, model, principal)
    state = app_state(request)
    call = RestCall(
        router=state.router,
        tenant_id=principal.tenant.id,
        configs=state.registry.configs(principal.tenant.config),
        filters=model,
        bounds=parse_bounds(params) if "from" in route.common or "to" in route.common else {},
        limit=parse_limit(params) if "limit" in route.common else DEFAULT_LIMIT,
        descending=parse_order(params) if "order" in route.common else False,
        cursor=params.get("cursor") if "cursor" in route.common else None,
    )
    started = time.perf_counter()
    page = await route.reading.read(call)
    elapsed = (time.perf_counter() - started) * 1000
    return envelope(
        render_rows(page.rows, string_fields(route.reading.fields)),
        total=page.total,
        exact=page.exact,
        query_ms=elapsed,
        sources=page.sources,
        next_cursor=page.next_cursor,
    )


async def list_page(
    request: Request, route: RestRoute[Any], model: Any, principal: Principal
) -> dict[str, Any]:
    """A page of the route's listing for its filters, with the envelope's metadata."""
    listing = route.listing
    params = request.query_params
    query = Query(
        tenant_id=principal.tenant.id,
        table=listing.table,
        filters=listing.to_filters(model),
        time_column=listing.time_column,
        limit=parse_limit(params),
        descending=parse_order(params),
        **parse_range(params),
    )
    cursor = params.get("cursor")
    router = app_state(request).router
    started = time.perf_counter()
    tip_cursor = None
    if cursor == "now":
        # Horizon's `cursor=now`: ascending reads start after the newest row (to poll from here on).
        if not query.descending:
            newest = await router.fetch(query.replace(descending=True, limit=1))
            if newest.rows:
                query = query.replace(after=position_of(listing.table, newest.rows[0]))
                tip_cursor = query.cursor_for(newest.rows[0])
    elif cursor:
        query = query.resume(cursor)
    page = await router.fetch(query)
    if query.after is None and not page.has_more:
        total, exact = len(page.rows), True  # the whole result is on this page: no count needed
    else:
        total, exact = await router.count(query, cap=COUNT_CAP)
    elapsed = (time.perf_counter() - started) * 1000
    rows = render_rows(page.rows, table_string_fields(listing.table))
    if route.annotation is not None:
        route.annotation.annotate(rows, model)
    return envelope(
        rows,
        total=total,
        exact=exact,
        query_ms=elapsed,
        sources=page.sources,
        next_cursor=page.next_cursor or (tip_cursor if not page.rows else None),
    )
