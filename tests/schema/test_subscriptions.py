"""The ``Subscription`` root of tenant schemas, run with `TenantSchema.subscribe` over a real hub and the 20
mainnet ledgers (PostgreSQL): fields from the tenant's processors only, scopes, refusals before the stream
starts (filter, ``after``), and pushed rows carrying their ids. The WebSocket transport's tests are
tests/api/test_graphql_ws*.py."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from graphql import ExecutionResult

from core.errors import FlowError
from processors.delivery import Subscription
from processors.registry import default_registry
from resolvers.context import RequestContext
from schema.build import TenantSchema, schema_for
from schema.subscribe import RESULTS
from services.subscriptions import Pushed, SubscriptionHub
from storage.db import create_engine
from storage.pubsub import MemoryPubSub
from storage.query import Query
from storage.router import QueryRouter
from storage.row_match import row_matches
from tests.api.helpers import settings_for
from tests.mainnet_data import FULL, PARTIAL, PARTIAL_TYPES, MainnetData

USDC_ISSUER = "GA5ZSEJYB37JRC5AVCIA5MOP4RHTM335X2KGX3IHOJAPP5RE34K4KZVN"  # an account, not a contract
TRANSFERS_DOC = """subscription ($after: String, $filter: TokenTransferFilter) {
  onTokenTransfer(after: $after, filter: $filter) { id eventType amountRaw from fromAccount { address } }
}"""


@dataclass(frozen=True)
class Scoped:
    scopes: tuple[str, ...]

    def can_read(self, processor_name: str) -> bool:
        return "read:*" in self.scopes or f"read:{processor_name}" in self.scopes


@dataclass
class Live:
    router: QueryRouter
    hub: SubscriptionHub
    ids: list[str]

    def context(
        self, tenant_id: str = FULL, scopes: tuple[str, ...] = ("read:*",), live: bool = True
    ) -> RequestContext:
        return RequestContext(
            router=self.router,
            tenant_id=tenant_id,
            network="pubnet",
            principal=Scoped(scopes),
            configs={},
            request_id="test",
            live=self.hub if live else None,
        )


@pytest.fixture
async def live(mainnet_pg: MainnetData) -> AsyncIterator[Live]:
    # A copy of its own: an app over the shared copy may archive it (its tenants' archive schedule).
    engine = create_engine(mainnet_pg.url)
    router = QueryRouter(engine)
    hub = SubscriptionHub(
        MemoryPubSub(), router, settings_for(mainnet_pg.url, subscription_catchup_page_rows=10)
    )
    try:
        page = [p async for p in router.scan(_transfers_table(), FULL, to_ledger=63092983)]
        yield Live(router, hub, [row["id"] for rows in page for row in rows])
    finally:
        await hub.close()
        await engine.dispose()


def _transfers_table() -> Any:
    return next(t for p in default_registry() if p.name == "token_transfers" for t in p.tables)


def tenant_schema(*types: str) -> TenantSchema:
    registry = default_registry()
    names = {p.type_name: p.name for p in registry}
    return schema_for(registry, frozenset(names[t] for t in types))


def all_schema() -> TenantSchema:
    registry = default_registry()
    return schema_for(registry, frozenset(p.name for p in registry))


async def start(schema: TenantSchema, ctx: RequestContext, query: str, **variables: Any) -> Any:
    prepared = schema.documents.prepare(query)
    assert prepared.document is not None, prepared.errors
    return await schema.subscribe(prepared.document, variables, None, ctx)


def refusal(result: Any) -> FlowError:
    assert isinstance(result, ExecutionResult), result
    assert result.data is None and result.errors is not None and len(result.errors) == 1, result
    original = result.errors[0].original_error
    assert isinstance(original, FlowError), result.errors
    return original


def subscription_fields(schema: TenantSchema) -> set[str]:
    kind = schema.graphql_schema.subscription_type
    return set(kind.fields) if kind is not None else set()


def test_introspection_shows_only_the_tenants_processors_subscription_fields() -> None:
    assert subscription_fields(tenant_schema(*PARTIAL_TYPES)) == {"onTokenTransfer", "onContractEvent"}
    assert subscription_fields(all_schema()) == {s.field for p in default_registry() for s in p.subscriptions}
    from graphql import graphql_sync

    answer = graphql_sync(
        tenant_schema(*PARTIAL_TYPES).graphql_schema,
        "{ __schema { subscriptionType { fields {"
        " name args { name type { name } } type { kind ofType { name } } } } } }",
    )
    assert answer.errors is None
    fields = {f["name"]: f for f in answer.data["__schema"]["subscriptionType"]["fields"]}  # type: ignore[index]
    assert set(fields) == {"onTokenTransfer", "onContractEvent"}
    transfer = fields["onTokenTransfer"]
    assert {a["name"]: a["type"]["name"] for a in transfer["args"]} == {
        "filter": "TokenTransferFilter",
        "after": "String",
    }
    assert transfer["type"] == {"kind": "NON_NULL", "ofType": {"name": "TokenTransfer"}}


async def test_rows_after_an_id_are_pushed_with_their_ids(live: Live) -> None:
    stream = await start(all_schema(), live.context(), TRANSFERS_DOC, after=live.ids[999])
    try:
        pushed: list[Pushed] = [await anext(stream) for _ in range(25)]
    finally:
        await stream.aclose()
    assert [p.row_id for p in pushed] == live.ids[1000:1025]
    assert all(p.result.errors is None for p in pushed)
    assert [p.result.data["onTokenTransfer"]["id"] for p in pushed] == live.ids[1000:1025]  # type: ignore[index]
    first = pushed[0].result.data["onTokenTransfer"]  # type: ignore[index]
    assert isinstance(first["amountRaw"], str)
    assert all(
        (p.result.data["onTokenTransfer"]["fromAccount"] or {}).get("address")  # type: ignore[index]
        == p.result.data["onTokenTransfer"]["from"]  # type: ignore[index]
        for p in pushed
    )
    assert live.hub.subscribers == 0


SUBSCRIPTIONS = [s for p in default_registry() for s in p.subscriptions]


@pytest.mark.parametrize("subscription", SUBSCRIPTIONS, ids=[s.field for s in SUBSCRIPTIONS])
async def test_every_field_streams_its_listings_rows_after_a_cursor(
    live: Live, subscription: Subscription
) -> None:
    """Each processor's `on<Type>` field streams the rows of its own listing, in order, from a cursor of that
    listing's query (the transport and the live path are the same for every field)."""
    listing = subscription.listing
    filters = listing.to_filters(listing.filters.model_validate({}))  # a field's defaults, as with no filter
    scanned = [row async for page in live.router.scan(listing.table, FULL) for row in page]
    stored = [row for row in scanned if row_matches(filters, row)]
    assert len(stored) > 1, listing.table.name  # the 20 ledgers hold rows of every listing for this tenant
    expected = [row["id"] for row in stored[1:26]]
    cursor = Query(FULL, listing.table, filters, time_column=listing.time_column).cursor_for(stored[0])
    document = f"subscription ($after: String) {{ {subscription.field}(after: $after) {{ __typename }} }}"
    stream = await start(all_schema(), live.context(), document, after=cursor)
    try:
        async with asyncio.timeout(120):  # a guard against a stalled stream, not a timing assertion
            pushed: list[Pushed] = [await anext(stream) for _ in expected]
    finally:
        await stream.aclose()
    assert [p.row_id for p in pushed] == expected
    assert all(p.result.data == {subscription.field: {"__typename": subscription.node}} for p in pushed)


async def test_a_filter_narrows_the_stream_like_the_query(live: Live) -> None:
    stream = await start(
        all_schema(),
        live.context(),
        TRANSFERS_DOC,
        after=live.ids[0],
        filter={"eventTypes": ["mint"]},
    )
    try:
        first = await anext(stream)
    finally:
        await stream.aclose()
    assert first.result.data["onTokenTransfer"]["eventType"] == "mint"  # type: ignore[index]


async def test_closing_before_iterating_leaves_the_hub(live: Live) -> None:
    stream = await start(all_schema(), live.context(), TRANSFERS_DOC)
    assert live.hub.subscribers == 1
    await stream.aclose()
    assert live.hub.subscribers == 0


async def test_a_field_outside_the_keys_scope_is_refused(live: Live) -> None:
    ctx = live.context(scopes=("read:token_transfers",))
    refused = refusal(await start(all_schema(), ctx, "subscription { onContractEvent { id } }"))
    assert refused.code == "insufficient_scope"
    assert live.hub.subscribers == 0


@pytest.mark.parametrize(
    ("after", "code"),
    [
        ("yesterday", "invalid_parameter"),
        ("12345", "invalid_parameter"),
        ("0000000000000000001-x", "invalid_parameter"),
    ],
)
async def test_bad_after_is_a_400_naming_after(live: Live, after: str, code: str) -> None:
    refused = refusal(await start(all_schema(), live.context(), TRANSFERS_DOC, after=after))
    assert (refused.code, refused.status, refused.details["parameter"]) == (code, 400, "after")
    assert "after" in refused.message
    assert live.hub.subscribers == 0


async def test_bad_filter_is_refused_like_the_query(live: Live) -> None:
    refused = refusal(
        await start(all_schema(), live.context(), TRANSFERS_DOC, filter={"contracts": [USDC_ISSUER]})
    )
    assert refused.code == "invalid_parameter"
    assert refused.details["parameter"].startswith("filter.contracts")


async def test_without_a_live_source_subscriptions_are_refused(live: Live) -> None:
    refused = refusal(await start(all_schema(), live.context(live=False), TRANSFERS_DOC))
    assert refused.code == "subscriptions_need_websocket"


async def test_a_query_is_not_a_subscription(live: Live) -> None:
    result = await start(all_schema(), live.context(), "{ _meta { latestLedger } }")
    assert isinstance(result, ExecutionResult) and result.errors


async def test_the_other_tenants_schema_has_no_field_of_processors_it_lacks(live: Live) -> None:
    schema = tenant_schema(*PARTIAL_TYPES)
    prepared = schema.documents.prepare("subscription { onDexTrade { id } }")
    assert prepared.document is None and prepared.errors
    stream = await start(schema, live.context(tenant_id=PARTIAL), "subscription { onContractEvent { id } }")
    await stream.aclose()


def test_a_subscription_posted_over_http_says_where_it_is_served(full: Any) -> None:
    error = full.error("subscription { onTokenTransfer { id } }")
    assert error["extensions"]["code"] == "subscriptions_need_websocket"
    assert "WebSocket" in error["message"]


async def test_subscribers_of_one_query_share_each_rows_result_within_their_scopes(live: Live) -> None:
    schema = all_schema()
    before = RESULTS.executions
    streams = [
        await start(schema, live.context(), TRANSFERS_DOC, after=live.ids[1050]),
        await start(schema, live.context(), TRANSFERS_DOC, after=live.ids[1050]),
        await start(
            schema, live.context(scopes=("read:token_transfers",)), TRANSFERS_DOC, after=live.ids[1050]
        ),
    ]
    try:
        first, same, narrower = [[await anext(stream) for _ in range(5)] for stream in streams]
    finally:
        for stream in streams:
            await stream.aclose()
    assert all(a.result is b.result for a, b in zip(first, same, strict=True))
    assert not any(a.result is c.result for a, c in zip(first, narrower, strict=True))
    assert [p.row_id for p in narrower] == live.ids[1051:1056]
    assert RESULTS.executions - before == 10  # five rows, two distinct sets of readable processors


async def test_the_filters_ledger_range_applies_to_the_stream(live: Live) -> None:
    doc = (
        "subscription ($f: TokenTransferFilter, $a: String) {"
        " onTokenTransfer(filter: $f, after: $a) { ledgerSequence } }"
    )
    stream = await start(all_schema(), live.context(), doc, a=live.ids[0], f={"fromLedger": 63092983})
    try:
        first = await anext(stream)
    finally:
        await stream.aclose()
    assert first.result.data == {"onTokenTransfer": {"ledgerSequence": 63092983}}
    assert first.row_id == next(i for i in live.ids if int(i[:19]) >> 32 == 63092983)
