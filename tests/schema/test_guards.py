"""The guards, each answering with one precise GraphQL error: depth, aliases, tokens, the `first` cap, bad
cursors (malformed, or made for other filters), bad addresses and assets (as literals, as variables, and of
the wrong kind for a filter), a key without the processor's scope, and masked unexpected errors."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import threading
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient

from core.errors import RateLimited
from processors.registry import default_registry
from schema.build import schema_for
from schema.guards import INLINE_CHARS, MAX_DOCUMENT_CHARS, MAX_PREPARING, POOL_CHARS, DocumentCache, Prepared
from tests.api.helpers import bearer, drop_table, onboard
from tests.mainnet_data import LAST
from tests.schema.conftest import GraphQLClient

ACCOUNT = "GA5ZSEJYB37JRC5AVCIA5MOP4RHTM335X2KGX3IHOJAPP5RE34K4KZVN"


def test_too_deep(full: GraphQLClient) -> None:
    deep = (
        "{ tokenTransfers { edges { node { fromAccount { balances { a { "
        "b { c { d { e { f { g } } } } } } } } } } } }"
    )
    error = full.error(deep)
    assert error["extensions"]["code"] == "query_too_deep"
    assert "exceeds maximum operation depth of 10" in error["message"]


def test_too_many_aliases(full: GraphQLClient) -> None:
    query = "{ " + " ".join(f"m{i}: _meta {{ latestLedger }}" for i in range(16)) + " }"
    error = full.error(query)
    assert error["extensions"]["code"] == "too_many_aliases"
    assert error["message"] == "16 aliases found. Allowed: 15"


def test_too_many_tokens(full: GraphQLClient) -> None:
    query = "{ _meta { " + " ".join(["latestLedger"] * 2500) + " } }"
    error = full.error(query)
    assert error["extensions"]["code"] == "too_many_tokens"


def test_first_is_capped_with_an_error(full: GraphQLClient) -> None:
    error = full.error("{ tokenTransfers(first: 1000) { edges { cursor } } }")
    assert error["extensions"]["code"] == "page_size_out_of_range"
    assert error["message"].startswith("first must be between 1 and 100 (got 1000)")
    assert error["path"] == ["tokenTransfers"]
    error = full.error("{ tokenTransfers(last: 101) { edges { cursor } } }")
    assert error["message"].startswith("last must be between 1 and 100 (got 101)")


def test_bad_cursors(full: GraphQLClient) -> None:
    error = full.error('{ tokenTransfers(after: "not-a-cursor!") { edges { cursor } } }')
    assert error["extensions"]["code"] == "invalid_cursor"
    assert error["message"] == "after: not a valid cursor"
    page = full.data("{ tokenTransfers(first: 2) { pageInfo { endCursor } } }")
    cursor = page["tokenTransfers"]["pageInfo"]["endCursor"]
    error = full.error(
        'query($c: String) { tokenTransfers(after: $c, filter: {eventTypes: ["fee"]}) { edges { cursor } } }',
        c=cursor,
    )
    assert error["extensions"]["code"] == "cursor_filters_mismatch"
    assert error["message"].startswith("after: this cursor belongs to a query with other filters")
    # The same cursor with its own filters (in another order: asc cursor, desc read) is fine.
    assert full.data(
        "query($c: String) { tokenTransfers(after: $c, order: DESC) { edges { cursor } } }", c=cursor
    )


def test_bad_addresses_and_assets(full: GraphQLClient) -> None:
    error = full.error('{ tokenTransfers(filter: {accounts: ["GBADADDRESS"]}) { edges { cursor } } }')
    assert error["extensions"]["code"] == "graphql_validation_failed"
    assert "not an address (G..., M... or C... strkey): 'GBADADDRESS'" in error["message"]
    error = full.error(
        "query($f: TokenTransferFilter) { tokenTransfers(filter: $f) { edges { cursor } } }",
        f={"assets": ["USDC:NOTANISSUER"]},
    )
    assert error["extensions"]["code"] == "bad_user_input"
    assert "not an asset (native, CODE:ISSUER or a contract id)" in error["message"]
    # A valid address of the wrong kind: the listing's own model refuses it, naming the path.
    error = full.error(f'{{ tokenTransfers(filter: {{contracts: ["{ACCOUNT}"]}}) {{ edges {{ cursor }} }} }}')
    assert error["extensions"]["code"] == "invalid_parameter"
    assert error["message"] == "filter.contracts[0]: not a contract address"
    error = full.error(f'{{ contract(contractId: "{ACCOUNT}") {{ contractId }} }}')
    assert error["message"] == "contractId: not a contract address (C...)"
    # A NUL character, which no stored value holds (and PostgreSQL refuses): the same 400-style code as REST's.
    for variables in ({"eventTypes": ["tran\u0000sfer"]}, {"topic1": "\u0000"}):
        error = full.error(
            "query($f: ContractEventFilter) { contractEvents(filter: $f) { edges { cursor } } }", f=variables
        )
        assert error["extensions"]["code"] == "invalid_parameter"
        assert "contains a NUL character" in error["message"]


def test_scope_is_an_authorization_error_not_an_empty_list(transfers_only: GraphQLClient) -> None:
    body = transfers_only(
        "{ tokenTransfers(first: 1) { edges { cursor } } dexTrades(first: 1) { edges { cursor } } }"
    )
    assert len(body["data"]["tokenTransfers"]["edges"]) == 1
    assert body["data"]["dexTrades"] is None
    (error,) = body["errors"]
    assert error["path"] == ["dexTrades"]
    assert error["extensions"]["code"] == "insufficient_scope"
    assert error["message"] == "this API key may not read dex_trades (it needs the scope read:dex_trades)"


def test_amounts_beyond_i128_range_are_refused(full: GraphQLClient) -> None:
    error = full.error(
        '{ tokenTransfers(filter: {minAmount: "9999999999999999999999999999999999999999"}) { edges { cursor } } }'
    )
    assert error["message"] == "filter.minAmount: not a raw amount (at most 39 digits)"


def test_unexpected_errors_are_masked_with_a_request_id(migrated_pg: str, make_client: Any) -> None:
    """A real fault (the table is gone under the service): the client sees a request id, no internals."""
    client = make_client()
    secret = onboard(client)["api_key"]["secret"]
    drop_table(migrated_pg, "token_transfers")
    response = client.post(
        "/api/v1/acme-wallet/graphql",
        json={"query": "{ tokenTransfers { edges { cursor } } }"},
        headers=bearer(secret),
    )
    assert response.status_code == 200
    error = response.json()["errors"][0]
    assert error["message"] == "internal error"
    assert error["extensions"]["code"] == "internal_error"
    assert len(error["extensions"]["requestId"]) == 32
    assert "token_transfers" not in response.text and "relation" not in response.text


def test_malformed_requests(full: GraphQLClient) -> None:
    response = full.client.post(
        full.path,
        content=b"{",
        headers={"Authorization": f"Bearer {full.key}", "Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"]["code"] == "bad_request"
    assert response.headers["Latest-Ledger"] == str(LAST)  # every answer to a tenant carries it
    response = full.client.post(
        full.path, json={"variables": {}}, headers={"Authorization": f"Bearer {full.key}"}
    )
    assert response.status_code == 400
    error = full.error("{ tokenTransfers { nope } }")
    assert error["extensions"]["code"] == "graphql_validation_failed"
    assert "Cannot query field 'nope' on type 'TokenTransferConnection'" in error["message"]


def test_long_filter_lists_are_refused(full: GraphQLClient) -> None:
    # Each value becomes a bind parameter: a list is capped (100), with the same error as REST gives.
    accounts = [ACCOUNT] * 101
    error = full.error(
        "query($f: TokenTransferFilter) { tokenTransfers(filter: $f) { edges { cursor } } }",
        f={"accounts": accounts},
    )
    assert error["message"].startswith("filter.accounts: List should have at most 100 items"), error


def _fragment_bomb(levels: int, leaf: str = "_meta { latestLedger }") -> str:
    """A small document whose fragments spread two by two: it expands to 2**levels copies of `leaf`."""
    fragments = "".join(f"fragment F{i} on Query {{ ...F{i + 1} ...F{i + 1} }}\n" for i in range(levels))
    return "{ ...F0 }\n" + fragments + f"fragment F{levels} on Query {{ {leaf} }}\n"


def test_costly_documents_are_refused_cheaply(full: GraphQLClient) -> None:
    # Each of these took seconds to validate (fragments expanded at every spread, pairs of repeated fields
    # compared): every limit now costs time linear in the document.
    error = full.error(_fragment_bomb(150))
    assert error["extensions"]["code"] == "query_too_complex"
    assert error["message"].startswith(f"'_meta' is selected {2**150} times in one selection set")
    errors = full(_fragment_bomb(40, "m: _meta { latestLedger }"))["errors"]
    assert [e["extensions"]["code"] for e in errors] == ["query_too_complex", "too_many_aliases"]
    assert errors[1]["message"] == f"{2**40} aliases found. Allowed: 15"
    error = full.error("{ " + "_meta { latestLedger } " * 21 + "}")
    assert error["extensions"]["code"] == "query_too_complex"
    assert error["message"].endswith("at most 20 are accepted")
    assert "errors" not in full("{ " + "_meta { latestLedger } " * 20 + "}")
    # Repeats within the limit at every level, whose pairs multiply: graphql-core's merging check on a budget.
    error = full.error("{ " + ("_meta { " + "latestLedger " * 20 + "} ") * 20 + "}")
    assert error["extensions"]["code"] == "query_too_complex"
    assert error["message"].startswith("the document is too complex to validate")
    # A document longer than the guard, however few its tokens.
    error = full.error("{ _meta { latestLedger } }" + " " * MAX_DOCUMENT_CHARS)
    assert error["extensions"]["code"] == "document_too_large"
    # Depth counts through fragments.
    chain = "".join(f"fragment F{i} on Query {{ ...F{i + 1} }}\n" for i in range(5))
    deep = "tokenTransfers { edges { node { fromAccount { balances { a { b { c { d { e { f { g } } } } } } } } } } }"
    error = full.error("{ ...F0 }\n" + chain + f"fragment F5 on Query {{ {deep} }}")
    assert error["extensions"]["code"] == "query_too_deep"


def test_the_document_cache_is_bounded_in_characters() -> None:
    schema = schema_for(default_registry(), frozenset({"token_transfers"}))
    cache = DocumentCache(schema.graphql_schema, size=100, chars=2_000, refused_size=100, refused_chars=500)
    valid = [f"{{ _meta {{ latestLedger }} }}{' ' * 400}# {i}" for i in range(10)]
    for query in valid:
        assert cache.prepare(query).document is not None
    assert cache.held_chars <= 2_000
    assert cache.cached(valid[-1]) is not None and cache.cached(valid[0]) is None  # least recent gone
    # Refused documents have their own, smaller room: they never push out the valid ones.
    for i in range(20):
        assert cache.prepare(f"{{ nope{i} }}{' ' * 100}").document is None
    assert cache.cached(valid[-1]) is not None
    assert cache.held_chars <= 2_500


def test_costly_queries_are_refused_before_reading(full: GraphQLClient) -> None:
    nested = (
        "contractEvents(first: $n) { edges { node { id contract { storage(first: 100) { keyHash } } } } }"
    )
    query = "query($n: Int) { " + " ".join(f"a{i}: {nested}" for i in range(15)) + " }"
    error = full.error(query, n=100)
    assert error["extensions"] == {
        "code": "query_too_costly",
        "estimatedObjects": 156_000,
        "maxObjects": 25_000,
    }
    assert error["message"].startswith("this query may return about 156000 objects; at most 25000")
    # The same with smaller pages (a variable), or two aliases of the largest pages, is served.
    assert full.data(query, n=10)["a14"]["edges"]
    assert full.data("query($n: Int) { " + " ".join(f"a{i}: {nested}" for i in range(2)) + " }", n=100)


def test_the_cost_guard_reads_page_sizes_as_execution_does(full: GraphQLClient) -> None:
    # A page size left to a default is the default execution uses, not a small guess: the variable's own
    # default, then the schema argument's (`Contract.storage(first: Int! = 100)`).
    balances = "balances { asset } accountBalances { asset }"
    accounts = f"fromAccount {{ {balances} }} toAccount {{ {balances} }}"
    nested = f"tokenTransfers(first: $n) {{ edges {{ node {{ id {accounts} }} }} }}"
    aliased = " ".join(f"a{i}: {nested}" for i in range(15))
    for query, variables in (
        ("query($n: Int = 100) { " + aliased + " }", {}),
        ("{ " + aliased.replace("$n", "100") + " }", {}),
        ("query($n: Int = 10) { " + aliased + " }", {"n": 100}),
        # Variables that do not coerce are refused by execution: until then, the largest page is assumed.
        ("query($n: Int = 10) { " + aliased + " }", {"n": "ten"}),
    ):
        error = full.error(query, **variables)
        assert error["extensions"]["code"] == "query_too_costly", (query, variables, error)
        assert error["extensions"]["estimatedObjects"] == 127_500
    # A null page is the connection's default page (10).
    assert full.data("query($n: Int) { " + aliased + " }")["a14"]["edges"] is not None
    storage = "contractEvents(first: 20) { edges { node { id contract { storage { keyHash } } } } }"
    error = full.error("{ " + " ".join(f"a{i}: {storage}" for i in range(15)) + " }")
    assert error["extensions"] == {
        "code": "query_too_costly",
        "estimatedObjects": 31_200,
        "maxObjects": 25_000,
    }
    one = "query($n: Int = 10) { " + nested + " }"
    error = full.error(one, n="ten")
    assert "$n" in error["message"] and error["extensions"]["code"] != "query_too_costly", error


def test_a_dead_validation_process_is_replaced(
    full: GraphQLClient, app_client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    # Large uncached documents are validated in the pool's process; if it dies, the next ones are validated in
    # the API process's thread (one warning), and the next one after that starts a new process.
    pool = app_client.app.state.flow.validation_pool  # type: ignore[attr-defined]

    def large(text: str, n: int) -> str:
        return text + " " * POOL_CHARS + f"# {n} {os.urandom(4).hex()}"  # uncached

    assert full.data(large("{ _meta { latestLedger } }", 0))["_meta"]["latestLedger"] == LAST
    executor = pool._pool
    (dead,) = executor._processes
    os.kill(dead, signal.SIGKILL)
    with caplog.at_level(logging.WARNING, logger="obsrvr_flow.graphql"):
        assert full.data(large("{ _meta { latestLedger } }", 1))["_meta"]["latestLedger"] == LAST
        error = full.error(large("{ nope }", 2))  # refused, with its code, by the new process
    assert error["extensions"]["code"] == "graphql_validation_failed"
    assert error["message"].startswith("Cannot query field 'nope' on type 'Query'")
    assert pool._pool is not executor and dead not in pool._pool._processes
    gone = [r for r in caplog.records if "validation process is gone" in r.getMessage()]
    assert len(gone) == 1, caplog.records


def _new_document(n: int, text: str = "{ _meta { latestLedger } }") -> str:
    """A document prepared off the event loop, in the schema's thread (longer than `INLINE_CHARS`, not longer
    than `POOL_CHARS`), and not cached yet."""
    return text + " " * INLINE_CHARS + f"# {n} {os.urandom(4).hex()}"


def test_a_tenant_has_at_most_two_new_documents_in_preparation() -> None:
    cache = DocumentCache(schema_for(default_registry(), frozenset({"token_transfers"})).graphql_schema)

    async def prepare(*jobs: tuple[str, str]) -> list[Prepared | BaseException]:
        return await asyncio.gather(
            *(cache.prepare_async(q, None, t) for t, q in jobs), return_exceptions=True
        )

    first = [("a", _new_document(i)) for i in range(MAX_PREPARING + 1)]
    results = asyncio.run(prepare(*first, ("b", _new_document(9)), ("a", _new_document(10, "{ nope }"))))
    assert all(isinstance(r, Prepared) and r.document is not None for r in results[:MAX_PREPARING]), results
    refused = results[MAX_PREPARING]
    assert isinstance(refused, RateLimited), results
    assert (refused.status, refused.code, refused.headers) == (
        429,
        "too_many_concurrent_requests",
        {"Retry-After": "1"},
    )
    assert isinstance(results[-2], Prepared) and results[-2].document is not None  # another tenant's
    assert isinstance(results[-1], RateLimited)
    # Slots come back when the documents are prepared, valid or not; cached documents never take one.
    assert not cache._preparing
    again = asyncio.run(prepare(*first, ("a", _new_document(11, "{ nope }")), ("a", _new_document(12))))
    assert [type(r) for r in again] == [Prepared] * (MAX_PREPARING + 2) + [RateLimited], again
    assert again[MAX_PREPARING + 1].errors  # type: ignore[union-attr]
    assert not cache._preparing


def test_a_tenant_queues_at_most_two_new_documents_over_http(
    full: GraphQLClient, app_client: TestClient
) -> None:
    # The schema's preparation thread is held busy: the tenant's first two new documents wait in its queue, the
    # third is refused at once (429, in GraphQL's error shape); a document already prepared is still served.
    registry = default_registry()
    cache = schema_for(registry, frozenset(p.name for p in registry)).documents
    ready = _new_document(0)
    full.data(ready)  # cached now, and the thread exists
    release = threading.Event()

    async def attack() -> tuple[httpx.Response, httpx.Response, list[httpx.Response]]:
        blocked = asyncio.get_running_loop().run_in_executor(cache._thread, release.wait, 30)
        transport = httpx.ASGITransport(app=app_client.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:

            async def post(query: str) -> httpx.Response:
                return await client.post(full.path, json={"query": query}, headers=bearer(full.key))

            pending = [asyncio.ensure_future(post(_new_document(i))) for i in range(1, MAX_PREPARING + 2)]
            try:
                done, _ = await asyncio.wait(pending, timeout=5, return_when=asyncio.FIRST_COMPLETED)
                assert len(done) == 1, "no document refused while two wait"
                first = done.pop()
                refused = first.result()
                cached = await post(ready)
            finally:
                release.set()
                await blocked
            served = [await p for p in pending if p is not first]
        return refused, cached, served

    assert app_client.portal is not None
    refused, cached, served = app_client.portal.call(attack)
    assert refused.status_code == 429 and refused.headers["retry-after"] == "1"
    (error,) = refused.json()["errors"]
    assert error["extensions"]["code"] == "too_many_concurrent_requests"
    assert error["message"].startswith(f"at most {MAX_PREPARING} new GraphQL documents")
    assert cached.status_code == 200 and cached.json()["data"]["_meta"]["latestLedger"] == LAST
    assert [r.status_code for r in served] == [200] * MAX_PREPARING
    assert all(r.json()["data"]["_meta"]["latestLedger"] == LAST for r in served)
