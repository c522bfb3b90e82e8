"""Every history table of every processor on the 20 mainnet ledgers, on PostgreSQL and SQLite: the same
answers from the router before archival, with the archive cut in the middle of the range, and with everything
archived. Hot rows before vs Parquet rows after, column by column; a few hundred generated queries (the filters
each listing's model accepts, built from the data; both orders; ledger and time ranges; positions on both sides
of the boundary; capped counts); exports; balances summed from transfers; and `Page.sources`."""

from __future__ import annotations

import typing
from collections import Counter
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pydantic
import pytest

from processors.listing import Listing
from processors.registry import default_registry
from processors.token_transfers.balances import balances_from_transfers
from storage.amounts import Amount
from storage.cold.archival import ArchiveCut, archive_table
from storage.cold.parquet import to_rows
from storage.cold.reader import ColdReader
from storage.cold.store import ColdStore
from storage.cold.tables import cold_files
from storage.db import create_engine
from storage.export_rows import iter_tenant_rows
from storage.query import Filter, Query
from storage.router import QueryRouter
from tests.mainnet_data import FIRST, FULL, PARTIAL, MainnetData

CATALOGUE = default_registry().catalogue().values()
ARCHIVED = [(p.name, table) for p in CATALOGUE for table in p.archive]
LISTINGS = [
    listing
    for p in CATALOGUE
    for listing in p.listings
    if listing.kind == "history" and any(listing.table is t for _, t in ARCHIVED)
]
CUT = FIRST + 10  # ledgers FIRST..CUT-1 go cold in the middle phase


pytestmark = pytest.mark.heavy(219)


def data_values(listing: Listing[Any], rows: list[dict[str, Any]]) -> tuple[list[Any], list[str]]:
    """The table's amounts, sorted, and its 400 commonest texts: what `field_candidates` draws from (the same
    for every field of the listing, so computed once per listing)."""
    amounts = sorted(
        r[c.name]
        for c in listing.table.columns
        if isinstance(c.type, Amount)
        for r in rows
        if r.get(c.name) is not None
    )
    texts: Counter[str] = Counter(
        v
        for c in listing.table.columns
        if c.name != "id"
        for r in rows
        if isinstance(v := r.get(c.name), str)
    )
    return amounts, [value for value, _ in texts.most_common(400)]


def field_candidates(listing: Listing[Any], name: str, data: tuple[list[Any], list[str]]) -> list[Any]:
    """Values to try for one filter field: an enum's values, both booleans, amounts of the data for a
    minimum, else the commonest texts of the table's columns (the model keeps those it accepts)."""
    annotation = listing.filters.model_fields[name].annotation
    inner = [a for a in typing.get_args(annotation) if a is not type(None)] or [annotation]
    literal = [a for t in inner for a in typing.get_args(t) if typing.get_origin(t) is typing.Literal]
    literal += [
        v
        for t in inner
        for a in typing.get_args(t)
        if typing.get_origin(a) is typing.Literal
        for v in typing.get_args(a)
    ]
    if literal:
        return literal
    if bool in inner:
        return [True, False]
    amounts, texts = data
    if name.startswith("min_") and amounts:
        return [str(max(amounts[len(amounts) // 2], 0)), str(max(amounts[len(amounts) * 9 // 10], 0))]
    return texts


def generated_filters(listing: Listing[Any], rows: list[dict[str, Any]]) -> list[tuple[Filter, ...]]:
    out: list[tuple[Filter, ...]] = [()]
    data = data_values(listing, rows)
    for name in listing.filters.model_fields:
        found = 0
        for value in field_candidates(listing, name, data):
            for payload in ({name: [value]}, {name: value}):
                try:
                    model = listing.filters.model_validate(payload)
                except pydantic.ValidationError:
                    continue
                filters = listing.to_filters(model)
                if filters not in out:
                    out.append(filters)
                    found += 1
                break
            if found >= 2:
                break
    return out


async def read_all(router: QueryRouter, query: Query) -> tuple[list[dict[str, Any]], set[tuple[str, ...]]]:
    rows: list[dict[str, Any]] = []
    sources: set[tuple[str, ...]] = set()
    while True:
        page = await router.fetch(query)
        rows.extend(page.rows)
        sources.add(page.sources)
        following = page.next_query()
        if following is None:
            return rows, sources
        query = following


async def answers(router: QueryRouter, plan: dict[str, Any]) -> dict[Any, Any]:
    """Every answer the test compares across phases, keyed by what was asked."""
    out: dict[Any, Any] = {}
    for listing in LISTINGS:
        table, positions = listing.table, plan["positions"][listing.name]
        base = Query(FULL, table, time_column=listing.time_column, limit=200)
        for descending in (False, True):
            whole, _ = await read_all(router, base.replace(descending=descending))
            out[(listing.name, "all", descending)] = whole
            for i, filters in enumerate(plan["filters"][listing.name]):
                query = base.replace(filters=filters, descending=descending)
                page = await router.fetch(query)
                out[(listing.name, i, descending)] = (page.rows, page.has_more)
                for position in positions:
                    page = await router.fetch(query.replace(after=position, limit=7))
                    out[(listing.name, i, descending, position)] = (page.rows, page.has_more)
                if not descending:
                    out[(listing.name, i, "count")] = await router.count(query, 10**6)
                    out[(listing.name, i, "count5")] = await router.count(query, 5)
            for span in plan["ranges"][listing.name]:
                out[(listing.name, str(span), descending)] = (
                    await read_all(router, base.replace(descending=descending, **span))
                )[0]
        stored = []
        async for chunk in iter_tenant_rows(router.engine, table, FULL, page_size=300, cold=router.cold):
            stored.extend(chunk)
        out[(listing.name, "export")] = stored
        ranged = []
        async for chunk in iter_tenant_rows(
            router.engine, table, FULL, from_ledger=CUT - 2, to_ledger=CUT + 2, cold=router.cold
        ):
            ranged.extend(chunk)
        out[(listing.name, "export-range")] = ranged
    out["balances"] = await balances_from_transfers(router, FULL, plan["accounts"])
    return out


async def hot_tables(engine: Any) -> dict[str, list[dict[str, Any]]]:
    out = {}
    for _, table in ARCHIVED:
        rows = []
        async for chunk in iter_tenant_rows(engine, table, FULL):
            rows.extend(chunk)
        out[table.name] = rows
    return out


async def archive_all(engine: Any, store: ColdStore, cut: ArchiveCut) -> None:
    for tenant in (FULL, PARTIAL):
        for processor, table in ARCHIVED:
            await archive_table(
                engine, store, tenant_id=tenant, processor=processor, table=table, cut=cut, max_file_rows=700
            )


async def test_every_table_and_listing_answers_the_same_from_either_tier(
    mainnet_pg: MainnetData, tmp_path: Path
) -> None:
    # PostgreSQL only, for the suite's time: the cold side is the same DuckDB whatever the hot store, and
    # tests/services/test_archive_tiers.py compares every API listing across the tiers on both backends.
    engine = create_engine(mainnet_pg.url)
    store = ColdStore.open(str(tmp_path / "cold"))
    reader = ColdReader(store, engine)
    cold_reads: list[str] = []
    router = QueryRouter(engine, cold=reader, on_cold_read=cold_reads.append)
    try:
        hot = await hot_tables(engine)
        plan: dict[str, Any] = {"positions": {}, "filters": {}, "ranges": {}}
        for listing in LISTINGS:
            rows = hot[listing.table.name]
            assert rows, listing.name
            boundary = next(i for i, r in enumerate(rows) if r["ledger_sequence"] >= CUT)
            plan["positions"][listing.name] = [
                rows[max(boundary - 3, 0)]["id"],
                rows[boundary]["id"],
            ]
            plan["filters"][listing.name] = generated_filters(listing, rows)
            cut_time = rows[boundary]["closed_at"]
            plan["ranges"][listing.name] = [
                {"from_ledger": CUT - 2, "to_ledger": CUT + 1},
                {"to_ledger": CUT - 1},
                {"from_ledger": CUT},
                {"from_time": rows[boundary - 1]["closed_at"], "to_time": cut_time},
            ]
        transfers = hot["token_transfers"]
        plan["accounts"] = sorted(
            {r["from"] for r in transfers if r["from"]} | {r["to"] for r in transfers if r["to"]}
        )[:60]
        assert sum(len(f) for f in plan["filters"].values()) >= 40
        before = await answers(router, plan)
        assert not cold_reads

        # The middle: ledgers before CUT cold, the rest hot.
        await archive_all(engine, store, ArchiveCut(before_ledger=CUT))
        assert await answers(router, plan) == before
        assert set(cold_reads) == {FULL}
        tt = Query(FULL, default_registry().by_name("token_transfers").archive[0], limit=5)
        rows = hot["token_transfers"]
        boundary = next(i for i, r in enumerate(rows) if r["ledger_sequence"] >= CUT)
        assert (await router.fetch(tt)).sources == ("cold",)
        assert (await router.fetch(tt.replace(descending=True))).sources == ("hot",)
        assert (await router.fetch(tt.replace(after=rows[boundary - 2]["id"]))).sources == ("cold", "hot")
        assert (await router.fetch(tt.replace(from_ledger=CUT))).sources == ("hot",)

        # Everything cold: the hot tables hold none of the tenant's history rows; every page says ["cold"].
        await archive_all(engine, store, ArchiveCut())
        assert await answers(router, plan) == before
        assert await hot_tables(engine) == {name: [] for name in hot}
        for listing in LISTINGS:
            _, sources = await read_all(router, Query(FULL, listing.table, limit=150))
            assert sources == {("cold",)}, listing.name
        # The Parquet rows are the hot rows, column by column, types included.
        async with engine.connect() as conn:
            keys = (
                (
                    await conn.execute(
                        cold_files.select()
                        .where(cold_files.c.tenant_id == FULL)
                        .order_by(cold_files.c.table_name, cold_files.c.first_id)
                    )
                )
                .mappings()
                .all()
            )
        for _, table in ARCHIVED:
            files = [k["key"] for k in keys if k["table_name"] == table.name]
            back = [row for key in files for row in to_rows(table, pq.read_table(tmp_path / "cold" / key))]
            assert back == hot[table.name], table.name
            assert [[type(v) for v in r.values()] for r in back] == [
                [type(v) for v in r.values()] for r in hot[table.name]
            ]
    finally:
        await reader.close()
        await engine.dispose()
