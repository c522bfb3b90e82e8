"""`storage.row_match.row_matches` agrees with the SQL of `storage.hot_query` on the 20 mainnet ledgers.

Property-style: for every listing of every registered processor, filters are generated from the stored rows'
own values (every column and operator, and every field of the listing's filter model with values the model
accepts, alone and in pairs); for each, the rows the router returns (its count, and its first page in keyset
order) must be exactly the stored rows `row_matches` keeps. This is what makes a webhook preview (SQL over
history) count the messages live recording (Python over the batch) makes.
"""

from __future__ import annotations

import itertools
import typing
from collections.abc import Iterator, Sequence
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError
from sqlalchemy import JSON, Table, select
from sqlalchemy.ext.asyncio import AsyncEngine

from processors.listing import Listing
from processors.registry import default_registry
from storage.amounts import Amount
from storage.db import create_engine
from storage.query import Filter, Query, keyset_columns, position_of
from storage.router import QueryRouter
from storage.row_match import row_matches
from storage.tables import UTCDateTime
from tests.mainnet_data import FULL, MainnetData

# Minutes long (~2,000 filters on both backends):
# started first under pytest-xdist, see tests/parallel.py `order_files`.
pytestmark = pytest.mark.heavy(164)
PAGE = 200


def _listings() -> list[Listing[Any]]:
    return [listing for processor in default_registry() for listing in processor.listings]


async def _stored(engine: AsyncEngine, table: Table, tenant: str) -> list[dict[str, Any]]:
    """Every row of the tenant in keyset order, as the router reads rows (no tenant id)."""
    columns = [c for c in table.columns if c.name != "tenant_id"]
    order = [table.c[k] for k in keyset_columns(table)]
    async with engine.connect() as conn:
        result = await conn.execute(select(*columns).where(table.c.tenant_id == tenant).order_by(*order))
        return [dict(row) for row in result.mappings()]


def _picks(values: list[Any]) -> list[Any]:
    """A few distinct values spread over the sorted distinct values (first, middle, last)."""
    distinct = sorted({repr(v): v for v in values if v is not None}.items())
    if not distinct:
        return []
    chosen = {0, len(distinct) // 2, len(distinct) - 1}
    return [distinct[i][1] for i in sorted(chosen)]


def _orderable(table: Table, name: str) -> bool:
    kind = table.c[name].type
    return isinstance(kind, Amount | UTCDateTime) or kind.python_type in (int,)


def _column_filters(table: Table, rows: list[dict[str, Any]]) -> Iterator[tuple[Filter, ...]]:
    """Every column with every operator, values taken from the rows."""
    texts = []
    for column in table.columns:
        name = column.name
        if name == "tenant_id" or isinstance(column.type, JSON):
            continue
        values = _picks([row.get(name) for row in rows])
        yield (Filter((name,), "is_null"),)
        yield (Filter((name,), "not_null"),)
        yield (Filter.eq(name, None),)
        yield (Filter.any_of(name, ()),)
        for value in values:
            yield (Filter.eq(name, value),)
        if values:
            yield (Filter.any_of(name, values[:2]),)
            yield (Filter.any_of(name, [values[-1], None]),)
        if values and (_orderable(table, name) or name == "id"):
            middle = values[len(values) // 2]
            for op in ("gte", "lte", "gt", "lt"):
                yield (Filter((name,), op, middle),)
        if values and isinstance(values[0], str):
            texts.append((name, values))
    # Several columns OR'ed, `either`, and conjunctions.
    for (a, a_values), (b, b_values) in itertools.pairwise(texts):
        yield (Filter.any_of((a, b), [a_values[0], b_values[-1]]),)
        yield (Filter.either(Filter.eq(a, a_values[-1]), Filter.eq(b, b_values[0])),)
        yield (Filter.eq(a, a_values[0]), Filter((b,), "not_null"))


def _is_list(model: type[BaseModel], field: str) -> bool:
    annotation = model.model_fields[field].annotation
    return typing.get_origin(annotation) is list


def _model_filters(listing: Listing[Any], rows: list[dict[str, Any]]) -> Iterator[tuple[dict[str, Any], Any]]:
    """Filter model inputs built from the rows' values that the model accepts: each field alone (up to three
    values) and, for pairs of fields, together."""
    model = listing.filters
    values = [
        v
        for column in listing.table.columns
        if column.name != "tenant_id" and not isinstance(column.type, JSON)
        for v in _picks([row.get(column.name) for row in rows])
    ]
    accepted: dict[str, list[Any]] = {}
    for field in model.model_fields:
        found: list[Any] = []
        # Raw amounts are digit strings to the models (and negative fee refunds have no filter value).
        inputs = [str(abs(v)) if isinstance(v, int) and not isinstance(v, bool) else v for v in values]
        for value in [*inputs, True, False]:
            candidate = [value] if _is_list(model, field) else value
            try:
                parsed = model.model_validate({field: candidate})
            except ValidationError:
                continue
            if candidate not in found:
                found.append(candidate)
                yield {field: candidate}, parsed
            if len(found) >= 3:
                break
        accepted[field] = found
    fields = [f for f, found in accepted.items() if found]
    for a, b in itertools.pairwise(fields):
        document = {a: accepted[a][0], b: accepted[b][-1]}
        yield document, model.model_validate(document)


def _named_columns(filters: Sequence[Filter]) -> tuple[str, ...]:
    """Every column the filters name, inside `either` too."""
    names: set[str] = set()
    pending = list(filters)
    while pending:
        flt = pending.pop()
        if flt.op == "either":
            pending.extend(flt.value)
        else:
            names.update(flt.columns)
    return tuple(sorted(names))


class StoredRows:
    """The stored rows of a listing, and which of them `row_matches` keeps for a filter.

    Scanning every row for each of the ~600 filters was most of this file's time. Here the rows are grouped,
    once per set of columns, by their values in those columns (a value's type is part of its group: `True` and
    `1` stay apart); `row_matches` reads a row only through the columns its filters name (a missing one as
    NULL), so it is asked once per group, on the group's values, and its answer holds for every row of the
    group. The comparison stays exhaustive: every stored row is kept or dropped by the answer for its own
    values."""

    def __init__(self, rows: list[dict[str, Any]]) -> None:
        self.rows = rows
        self._groups: dict[tuple[str, ...], list[tuple[dict[str, Any], list[int]]]] = {}

    def _grouped(self, columns: tuple[str, ...]) -> list[tuple[dict[str, Any], list[int]]]:
        groups = self._groups.get(columns)
        if groups is None:
            by_values: dict[Any, tuple[dict[str, Any], list[int]]] = {}
            for index, row in enumerate(self.rows):
                values = {name: row[name] for name in columns if name in row}
                key: Any = tuple((type(v), v) for v in (row.get(name) for name in columns))
                try:
                    group = by_values.get(key)
                except TypeError:  # an unhashable value: the row is a group of its own
                    key, group = ("row", index), None
                if group is None:
                    by_values[key] = (values, [index])
                else:
                    group[1].append(index)
            groups = self._groups[columns] = list(by_values.values())
        return groups

    def kept(self, filters: Sequence[Filter]) -> list[dict[str, Any]]:
        """The rows `row_matches(filters, row)` keeps, in stored (keyset) order."""
        indexes = [
            index
            for values, members in self._grouped(_named_columns(filters))
            if row_matches(filters, values)
            for index in members
        ]
        indexes.sort()
        return [self.rows[index] for index in indexes]


async def _agree(
    router: QueryRouter,
    listing: Listing[Any],
    stored: StoredRows,
    filters: Sequence[Filter],
    what: Any,
) -> None:
    query = Query(FULL, listing.table, tuple(filters), limit=PAGE, time_column=listing.time_column)
    count, exact = await router.count(query, cap=10**7)
    page = await router.fetch(query)
    expected = stored.kept(filters)
    assert exact
    assert count == len(expected), (listing.name, what)
    assert [position_of(listing.table, r) for r in page.rows] == [
        position_of(listing.table, r) for r in expected[:PAGE]
    ], (listing.name, what)


async def test_row_matches_agrees_with_sql_on_every_listing(mainnet_db: MainnetData) -> None:
    engine = create_engine(mainnet_db.url)
    router = QueryRouter(engine)
    checked = 0
    try:
        for listing in _listings():
            rows = await _stored(engine, listing.table, FULL)
            assert rows, f"{listing.name}: the mainnet ledgers gave the full tenant no rows"
            stored = StoredRows(rows)
            for filters in _column_filters(listing.table, rows):
                await _agree(router, listing, stored, filters, [f.describe() for f in filters])
                checked += 1
            fields_seen: set[str] = set()
            for document, model in _model_filters(listing, rows):
                await _agree(router, listing, stored, listing.to_filters(model), document)
                fields_seen.update(document)
                checked += 1
            assert fields_seen, f"{listing.name}: no filter field could be exercised"
    finally:
        await engine.dispose()
    assert checked > 500


@pytest.mark.parametrize(
    ("flt", "row", "expected"),
    [
        (Filter.eq("a", None), {}, True),  # a missing column is NULL
        (Filter.eq("a", 1), {"a": None}, False),
        (Filter.any_of("a", (1, None)), {"a": None}, False),  # NULL IN (1, NULL) is unknown
        (Filter.any_of("a", ()), {"a": 1}, False),
        (Filter(("a",), "gte", 5), {"a": None}, False),
        (Filter(("a", "b"), "eq", 2), {"a": 1, "b": 2}, True),
        (Filter.either(Filter.eq("a", 9), Filter(("b",), "lt", 3)), {"a": 1, "b": 2}, True),
        (Filter.eq("flag", True), {"flag": 1}, True),
    ],
)
def test_sql_null_and_or_semantics(flt: Filter, row: dict[str, Any], expected: bool) -> None:
    assert row_matches([flt], row) is expected
