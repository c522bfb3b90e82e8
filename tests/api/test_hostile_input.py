"""The hostile-input suite (issue 12): property-based requests on PostgreSQL and SQLite, none of which may get a
5xx, each refusal in the documented error shape.

One app per backend (module-scoped) serves two tenants over the project's sample ledgers: `full` enables every
processor, `partial` two of them. Hypothesis generates (strategies in `tests/hostile.py`): REST query and path
parameters of every route of each tenant's OpenAPI document, repeated or unknown ones included; forged cursors
(real fingerprints around hostile positions, and garbage); GraphQL documents from the tenant's own schema
(hypothesis-graphql) and hostile variables for every listing; tenant YAML sent to the admin API, and hostile
admin paths and queries. Schemathesis runs each tenant's OpenAPI document with the same hostile text as the
value of every parameter. Runs are deterministic (`tests.hostile.HOSTILE`); a failure prints its example.
"""

from __future__ import annotations

import base64
import json
import re
import shutil
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import graphql
import hypothesis_graphql
import orjson
import pytest
import schemathesis
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from starlette.testclient import TestClient

from obsrvr_flow.wiring import build_app
from tests.api.helpers import ACME_YAML, ADMIN, LOOPBACK, bearer, ingest_samples, settings_for
from tests.conftest import DatabaseSupply, _database_url
from tests.core.test_hostile_config import LINE
from tests.hostile import (
    CALENDAR_EDGES,
    EXAMPLES,
    HOSTILE,
    HUGE_INTEGERS,
    json_values,
    mutated_documents,
    nasty_text,
)
from tests.servers import wait_until

PARTIAL_TYPES = ["TokenTransferProcessor", "ContractEventProcessor"]
INTERNAL = "internal_error"


pytestmark = pytest.mark.heavy(219)


@dataclass
class Tenant:
    id: str
    key: str
    document: dict[str, Any]  # its OpenAPI document
    schema: graphql.GraphQLSchema  # its GraphQL schema, from introspection


@dataclass
class HostileApp:
    backend: str
    client: TestClient
    tenants: dict[str, Tenant]
    cursors: dict[str, str]  # REST list path of the full tenant -> a real next_cursor


def _tenant_yaml(tenant_id: str, types: list[str] | None = None) -> str:
    document = yaml.safe_load(ACME_YAML)
    customer = document["customer"]
    customer["id"] = tenant_id
    customer["api"].update(allowed_ips=[], rate_limit_per_minute=1_000_000, concurrent_requests=1000)
    if types is not None:
        customer["processors"] = [p for p in customer["processors"] if p["type"] in types]
        customer["api"]["webhook_events"] = ["token_transfer"]
    return str(yaml.safe_dump(document))


def _onboard(client: TestClient, tenant_id: str, types: list[str] | None = None) -> Tenant:
    response = client.post("/admin/tenants", content=_tenant_yaml(tenant_id, types), headers=ADMIN)
    assert response.status_code == 201, response.text
    key = response.json()["api_key"]["secret"]
    document = client.get(f"/api/v1/{tenant_id}/openapi.json", headers=bearer(key)).json()
    introspection = client.post(
        f"/api/v1/{tenant_id}/graphql",
        json={"query": graphql.get_introspection_query()},
        headers=bearer(key),
    ).json()
    return Tenant(tenant_id, key, document, graphql.build_client_schema(introspection["data"]))


def _list_paths(document: dict[str, Any]) -> list[str]:
    """The paths of list routes without path parameters (they take `cursor`)."""
    return [
        path
        for path, item in document["paths"].items()
        if "{" not in path and any(_name(p, document) == "cursor" for p in item["get"].get("parameters", []))
    ]


def _resolve(parameter: dict[str, Any], document: dict[str, Any]) -> dict[str, Any]:
    ref = parameter.get("$ref")
    if ref is None:
        return parameter
    node: Any = document
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    return dict(node)


def _name(parameter: dict[str, Any], document: dict[str, Any]) -> str:
    return str(_resolve(parameter, document)["name"])


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def hostile(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path
) -> Iterator[HostileApp]:
    folder = tmp_path_factory.mktemp("hostile")
    with ExitStack() as stack:
        if request.param == "sqlite":
            shutil.copyfile(sqlite_template, folder / "flow.db")
            url = f"sqlite+aiosqlite:///{folder / 'flow.db'}"
        else:
            supply: DatabaseSupply = request.getfixturevalue("migrated_databases")
            url = stack.enter_context(_database_url(supply))
        settings = settings_for(url, pubnet_source=str(folder / "samples"), decode_processes=1)
        client = stack.enter_context(
            TestClient(build_app(settings), client=LOOPBACK, raise_server_exceptions=False)
        )
        full = _onboard(client, f"full-{uuid.uuid4().hex[:6]}")
        partial = _onboard(client, f"partial-{uuid.uuid4().hex[:6]}", PARTIAL_TYPES)
        types = [p["type"] for p in yaml.safe_load(ACME_YAML)["customer"]["processors"]]
        ingest_samples(client, full.id, folder / "samples", types)
        cursors = {}
        for path in _list_paths(full.document):
            page = client.get(f"/api/v1/{full.id}{path}?limit=1", headers=bearer(full.key)).json()
            if page["metadata"]["next_cursor"]:
                cursors[path] = page["metadata"]["next_cursor"]
        assert "/token-transfers" in cursors, "the sample ledgers hold more than one transfer"
        yield HostileApp(request.param, client, {"full": full, "partial": partial}, cursors)


# --- what every answer must look like -------------------------------------------------------------------


def assert_rest_answer(response: Any) -> None:
    """No 5xx; a JSON body; an error in the documented shape, a 400 naming its parameter."""
    assert response.status_code < 500, response.text
    body = response.json()
    if response.status_code < 300:
        # A listing or record (`data`), discovery (`customer_id`) or the usage report (`processors`).
        assert "data" in body or "customer_id" in body or "processors" in body, body
        return
    error = body["error"]
    assert isinstance(error["code"], str) and error["code"] != INTERNAL, body
    assert isinstance(error["message"], str), body
    if response.status_code == 400:
        assert isinstance(error.get("parameter"), str), body
        assert error["message"].startswith(f"{error['parameter']}: "), body


def assert_graphql_answer(response: Any) -> None:
    """No 5xx; GraphQL's shape; no internal error; ``data`` present (maybe null) once execution ran."""
    assert response.status_code < 500, response.text
    body = response.json()
    assert set(body) <= {"data", "errors"}, body
    errors = body.get("errors", [])
    for error in errors:
        assert isinstance(error["message"], str), body
        assert error["extensions"]["code"] != INTERNAL, body
    if response.status_code != 200:
        assert errors, body
    if any("path" in error for error in errors):
        assert "data" in body, body


# --- REST ----------------------------------------------------------------------------------------------


def _quote(text: str) -> str:
    # What a client that percent-encodes raw bytes sends: lone surrogates become their (invalid) UTF-8 bytes.
    return quote(text, safe="", errors="surrogatepass")


@st.composite
def rest_requests(draw: st.DrawFn, document: dict[str, Any]) -> str:
    """A path (with query string) of one of the document's operations, every value hostile or plausible."""
    path = draw(st.sampled_from(sorted(document["paths"])))
    parameters = [_resolve(p, document) for p in document["paths"][path]["get"].get("parameters", [])]
    plausible = st.sampled_from(["native", "1", "10", "asc", "desc", "true", "2025-01-01", "now"])
    values = st.one_of(
        nasty_text(),
        st.sampled_from(CALENDAR_EDGES),
        st.sampled_from(HUGE_INTEGERS).map(str),
        plausible,
    )
    for parameter in parameters:
        if parameter["in"] == "path":
            value = draw(st.one_of(nasty_text(), st.just("native/USDC:G" + "A" * 55)))
            path = path.replace("{" + parameter["name"] + "}", _quote(value) or "x")
    names = [p["name"] for p in parameters if p["in"] == "query"]
    pairs = draw(
        st.lists(
            st.tuples(
                st.one_of(st.sampled_from(names or ["limit"]), nasty_text()),
                values,
            ),
            max_size=5,
        )
    )
    query = "&".join(f"{_quote(name)}={_quote(value)}" for name, value in pairs)
    return f"{path}?{query}" if query else path


@pytest.mark.parametrize("tenant", ["full", "partial"])
def test_rest_parameters_never_get_a_server_error(hostile: HostileApp, tenant: str) -> None:
    chosen = hostile.tenants[tenant]

    @HOSTILE
    @given(target=rest_requests(chosen.document))
    def run(target: str) -> None:
        response = hostile.client.get(f"/api/v1/{chosen.id}{target}", headers=bearer(chosen.key))
        assert_rest_answer(response)

    run()


@st.composite
def forged_cursors(draw: st.DrawFn, real: str) -> str:
    """A cursor around a real one's fingerprint with a hostile position, or garbage."""
    padded = real + "=" * (-len(real) % 4)
    fingerprint, _, position = base64.urlsafe_b64decode(padded).decode().partition("|")
    forged_position = draw(
        st.one_of(
            nasty_text(),
            st.lists(json_values(), max_size=4).map(json.dumps),
            st.just(position[::-1]),
            st.just(position + "0"),
            st.just(re.sub(r"\d", "9", position)),
            st.just(position.replace("-", "")),
        )
    )
    raw = f"{draw(st.sampled_from([fingerprint, fingerprint[:-1], '']))}|{forged_position}"
    encoded = base64.urlsafe_b64encode(raw.encode("utf-8", "surrogatepass")).decode().rstrip("=")
    return draw(st.one_of(st.just(encoded), nasty_text(surrogates=False), st.just(real + "A")))


AFTER_QUERY = "query($c: String) { tokenTransfers(after: $c) { nodes { id } } }"


def test_forged_cursors_are_refused_naming_the_parameter(hostile: HostileApp) -> None:
    full = hostile.tenants["full"]
    routes = sorted(hostile.cursors)

    @HOSTILE
    @given(data=st.data())
    def run(data: st.DataObject) -> None:
        path = data.draw(st.sampled_from(routes))
        cursor = data.draw(forged_cursors(hostile.cursors[path]))
        response = hostile.client.get(
            f"/api/v1/{full.id}{path}?cursor={_quote(cursor)}", headers=bearer(full.key)
        )
        assert_rest_answer(response)
        if response.status_code == 400:
            assert response.json()["error"]["parameter"] == "cursor"
        # The same cursor on GraphQL, as `after` of the listing (every listing takes one).
        answer = hostile.client.post(
            f"/api/v1/{full.id}/graphql",
            json={
                "query": "query($c: String) { tokenTransfers(after: $c) { nodes { id } } }",
                "variables": {"c": cursor},
            },
            headers=bearer(full.key),
        )
        assert_graphql_answer(answer)
        for error in answer.json().get("errors", []):
            if error["extensions"]["code"] in ("invalid_cursor", "cursor_filters_mismatch"):
                assert error["extensions"]["parameter"] == "after"

    run()


# --- GraphQL -------------------------------------------------------------------------------------------


def _string_node(text: str) -> graphql.StringValueNode:
    return graphql.StringValueNode(value=text)


CUSTOM_SCALARS = {
    name: nasty_text().map(_string_node) for name in ("BigInt", "DateTime", "Address", "Asset", "JSON")
}


@pytest.mark.parametrize("tenant", ["full", "partial"])
def test_graphql_documents_never_get_a_server_error(hostile: HostileApp, tenant: str) -> None:
    chosen = hostile.tenants[tenant]
    queries = hypothesis_graphql.from_schema(chosen.schema, custom_scalars=CUSTOM_SCALARS)
    negative = hypothesis_graphql.from_schema(
        chosen.schema, custom_scalars=CUSTOM_SCALARS, mode=hypothesis_graphql.Mode.NEGATIVE
    )

    @HOSTILE
    @given(query=st.one_of(queries, negative, nasty_text()), get=st.booleans())
    def run(query: str, get: bool) -> None:
        if get:  # the same document as GET's query parameter
            answer = hostile.client.get(
                f"/api/v1/{chosen.id}/graphql?query={_quote(query)}", headers=bearer(chosen.key)
            )
            assert_graphql_answer(answer)
            return
        response = hostile.client.post(
            f"/api/v1/{chosen.id}/graphql",
            content=json.dumps({"query": query}),
            headers={
                **bearer(chosen.key),
                "Content-Type": "application/json",
            },
        )
        assert_graphql_answer(response)

    run()


def _listing_fields(schema: graphql.GraphQLSchema) -> list[tuple[str, str, list[str]]]:
    """(field, its filter input type, the input's field names) of every connection field of the schema."""
    out = []
    assert schema.query_type is not None
    for name, field in schema.query_type.fields.items():
        argument = field.args.get("filter")
        if argument is None:
            continue
        input_type = graphql.get_named_type(argument.type)
        assert isinstance(input_type, graphql.GraphQLInputObjectType)
        out.append((name, input_type.name, sorted(input_type.fields)))
    return out


def test_graphql_variables_never_get_a_server_error(hostile: HostileApp) -> None:
    full = hostile.tenants["full"]
    listings = _listing_fields(full.schema)
    cursor = st.one_of(nasty_text(surrogates=False), st.sampled_from(sorted(hostile.cursors.values())))

    @HOSTILE
    @given(data=st.data())
    def run(data: st.DataObject) -> None:
        field, input_type, names = data.draw(st.sampled_from(listings))
        filter_value = data.draw(
            st.one_of(
                st.dictionaries(st.sampled_from(names), json_values(surrogates=False), max_size=4),
                json_values(surrogates=False),
            )
        )
        variables = {
            "f": filter_value,
            "first": data.draw(st.one_of(st.none(), json_values(surrogates=False))),
            "after": data.draw(st.one_of(st.none(), cursor)),
        }
        document = (
            f"query($f: {input_type}, $first: Int, $after: String) "
            f"{{ {field}(filter: $f, first: $first, after: $after) {{ nodes {{ __typename }} "
            "pageInfo { endCursor } } }"
        )
        response = hostile.client.post(
            f"/api/v1/{full.id}/graphql",
            content=json.dumps({"query": document, "variables": variables}),
            headers={**bearer(full.key), "Content-Type": "application/json"},
        )
        assert_graphql_answer(response)

    run()


PAIR_STATS_QUERY = (
    "query($s: DateTime, $u: DateTime, $p: [String!]!) "
    "{ pairStats(pairs: $p, since: $s, until: $u) { tradeCount } }"
)


def test_pair_stats_windows_at_the_calendar_edges(hostile: HostileApp) -> None:
    full = hostile.tenants["full"]
    pair = "native/USDC:GA5ZSEJYB37JRC5AVCIA5MOP4RHTM335X2KGX3IHOJAPP5RE34K4KZVN"
    instants = st.one_of(st.none(), st.sampled_from(CALENDAR_EDGES), nasty_text(surrogates=False))

    @HOSTILE
    @given(since=instants, until=instants)
    def run(since: str | None, until: str | None) -> None:
        response = hostile.client.post(
            f"/api/v1/{full.id}/graphql",
            json={
                "query": PAIR_STATS_QUERY,
                "variables": {"s": since, "u": until, "p": [pair]},
            },
            headers=bearer(full.key),
        )
        assert_graphql_answer(response)
        params = {name: value for name, value in (("from", since), ("to", until)) if value is not None}
        rest = hostile.client.get(
            f"/api/v1/{full.id}/dex/pairs/{quote(pair, safe='')}/stats",
            params=params,
            headers=bearer(full.key),
        )
        assert_rest_answer(rest)

    run()


# --- admin ---------------------------------------------------------------------------------------------


def test_hostile_tenant_documents_to_the_admin_api(hostile: HostileApp) -> None:
    @HOSTILE
    @given(document=mutated_documents(yaml.safe_load(_tenant_yaml("t-hostile"))), as_json=st.booleans())
    def run(document: dict[str, Any], as_json: bool) -> None:
        try:
            body = orjson.dumps(document) if as_json else yaml.safe_dump(document).encode()
        except (TypeError, UnicodeEncodeError):  # a lone surrogate cannot be written as JSON: YAML then
            body = yaml.safe_dump(document).encode()
        response = hostile.client.post("/admin/tenants", content=body, headers=ADMIN)
        assert response.status_code in (201, 400, 409, 422), response.text
        if response.status_code == 201:
            tenant_id = response.json()["tenant"]["id"]
            assert hostile.client.delete(f"/admin/tenants/{tenant_id}", headers=ADMIN).status_code == 202
            # The id is free again once the queued purge has finished (409 `tenant_purging` until then).
            wait_until(
                lambda: hostile.client.get(f"/admin/tenants/{tenant_id}", headers=ADMIN).status_code == 404,
                30,
                "the purge of the tenant",
            )
        else:
            error = response.json()["error"]
            assert error["code"] != INTERNAL
            if response.status_code == 422:
                assert all(LINE.match(line) for line in error["errors"]), error

    run()


def test_hostile_admin_paths_and_queries(hostile: HostileApp) -> None:
    full = hostile.tenants["full"]

    @HOSTILE
    @given(value=nasty_text(), other=nasty_text(), which=st.integers(0, 5))
    def run(value: str, other: str, which: int) -> None:
        q = _quote(value)
        client = hostile.client
        target = [
            ("GET", f"/admin/tenants/{q}"),
            ("GET", f"/admin/tenants/{q}/ingestion"),
            ("DELETE", f"/admin/tenants/{full.id}/keys/{q}"),
            ("GET", f"/admin/audit?tenant_id={q}&action={_quote(other)}"),
            ("GET", f"/admin/audit?limit={q}"),
            ("POST", f"/admin/tenants/{q}/backfill"),
        ][which]
        response = client.request(*target, headers=ADMIN)
        assert response.status_code < 500, response.text
        assert response.json()["error"]["code"] != INTERNAL if response.status_code >= 400 else True
        # json.dumps writes a lone surrogate as its escape, which is not valid JSON text for the server.
        body = json.dumps({"name": value, "scopes": [other]})
        named = client.post(
            f"/admin/tenants/{full.id}/keys",
            content=body,
            headers={**ADMIN, "Content-Type": "application/json"},
        )
        assert named.status_code in (201, 400), named.text
        assert named.json()["error"]["code"] != INTERNAL if named.status_code == 400 else True

    run()


# --- schemathesis --------------------------------------------------------------------------------------

HOSTILE_FORMAT = "obsrvr-hostile-text"
schemathesis.openapi.format(HOSTILE_FORMAT, nasty_text(surrogates=False))


def _hostile_document(document: dict[str, Any]) -> dict[str, Any]:
    """`document` with every parameter's schema replaced by hostile text (responses kept, so that the answers
    are still checked against the document)."""
    copy: dict[str, Any] = orjson.loads(orjson.dumps(document))
    for parameters in [
        copy["components"]["parameters"],
        *(
            {str(i): p for i, p in enumerate(item["get"].get("parameters", []))}
            for item in copy["paths"].values()
        ),
    ]:
        for parameter in parameters.values():
            if "schema" in parameter:
                parameter["schema"] = {"type": "string", "format": HOSTILE_FORMAT}
    return copy


@pytest.mark.parametrize("tenant", ["full", "partial"])
def test_schemathesis_with_hostile_values(hostile: HostileApp, tenant: str) -> None:
    chosen = hostile.tenants[tenant]
    schema = schemathesis.openapi.from_dict(_hostile_document(chosen.document))
    base = f"http://testserver/api/v1/{chosen.id}"
    checks = [
        not_a_server_error,
        status_code_conformance,
        content_type_conformance,
        response_schema_conformance,
    ]
    for result in schema.get_all_operations():
        operation = result.ok()

        @settings(HOSTILE, max_examples=max(5, EXAMPLES // 3))  # per operation: a dozen operations per tenant
        @given(case=operation.as_strategy())
        def run(case: schemathesis.Case) -> None:
            kwargs = case.as_transport_kwargs(base_url=base, headers=bearer(chosen.key))
            response = hostile.client.request(
                kwargs["method"], kwargs["url"], params=kwargs.get("params"), headers=kwargs.get("headers")
            )
            case.validate_response(response, checks=checks)
            assert_rest_answer(response)

        run()


# --- the cases the issue reported, by name -------------------------------------------------------------

PAIR_PATH = "/dex/pairs/native%2FUSDC:GA5ZSEJYB37JRC5AVCIA5MOP4RHTM335X2KGX3IHOJAPP5RE34K4KZVN/stats"
REPORTED_REST = [
    # (path and query, status, the parameter a 400 names)
    ("/token-transfers?asset_code=%00", 400, "asset_code"),
    ("/contract-events?topic2=%00", 400, "topic2"),
    ("/token-transfers?from=0001-01-01T00:00:00%2B01:00", 200, None),
    ("/token-transfers?to=9999-12-31T23:59:59.999999-01:00", 200, None),
    ("/dex/trades?from=0001-01-01T00:00:00%2B01:00&to=9999-12-31T23:59:59.999999-01:00", 200, None),
    ("/contract-events?to=0001-01-01", 200, None),
    (f"{PAIR_PATH}?from=9999-12-31", 400, "from"),
    (f"{PAIR_PATH}?to=0001-01-01", 200, None),
    (f"{PAIR_PATH}?to=9999-12-31T23:59:59.999999-01:00", 200, None),
    ("/token-transfers?limit=5&limit=7", 400, "limit"),
    ("/token-transfers?from=1&from=2", 400, "from"),
    ("/token-transfers?order=asc&order=desc", 400, "order"),
    ("/token-transfers?limit=" + "9" * 5000, 400, "limit"),
    ("/token-transfers?from=" + "9" * 5000, 400, "from"),
    ("/token-transfers?cursor=xx", 400, "cursor"),
    ("/token-transfers?min_amount=" + str(2**64), 200, None),
    ("/token-transfers?min_amount=" + "9" * 39, 200, None),
    ("/token-transfers?min_amount=" + "1" + "0" * 39, 400, "min_amount"),
]


@pytest.mark.parametrize(
    ("target", "status", "parameter"), REPORTED_REST, ids=[t[0][:60] for t in REPORTED_REST]
)
def test_reported_rest_cases(hostile: HostileApp, target: str, status: int, parameter: str | None) -> None:
    full = hostile.tenants["full"]
    response = hostile.client.get(f"/api/v1/{full.id}{target}", headers=bearer(full.key))
    assert response.status_code == status, response.text
    assert_rest_answer(response)
    if parameter is not None:
        assert response.json()["error"]["parameter"] == parameter


def test_a_cursor_with_an_amount_past_64_bits(hostile: HostileApp) -> None:
    """The fingerprint of a query holding a raw amount past 2^64 (what a cursor is checked against)."""
    full = hostile.tenants["full"]
    path = f"/api/v1/{full.id}/token-transfers"
    first = hostile.client.get(f"{path}?limit=1&min_amount=1", headers=bearer(full.key)).json()
    cursor = first["metadata"]["next_cursor"]
    assert cursor is not None
    response = hostile.client.get(f"{path}?min_amount={2**100}&cursor={cursor}", headers=bearer(full.key))
    assert response.status_code == 400 and response.json()["error"]["code"] == "cursor_filters_mismatch"
    assert response.json()["error"]["parameter"] == "cursor"
    body = graphql_call(
        hostile, f'{{ tokenTransfers(filter: {{minAmount: "{2**100}"}}) {{ pageInfo {{ endCursor }} }} }}'
    )
    assert body == {"data": {"tokenTransfers": {"pageInfo": {"endCursor": None}}}}


def graphql_call(hostile: HostileApp, query: str, **variables: Any) -> dict[str, Any]:
    full = hostile.tenants["full"]
    response = hostile.client.post(
        f"/api/v1/{full.id}/graphql", json={"query": query, "variables": variables}, headers=bearer(full.key)
    )
    assert_graphql_answer(response)
    body: dict[str, Any] = response.json()
    return body


def test_reported_graphql_cases(hostile: HostileApp) -> None:
    big = str(2**64)
    for field, argument in (("tokenTransfers", "minAmount"), ("accountBalances", "minBalance")):
        body = graphql_call(hostile, f'{{ {field}(filter: {{{argument}: "{big}"}}) {{ nodes {{ id }} }} }}')
        assert body == {"data": {field: {"nodes": []}}}
        too_big = graphql_call(
            hostile, f'{{ {field}(filter: {{{argument}: "1{"0" * 39}"}}) {{ nodes {{ id }} }} }}'
        )
        assert too_big["errors"][0]["extensions"]["parameter"] == f"filter.{argument}"
    for edge in ("0001-01-01T00:00:00Z", "9999-12-31T23:59:59.999999-01:00"):
        stats = graphql_call(
            hostile,
            f'{{ pairStats(pairs: ["native/USDC:{"G" + "A" * 55}"], until: "{edge}") {{ tradeCount }} }}',
        )
        assert "errors" not in stats or stats["errors"][0]["extensions"]["code"] != INTERNAL
    for name, value in (("fromLedger", -5), ("toLedger", 0)):
        refused = graphql_call(
            hostile, f"{{ tokenTransfers(filter: {{{name}: {value}}}) {{ nodes {{ id }} }} }}"
        )
        error = refused["errors"][0]["extensions"]
        assert error["code"] == "invalid_parameter" and error["parameter"] == f"filter.{name}"
    for argument, query in (
        ("after", '{ tokenTransfers(after: "xx") { nodes { id } } }'),
        ("before", '{ tokenTransfers(last: 2, before: "xx") { nodes { id } } }'),
    ):
        error = graphql_call(hostile, query)["errors"][0]["extensions"]
        assert error == {"code": "invalid_cursor", "parameter": argument}
    # Documents Strawberry's limit rules raised on (found by this suite): refused like any invalid document.
    for document, message in (
        ("{}", "a selection set cannot be empty"),
        ("{ ...F }", "Unknown fragment 'F'."),
    ):
        refused = graphql_call(hostile, document)
        assert "data" not in refused and refused["errors"][0]["message"] == message
        assert refused["errors"][0]["extensions"]["code"] == "graphql_validation_failed"
    # A non-null root field's error makes `data` null (the GraphQL spec), not absent.
    bubbled = graphql_call(hostile, "{ pairStats(pairs: []) { tradeCount } }")
    assert bubbled["data"] is None and bubbled["errors"][0]["extensions"]["parameter"] == "pairs"


def _nested(depth: int) -> Any:
    value: Any = "x"
    for _ in range(depth):
        value = [value]
    return value


def test_values_nested_too_deeply(hostile: HostileApp) -> None:
    """Found by an attacker's pass: GraphQL variables nested ~300 levels deep broke the response cache's
    canonical JSON (orjson writes at most 254 levels), and a tenant document ~950 deep the check of its text
    (RecursionError): 500s. Both are refused before anything walks them: 400 `too_deeply_nested`, or the
    tenant parser's problem line (422 from the admin API, `valid: false` from the console's check)."""
    full = hostile.tenants["full"]
    query = "{ _meta { latestLedger } }"  # variables it does not declare are ignored, but were fingerprinted
    refused = hostile.client.post(
        f"/api/v1/{full.id}/graphql",
        content=json.dumps({"query": query, "variables": {"a": _nested(300)}}),
        headers={**bearer(full.key), "Content-Type": "application/json"},
    )
    assert refused.status_code == 400, refused.text
    assert refused.json()["errors"][0]["extensions"]["code"] == "too_deeply_nested"
    assert refused.json()["errors"][0]["message"] == "the body is nested more than 64 levels deep"
    variables = quote(json.dumps({"a": _nested(300)}))  # orjson writes at most 254 levels
    by_get = hostile.client.get(
        f"/api/v1/{full.id}/graphql?query={quote(query)}&variables={variables}", headers=bearer(full.key)
    )
    assert by_get.status_code == 400, by_get.text
    assert by_get.json()["errors"][0]["message"] == "variables is nested more than 64 levels deep"
    document = yaml.safe_load(_tenant_yaml(f"t-{uuid.uuid4().hex[:6]}"))
    document["customer"]["name"] = _nested(300)
    text = json.dumps(document).encode()
    created = hostile.client.post("/admin/tenants", content=text, headers=ADMIN)
    assert created.status_code == 422, created.text
    assert created.json()["error"]["errors"] == ["document: is nested more than 64 levels deep"]
    checked = hostile.client.post("/admin/tenants/validate", content=text, headers=ADMIN)
    assert checked.status_code == 200, checked.text
    assert checked.json() == {"valid": False, "errors": ["document: is nested more than 64 levels deep"]}


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("a\x00b", "name: contains a NUL character"),
        ("", "name: must be a string of 1 to 100 characters"),
    ],
    ids=["nul", "empty"],
)
def test_a_key_name_the_database_cannot_store_is_a_400(hostile: HostileApp, name: str, message: str) -> None:
    """Found by an attacker's pass: a key named with a NUL was created on SQLite (PostgreSQL refuses NUL in
    text: a 500 there)."""
    response = hostile.client.post(
        f"/admin/tenants/{hostile.tenants['full'].id}/keys",
        content=json.dumps({"name": name}),
        headers={**ADMIN, "Content-Type": "application/json"},
    )
    assert response.status_code == 400, response.text
    assert response.json()["error"] == {"code": "invalid_body", "message": message}


def test_discovery_advertises_websocket_subscriptions(hostile: HostileApp) -> None:
    full = hostile.tenants["full"]
    body = hostile.client.get(f"/api/v1/{full.id}/", headers=bearer(full.key)).json()
    assert body["graphql_ws_url"].startswith("ws://") and body["graphql_ws_url"].endswith("/graphql")
    assert "onTokenTransfer" in {s["field"] for s in body["subscriptions"]}
    assert any(e["method"] == "WebSocket" for e in body["available_endpoints"])


@pytest.mark.parametrize(
    ("method", "target", "parameter"),
    [
        ("GET", "/admin/tenants/a%00b", "tenant_id"),
        ("GET", "/admin/tenants/a%00b/ingestion", "tenant_id"),
        ("PUT", "/admin/tenants/a%00b", "tenant_id"),
        ("DELETE", "/admin/tenants/a%00b", "tenant_id"),
        ("POST", "/admin/tenants/a%00b/backfill", "tenant_id"),
        ("POST", "/admin/tenants/a%00b/keys", "tenant_id"),
        ("DELETE", "/admin/tenants/abc/keys/k%00", "key_id"),
        ("GET", "/admin/audit?tenant_id=%00", "tenant_id"),
        ("GET", "/admin/audit?action=a%00", "action"),
        ("GET", "/admin/audit?limit=" + "1" * 5000, "limit"),
    ],
)
def test_reported_admin_cases(hostile: HostileApp, method: str, target: str, parameter: str) -> None:
    response = hostile.client.request(method, target, headers=ADMIN)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["parameter"] == parameter


@pytest.mark.parametrize(
    ("change", "line"),
    [
        ({"name": "Acme\x00"}, "customer.name: contains a NUL character"),
        ({"name": "Acme\ud800"}, "customer.name: contains a lone surrogate (not valid Unicode text)"),
        (
            {"api": {"rate_limit_per_minute": 2**63 - 1}},
            "customer.api.rate_limit_per_minute: must be <= 1000000",
        ),
    ],
    ids=["nul", "surrogate", "rate-limit"],
)
def test_reported_tenant_documents_are_422_naming_the_path(
    hostile: HostileApp, change: dict[str, Any], line: str
) -> None:
    document = yaml.safe_load(_tenant_yaml(f"t-{uuid.uuid4().hex[:6]}"))
    for key, value in change.items():
        if isinstance(value, dict):
            document["customer"][key].update(value)
        else:
            document["customer"][key] = value
    for send in (hostile.client.post, hostile.client.put):
        target = (
            "/admin/tenants"
            if send == hostile.client.post
            else f"/admin/tenants/{hostile.tenants['full'].id}"
        )
        response = send(target, content=yaml.safe_dump(document).encode(), headers=ADMIN)
        assert response.status_code == 422, response.text
        assert line in response.json()["error"]["errors"]


def test_a_nul_in_a_request_path_is_audited_escaped(hostile: HostileApp) -> None:
    """The audit log records the path a client sent: a NUL in it must not make the batch unwritable (a failed
    batch stays buffered, so every later entry would be lost with it)."""
    full = hostile.tenants["full"]
    marker = uuid.uuid4().hex[:8]
    response = hostile.client.get(
        f"/api/v1/{full.id}/accounts/{marker}%00/token-balances", headers=bearer(full.key)
    )
    assert response.status_code == 400
    audit = hostile.client.get(f"/admin/audit?tenant_id={full.id}&limit=1000", headers=ADMIN)
    assert audit.status_code == 200, audit.text
    paths = [row["path"] for row in audit.json()["data"]]
    assert f"/api/v1/{full.id}/accounts/{marker}\\x00/token-balances" in paths


@st.composite
def header_bytes(draw: st.DrawFn) -> bytes:
    """Header values as raw bytes: NUL, invalid UTF-8 (a lone surrogate's bytes), Latin-1, overlong."""
    text = draw(nasty_text())
    return draw(
        st.sampled_from(
            [
                text.encode("utf-8", "surrogatepass"),
                b"Bearer " + text.encode("utf-8", "surrogatepass"),
                b"Bearer ofk_" + text.encode("utf-8", "surrogatepass")[:43].ljust(43, b"A"),
                b"\x00" * draw(st.integers(1, 3)),
            ]
        )
    )


def test_hostile_headers(hostile: HostileApp) -> None:
    full = hostile.tenants["full"]

    @HOSTILE
    @given(
        name=st.sampled_from(["authorization", "x-request-id", "content-type", "accept"]),
        value=header_bytes(),
    )
    def run(name: str, value: bytes) -> None:
        headers = [(b"authorization", f"Bearer {full.key}".encode())] if name != "authorization" else []
        headers.append((name.encode(), value))
        rest = hostile.client.get(f"/api/v1/{full.id}/token-transfers", headers=headers)
        assert_rest_answer(rest)
        answer = hostile.client.post(
            f"/api/v1/{full.id}/graphql", content=b'{"query": "{ _meta { latestLedger } }"}', headers=headers
        )
        assert_graphql_answer(answer)

    run()
