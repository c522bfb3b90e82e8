"""Every processor's connection through HTTP on the 20 mainnet ledgers: all rows in both orders (first/after
and last/before), equal to what `obsrvr-flow export` writes for the same filters; filters of each kind."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from processors.listing import Listing
from processors.registry import default_registry
from resolvers.row_types import camel
from resolvers.scalars import serialize_datetime
from storage.db import create_engine
from storage.export_rows import iter_tenant_rows
from tests.mainnet_data import FULL, LAST, MainnetData
from tests.schema.conftest import GraphQLClient

# listing -> (query field, node type)
FIELDS = {
    "token_transfers": ("tokenTransfers", "TokenTransfer"),
    "contract_events": ("contractEvents", "ContractEvent"),
    "account_balances": ("accountBalances", "AccountBalance"),
    "account_balances_current": ("accountBalancesCurrent", "CurrentAccountBalance"),
    "dex_trades": ("dexTrades", "DexTrade"),
    "contract_data": ("contractData", "ContractData"),
    "contract_data_current": ("contractDataCurrent", "ContractStorageEntry"),
    "dex_volume": ("dexVolume", "DexVolume"),
    "dex_closed_candles": ("dexClosedCandles", "DexClosedCandle"),
    "token_balances": ("tokenBalances", "TokenBalance"),
}
LISTINGS = [listing for p in default_registry().catalogue().values() for listing in p.listings]


pytestmark = pytest.mark.heavy(199)


def scalar_fields(client: GraphQLClient, type_name: str) -> dict[str, str]:
    """The type's scalar fields and their scalar names, from introspection."""
    data = client.data(
        "query($n: String!) { __type(name: $n) { fields { name type { kind name ofType { kind name } } } } }",
        n=type_name,
    )
    fields = {}
    for field in data["__type"]["fields"]:
        kind = field["type"] if field["type"]["kind"] != "NON_NULL" else field["type"]["ofType"]
        if kind["kind"] == "SCALAR":
            fields[field["name"]] = kind["name"]
    return fields


def as_graphql(row: dict[str, Any], fields: dict[str, str]) -> dict[str, Any]:
    """A stored row as the GraphQL node must show it."""
    by_name = {camel(column): value for column, value in row.items()}
    out = {}
    for name, scalar in fields.items():
        value = by_name[name]
        if value is not None and scalar == "BigInt":
            value = str(value)
        elif value is not None and scalar == "DateTime":
            value = serialize_datetime(value)
        out[name] = value
    return out


def read_all(
    client: GraphQLClient,
    field: str,
    selection: str,
    *,
    backward: bool = False,
    order: str = "ASC",
    filter_type: str | None = None,
    filter: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """Every node of a connection, paging with first/after (or last/before), in the order read."""
    page_args = "last: 100, before: $cursor" if backward else "first: 100, after: $cursor"
    declared, passed = (f", $filter: {filter_type}", ", filter: $filter") if filter is not None else ("", "")
    query = (
        f"query($cursor: String{declared}) {{ {field}({page_args}, order: {order}{passed}) {{ "
        f"edges {{ cursor node {{ {selection} }} }} "
        "pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }"
    )
    pages: list[list[dict[str, Any]]] = []
    cursor = None
    while True:
        variables: dict[str, Any] = {"cursor": cursor}
        if filter is not None:
            variables["filter"] = filter
        connection = client.data(query, **variables)[field]
        pages.append([edge["node"] for edge in connection["edges"]])
        info = connection["pageInfo"]
        if not (info["hasPreviousPage"] if backward else info["hasNextPage"]):
            break
        cursor = info["startCursor"] if backward else info["endCursor"]
    ordered = reversed(pages) if backward else pages
    return [node for page in ordered for node in page]


def exported(url: str, listing: Listing, tenant: str = FULL) -> list[dict[str, Any]]:
    async def work() -> list[dict[str, Any]]:
        engine = create_engine(url)
        rows: list[dict[str, Any]] = []
        try:
            async for chunk in iter_tenant_rows(engine, listing.table, tenant):
                rows.extend(chunk)
        finally:
            await engine.dispose()
        return rows

    return asyncio.run(work())


@pytest.mark.parametrize("listing", LISTINGS, ids=lambda listing: listing.name)
def test_connection_pages_every_row_in_both_orders(
    full: GraphQLClient, mainnet_data: MainnetData, listing: Listing
) -> None:
    field, node = FIELDS[listing.name]
    fields = scalar_fields(full, node)
    selection = " ".join(fields)
    # The export holds every stored row: ask for removed entries too where a listing hides them by default.
    everything = {"includeDeleted": True} if "include_deleted" in listing.filters.model_fields else None
    paging: dict[str, Any] = {"filter_type": f"{node}Filter", "filter": everything} if everything else {}
    asc = read_all(full, field, selection, **paging)
    desc = read_all(full, field, selection, order="DESC", **paging)
    backward = read_all(full, field, selection, backward=True, **paging)
    assert asc, f"{field}: no rows in the 20 ledgers"
    assert desc == asc[::-1]
    assert backward == asc  # last/before, reversed back into the requested order
    if listing.kind == "history":
        assert len({row["id"] for row in asc}) == len(asc)
        assert asc == [as_graphql(row, fields) for row in exported(mainnet_data.url, listing)]


def _transfers(full: GraphQLClient, **flt: Any) -> list[dict[str, Any]]:
    selection = "id from to amountRaw eventType asset ledgerSequence closedAt"
    return read_all(full, "tokenTransfers", selection, filter_type="TokenTransferFilter", filter=flt)


def test_token_transfer_filters(full: GraphQLClient) -> None:
    everything = _transfers(full)
    account = next(r["from"] for r in everything if r["eventType"] == "transfer")
    checks: list[tuple[dict[str, Any], Callable[[dict[str, Any]], bool]]] = [
        ({"accounts": [account]}, lambda r: account in (r["from"], r["to"])),
        ({"senders": [account]}, lambda r: r["from"] == account),
        ({"eventTypes": ["fee"]}, lambda r: r["eventType"] == "fee"),
        ({"minAmount": "10000000000"}, lambda r: abs(int(r["amountRaw"])) >= 10**10),
        (
            {"assets": ["native"], "eventTypes": ["transfer"]},
            lambda r: r["asset"] == "native" and r["eventType"] == "transfer",
        ),
        ({"fromLedger": LAST - 1, "toLedger": LAST}, lambda r: r["ledgerSequence"] >= LAST - 1),
    ]
    some_time = everything[len(everything) // 2]["closedAt"]
    checks.append(({"from": some_time}, lambda r: r["closedAt"] >= some_time))
    checks.append(({"to": some_time}, lambda r: r["closedAt"] <= some_time))
    for flt, keep in checks:
        expected = [r for r in everything if keep(r)]
        assert expected, flt
        assert _transfers(full, **flt) == expected, flt


@pytest.mark.parametrize(
    ("field", "node", "filter_type", "make_filter", "column"),
    [
        (
            "contractEvents",
            "ContractEvent",
            "ContractEventFilter",
            lambda v: {"contracts": [v]},
            "contractId",
        ),
        ("dexTrades", "DexTrade", "DexTradeFilter", lambda v: {"pairs": [v]}, "pair"),
        (
            "accountBalances",
            "AccountBalance",
            "AccountBalanceFilter",
            lambda v: {"accounts": [v]},
            "accountId",
        ),
        ("contractData", "ContractData", "ContractDataFilter", lambda v: {"contracts": [v]}, "contractId"),
        ("dexVolume", "DexVolume", "DexVolumeFilter", lambda v: {"intervals": [v]}, "interval"),
        ("tokenBalances", "TokenBalance", "TokenBalanceFilter", lambda v: {"assets": [v]}, "asset"),
    ],
)
def test_filters_of_each_processor(
    full: GraphQLClient, field: str, node: str, filter_type: str, make_filter: Any, column: str
) -> None:
    everything = read_all(full, field, column)
    value = next(r[column] for r in everything if r[column] is not None)
    expected = [r for r in everything if r[column] == value]
    assert 0 < len(expected) < len(everything)
    chosen = read_all(full, field, column, filter_type=filter_type, filter=make_filter(value))
    assert chosen == expected
