"""The query router on real data: keyset pages over every listing of every processor equal the stored rows
in order, in both directions, with filters, counts and batched lookups; cursors are bound to their filters."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import pytest

from core.errors import BadRequest
from core.ids import decode_cursor
from processors.registry import default_registry
from storage.db import create_engine
from storage.export_rows import iter_tenant_rows
from storage.hot_writes import write_rows
from storage.query import Filter, Query
from storage.router import QueryRouter
from tests.mainnet_data import FULL, LAST, PARTIAL, MainnetData

T = TypeVar("T")
LISTINGS = [listing for p in default_registry().catalogue().values() for listing in p.listings]
TABLES = {table.name: table for _, table in default_registry().tables()}


def run(url: str, work: Callable[[QueryRouter], Awaitable[T]]) -> T:
    async def main() -> T:
        engine = create_engine(url)
        try:
            return await work(QueryRouter(engine))
        finally:
            await engine.dispose()

    return asyncio.run(main())


async def read_all(router: QueryRouter, query: Query) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    while True:
        page = await router.fetch(query)
        rows.extend(page.rows)
        if page.next_cursor is None:
            return rows
        query = query.replace(after=decode_cursor(page.next_cursor, query.fingerprint))


@pytest.mark.parametrize("listing", LISTINGS, ids=lambda listing: listing.name)
def test_pages_cover_every_row_in_both_orders(mainnet_data: MainnetData, listing: Any) -> None:
    async def work(router: QueryRouter) -> tuple[list[Any], list[Any], list[Any], tuple[int, bool]]:
        query = Query(tenant_id=FULL, table=listing.table, limit=97, time_column=listing.time_column)
        asc = await read_all(router, query)
        desc = await read_all(router, query.replace(descending=True))
        stored: list[Any] = []
        if listing.kind == "history":
            async for chunk in iter_tenant_rows(router.engine, listing.table, FULL):
                stored.extend(chunk)
        return asc, desc, stored, await router.count(query, cap=10**9)

    asc, desc, stored, (count, exact) = run(mainnet_data.url, work)
    assert asc, f"{listing.name}: no rows in the 20 ledgers"
    assert desc == asc[::-1]
    assert exact and count == len(asc)
    if listing.kind == "history":
        assert asc == stored  # the export's order-key order, every column
        assert len({r["id"] for r in asc}) == len(asc)


def test_filters_and_counts(mainnet_data: MainnetData) -> None:
    tt = "token_transfers"

    async def work(router: QueryRouter) -> dict[str, Any]:
        everything = await read_all(router, Query(tenant_id=FULL, table=TABLES[tt], limit=200))
        account = next(r["from"] for r in everything if r["event_type"] == "transfer")
        mine = await read_all(
            router,
            Query(
                tenant_id=FULL,
                table=TABLES[tt],
                limit=50,
                filters=(Filter.any_of(("from", "to"), [account]),),
            ),
        )
        big = await read_all(
            router,
            Query(
                tenant_id=FULL, table=TABLES[tt], limit=200, filters=(Filter(("amount_raw",), "gte", 10**10),)
            ),
        )
        window = await read_all(
            router, Query(tenant_id=FULL, table=TABLES[tt], limit=200, from_ledger=LAST - 1, to_ledger=LAST)
        )
        capped = await router.count(Query(tenant_id=FULL, table=TABLES[tt]), cap=10)
        other = await router.fetch(Query(tenant_id=PARTIAL, table=TABLES["dex_trades"]))
        return {
            "all": everything,
            "account": account,
            "mine": mine,
            "big": big,
            "window": window,
            "capped": capped,
            "other": other.rows,
        }

    got = run(mainnet_data.url, work)
    assert got["mine"] == [r for r in got["all"] if got["account"] in (r["from"], r["to"])]
    assert got["big"] == [r for r in got["all"] if r["amount_raw"] >= 10**10]
    assert got["window"] == [r for r in got["all"] if r["ledger_sequence"] >= LAST - 1]
    assert got["capped"] == (10, False)
    assert got["other"] == []  # the partial tenant has no DEX rows, and never sees another tenant's


def test_cursor_is_bound_to_its_filters(mainnet_data: MainnetData) -> None:
    query = Query(tenant_id=FULL, table=TABLES["token_transfers"], limit=5)
    page = run(mainnet_data.url, lambda router: router.fetch(query))
    assert page.next_cursor is not None
    other = query.replace(filters=(Filter.eq("event_type", "fee"),))
    with pytest.raises(BadRequest) as err:
        decode_cursor(page.next_cursor, other.fingerprint)
    assert err.value.code == "cursor_filters_mismatch"
    # The same filters in another order are the same query.
    a = Query(tenant_id=FULL, table=TABLES["token_transfers"], filters=(Filter.eq("a", 1), Filter.eq("b", 2)))
    b = Query(tenant_id=FULL, table=TABLES["token_transfers"], filters=(Filter.eq("b", 2), Filter.eq("a", 1)))
    assert a.fingerprint == b.fingerprint


def test_lookup_groups_rows_by_key(mainnet_data: MainnetData) -> None:
    async def work(router: QueryRouter) -> tuple[list[Any], dict[Any, list[Any]]]:
        rows = await read_all(
            router, Query(tenant_id=FULL, table=TABLES["account_balances_current"], limit=200)
        )
        busiest = Counter(r["account_id"] for r in rows).most_common(7)
        accounts = [*(account for account, _ in busiest), "GDOESNOTEXIST"]
        return rows, await router.lookup(
            FULL, TABLES["account_balances_current"], "account_id", accounts, per_key=1000
        )

    rows, grouped = run(mainnet_data.url, work)
    for account, found in grouped.items():
        assert found == [r for r in rows if r["account_id"] == account]
    assert grouped["GDOESNOTEXIST"] == []
    assert any(len(found) > 2 for found in grouped.values())

    async def capped(router: QueryRouter) -> dict[Any, list[Any]]:
        return await router.lookup(
            FULL, TABLES["account_balances_current"], "account_id", list(grouped), per_key=2
        )

    for account, found in run(mainnet_data.url, capped).items():
        assert found == grouped[account][:2]  # the first two of each, in key order


def test_composite_keys_page_on_sqlite(migrated_sqlite: str, tmp_path: Path) -> None:
    """Current tables page by their whole key, timestamps included, on the embedded backend too."""
    start = datetime(2026, 1, 1, tzinfo=UTC)
    candles = [
        {
            "tenant_id": "t",
            "pair": "native/X:GA",
            "interval": "1m",
            "bucket_start": start.replace(minute=m),
            "base_asset": "native",
            "counter_asset": "X:GA",
            "base_volume": 10**30 + m,
            "counter_volume": 5,
            "trade_count": 1,
            "vwap": None,
            "first_trade_id": "a",
            "last_trade_id": "b",
            "ledger_sequence": 100 + m,
            "closed_at": start,
        }
        for m in range(7)
    ]

    async def work(router: QueryRouter) -> tuple[list[Any], list[Any]]:
        async with router.engine.begin() as conn:
            await write_rows(conn, default_registry().catalogue()["DEXVolumeProcessor"].tables[0], candles)
        query = Query(
            tenant_id="t",
            table=TABLES["dex_volume"],
            limit=2,
            time_column="bucket_start",
            from_time=start.replace(minute=1),
        )
        return await read_all(router, query), await read_all(router, query.replace(descending=True))

    asc, desc = run(migrated_sqlite, work)
    assert [r["bucket_start"].minute for r in asc] == [1, 2, 3, 4, 5, 6]
    assert desc == asc[::-1]
    assert asc[0]["base_volume"] == 10**30 + 1


@pytest.mark.parametrize(
    ("table", "position"),
    [
        ("account_balances_current", "[1, 2]"),  # ints where the key is text
        ("account_balances_current", '["a\\u0000", "b"]'),  # a NUL byte PostgreSQL refuses
        ("account_balances_current", "[[1], {}]"),
        ("account_balances_current", "[null, null]"),
        ("account_balances_current", '["only one"]'),
        ("dex_volume", '["native/X:GA", "1m", "yesterday"]'),  # not a time
        ("dex_volume", '["native/X:GA", "1m", "2026-01-01T00:00:00"]'),  # a time without its zone
        ("token_transfers", "abc\x00"),
        ("token_transfers", "0270982294297145345"),  # an id without its event index
    ],
)
def test_forged_cursor_positions_are_refused(mainnet_data: MainnetData, table: str, position: str) -> None:
    """A cursor is base64 of a position and the query's fingerprint: a client can forge one from a real cursor.
    Every forged position is a 400 `invalid_cursor`, never a database error or a silently wrong page."""
    query = Query(tenant_id=FULL, table=TABLES[table], after=position, time_column="closed_at")
    with pytest.raises(BadRequest) as err:
        run(mainnet_data.url, lambda router: router.fetch(query))
    assert err.value.code == "invalid_cursor"
