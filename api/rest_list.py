"""The readings behind the REST routes: a page of a listing, an account's token balances, a pair's stats.

Each builds its `Query` from the listing's filter model and `to_filters` (the same translation GraphQL uses)
and asks the query router; nothing here knows SQL.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from typing import Any

from starlette.requests import Request

from api.middleware.auth import Principal
from api.rest_params import (
    check_known,
    filter_model,
    invalid,
    parse_bound,
    parse_limit,
    parse_order,
    parse_range,
    relative_accounts,
)
from api.rest_rows import envelope, render_rows, stringify
from api.state import app_state
from core.errors import Forbidden
from core.ids import decode_cursor, encode_cursor, filters_fingerprint
from processors.listing import Listing
from processors.registry import by_name
from processors.rest_spec import RestRoute
from resolvers.pair_stats import candles_for, pair_stats
from resolvers.transfer_balances import balances_from_transfers
from storage.query import Query, position_of
from storage.tables import utcnow

COUNT_CAP = 1_000
"""`total_results` is exact up to this many rows; past it the count stops (and says it is not exact)."""
STATS_WINDOW = timedelta(hours=24)


async def list_page(
    request: Request, route: RestRoute, listing: Listing, principal: Principal
) -> dict[str, Any]:
    """A page of `listing`'s rows for the route's filters, with the envelope's metadata."""
    params = request.query_params
    check_known(params, route)
    model = filter_model(route, listing, params, request.path_params)
    query = Query(
        tenant_id=principal.tenant.id,
        table=listing.table.name,
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
        query = query.replace(after=decode_cursor(cursor, query.fingerprint))
    page = await router.fetch(query)
    if query.after is None and not page.has_more:
        total, exact = len(page.rows), True  # the whole result is on this page: no count needed
    else:
        total, exact = await router.count(query, cap=COUNT_CAP)
    elapsed = (time.perf_counter() - started) * 1000
    rows = render_rows(page.rows, listing.table.name, relative_accounts(route, model))
    return envelope(
        rows,
        total=total,
        exact=exact,
        query_ms=elapsed,
        sources=page.sources,
        next_cursor=page.next_cursor or (tip_cursor if not page.rows else None),
    )


async def token_balances(
    request: Request, route: RestRoute, listing: Listing, principal: Principal
) -> dict[str, Any]:
    """An account's balances: the token balance listing when the tenant runs TokenBalanceProcessor, else sums
    of the tenant's stored transfers (`exact: false`), paged by asset with a cursor of their own."""
    # The route's listing is the token balance processor's; the tenant may not run it (then: sums of transfers).
    if by_name(listing.processor).type_name in principal.tenant.config.enabled_types():
        # Exact balances from ledger state are the token balance processor's data, not the transfers': the key
        # needs its scope too, as GraphQL's `Account.balances` does.
        if not principal.can_read(listing.processor):
            raise Forbidden(
                f"this API key may not read {listing.processor} (it needs the scope read:{listing.processor})",
                code="insufficient_scope",
            )
        return await list_page(request, route, listing, principal)
    params = request.query_params
    check_known(params, route)
    model: Any = filter_model(route, listing, params, request.path_params)
    limit, descending = parse_limit(params), parse_order(params)
    account = model.accounts[0]
    fingerprint = filters_fingerprint(
        {"route": "transfer_balances", "account": account, "assets": sorted(model.assets)}
    )
    started = time.perf_counter()
    router = app_state(request).router
    rows = (await balances_from_transfers(router, principal.tenant.id, [account]))[account]
    elapsed = (time.perf_counter() - started) * 1000
    if model.assets:
        rows = [row for row in rows if row["asset"] in set(model.assets)]
    rows.sort(key=lambda row: row["asset"], reverse=descending)
    total = len(rows)
    if cursor := params.get("cursor"):
        position = decode_cursor(cursor, fingerprint)
        rows = [r for r in rows if (r["asset"] < position if descending else r["asset"] > position)]
    page, has_more = rows[:limit], len(rows) > limit
    return envelope(
        [stringify(row, ("balance_raw",)) for row in page],
        total=total,
        exact=True,
        query_ms=elapsed,
        sources=("hot",),
        next_cursor=encode_cursor(page[-1]["asset"], fingerprint) if has_more and page else None,
    )


def _window(request: Request) -> tuple[datetime, datetime]:
    bounds: dict[str, datetime] = {}
    for name in ("from", "to"):
        if name in request.query_params:
            value = parse_bound(name, request.query_params[name])
            if not isinstance(value, datetime):
                raise invalid(name, "a stats window is a time range: give an ISO 8601 date or date-time")
            bounds[name] = value
    until = bounds.get("to") or (bounds["from"] + STATS_WINDOW if "from" in bounds else utcnow())
    since = bounds.get("from") or until - STATS_WINDOW
    if since > until:
        raise invalid("from", "is after to")
    return since, until


async def pair_stats_page(
    request: Request, route: RestRoute, listing: Listing, principal: Principal
) -> dict[str, Any]:
    """One row: the pair's stats over the window, from candles when the tenant runs DEXVolumeProcessor."""
    check_known(request.query_params, route)
    model: Any = filter_model(route, listing, request.query_params, request.path_params)
    pair = model.pairs[0]
    since, until = _window(request)
    started = time.perf_counter()
    stats = await pair_stats(
        app_state(request).router,
        principal.tenant.id,
        [pair],
        since=since,
        until=until,
        candles=candles_for(principal.tenant.config),
    )
    elapsed = (time.perf_counter() - started) * 1000
    row = stats[pair] or {}
    return envelope(
        [stringify(dict(row), ("base_volume", "counter_volume"))],
        total=1,
        exact=True,
        query_ms=elapsed,
        sources=("hot",),
        next_cursor=None,
    )
