"""What the archival tests compare before and after rows move to the cold tier: the answers of the real APIs
(GraphQL connections and REST routes of every processor, with every filter kind, both orders, small pages
across the cut-off), the derived answers (token balances from transfers, pair statistics), capped counts and
`obsrvr-flow export`; plus the loading of the 20 mainnet ledgers into a database of the test's own.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from starlette.testclient import TestClient
from typer.testing import CliRunner

from core.settings import Settings
from processors.registry import default_registry
from resolvers.row_types import camel
from services.archiving import ArchiveReport
from storage.cold.archival import ArchiveCut
from storage.db import create_engine
from storage.tables import metadata
from tests.api.helpers import bearer
from tests.mainnet_data import FIRST, FULL, LAST

MID = (FIRST + LAST) // 2 + 1  # the cut-off: ledgers before it are archived first
# The tenant of every processor: the tests load their own ledgers for it (`load`), or read and reconfigure it in
# a copy of the session's ingested ledgers (`tests.mainnet_data`).
TENANT = FULL
WINDOW = (MID - 1, MID)  # the ledgers read around the cut-off (the export reads every ledger)
SMALL, LARGE = 5, 100

# GraphQL field of each listing.
FIELDS = {
    "token_transfers": "tokenTransfers",
    "contract_events": "contractEvents",
    "account_balances": "accountBalances",
    "account_balances_current": "accountBalancesCurrent",
    "dex_trades": "dexTrades",
    "contract_data": "contractData",
    "contract_data_current": "contractDataCurrent",
    "dex_volume": "dexVolume",
    "dex_closed_candles": "dexClosedCandles",
    "token_balances": "tokenBalances",
}
# Filter field -> the column its value is taken from (the most common value, so it matches rows on both sides of
# the cut-off). `accounts` depends on the table.
COLUMN_OF = {
    "event_types": "event_type",
    "assets": "asset",
    "asset_code": "asset_code",
    "asset_issuer": "asset_issuer",
    "senders": "from",
    "receivers": "to",
    "contracts": "contract_id",
    "types": "type",
    "topic0": "topic0",
    "topic1": "topic1",
    "topic2": "topic2",
    "topic3": "topic3",
    "sources": "source",
    "pairs": "pair",
    "trade_types": "trade_type",
    "pool_ids": "pool_id",
    "key_symbols": "key_symbol",
    "key_hashes": "key_hash",
    "durability": "durability",
    "changes": "change",
    "successful": "in_successful_tx",
}
ACCOUNT_COLUMN = {"token_transfers": "to", "account_balances": "account_id", "dex_trades": "seller"}
MEDIAN_OF = {"min_amount": "amount_raw", "min_balance": "balance_raw"}
CONSTANT = {"include_deleted": True, "intervals": ["1m"], "exact": True}


def document(tenant_id: str = TENANT, **storage: Any) -> dict[str, Any]:
    """A tenant enabling every processor, its responses never cached (each answer shows its own sources)."""
    return {
        "customer": {
            "id": tenant_id,
            "name": tenant_id,
            "network": "pubnet",
            "processors": [{"type": p.type_name, "enabled": True, "config": {}} for p in default_registry()],
            "storage": storage,
            "api": {"rate_limit_per_minute": 1_000_000, "concurrent_requests": 100, "cache_ttl_seconds": 0},
        }
    }


async def load(url: str, ledgers: Path, pepper: str, tenant_doc: dict[str, Any], count: int = 20) -> str:
    """Ingest the first `count` of the 20 mainnet ledgers for the tenant of `tenant_doc` into the migrated
    database `url`, as `tests.mainnet_data` does; the secret of a read:* key."""
    from core.settings import Network
    from core.tenant_config import parse_tenant_config
    from ingest.engine import IngestEngine, plan_tenants
    from storage.api_keys import ApiKeyStore
    from storage.tenants import TenantStore
    from tests import corpus

    catalogue = default_registry().catalogue()
    engine = create_engine(url)
    try:
        config = parse_tenant_config(tenant_doc, catalogue)
        tenant_id = config.customer.id
        await TenantStore(engine).create(tenant_id, tenant_id, "pubnet", config.to_document())
        plans = plan_tenants([config], catalogue, Network.pubnet)
        results = corpus.tenant_results(ledgers, corpus.MAINNET_20[:count], plans)
        ingest = IngestEngine(engine, Network.pubnet, plans=plans)
        for start in range(0, len(results), 5):
            await ingest.write_batch(results[start : start + 5])
        return (await ApiKeyStore(engine, pepper).create(tenant_id)).secret
    finally:
        await engine.dispose()


async def archive(settings: Settings, tenant_id: str, cut: ArchiveCut) -> ArchiveReport:
    """Run the tenant's archival (`services.archiving.archive_tenant`, the default registry) into the cold
    store of `settings`, as the scheduled job does."""
    from services.archiving import archive_tenant
    from storage.cold.store import ColdStore
    from storage.tenants import TenantStore

    engine = create_engine(settings.database_url)
    store = ColdStore.from_settings(settings)
    try:
        record = await TenantStore(engine).get(tenant_id)
        assert record is not None
        return await archive_tenant(engine, store, default_registry(), record, cut=cut)
    finally:
        await store.close()
        await engine.dispose()


async def reconfigure(url: str, tenant_doc: dict[str, Any]) -> None:
    """Give the tenant of `tenant_doc` (one of the session's ingested ledgers, `tests.mainnet_data`) that
    configuration in the copy at `url`: its rows stay as they were ingested."""
    from core.tenant_config import parse_tenant_config
    from storage.tenants import TenantStore

    config = parse_tenant_config(tenant_doc, default_registry().catalogue())
    engine = create_engine(url)
    try:
        tenant_id = config.customer.id
        await TenantStore(engine).update(tenant_id, tenant_id, "pubnet", config.to_document())
    finally:
        await engine.dispose()


def table_rows(url: str, table: str, tenant: str) -> list[dict[str, Any]]:
    """The tenant's rows of `table` straight from the hot store (filter values are taken from them)."""

    async def run() -> list[dict[str, Any]]:
        engine = create_engine(url)
        try:
            async with engine.connect() as conn:
                chosen = metadata.tables[table]
                result = await conn.execute(select(chosen).where(chosen.c.tenant_id == tenant))
                return [dict(r) for r in result.mappings()]
        finally:
            await engine.dispose()

    return asyncio.run(run())


def _pick(rows: list[dict[str, Any]], column: str) -> Any:
    """A value of `column` found on both sides of the cut-off within the window, the rarest there (small,
    boundary-crossing answers: fewer pages to read), else the most common value."""
    sides = [
        Counter(r[column] for r in rows if r.get("ledger_sequence") == ledger and r.get(column) is not None)
        for ledger in WINDOW
    ]
    both = [(sides[0][v] + sides[1][v], str(v), v) for v in sides[0] if v in sides[1] and v != ""]
    return min(both)[2] if both else _top(rows, column)


def _top(rows: list[dict[str, Any]], column: str) -> Any:
    values = Counter(r[column] for r in rows if r.get(column) not in (None, ""))
    return values.most_common(1)[0][0] if values else None


def filter_variants(listing: Any, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One GraphQL filter per filter field of `listing` (its value from `rows`), and none."""
    variants: list[dict[str, Any]] = [{}]
    table = listing.table.name
    for name, info in listing.filters.model_fields.items():
        is_list = str(info.annotation).startswith("list")
        if name in CONSTANT:
            value: Any = CONSTANT[name]
        elif name in MEDIAN_OF:
            amounts = sorted(int(r[MEDIAN_OF[name]]) for r in rows if r.get(MEDIAN_OF[name]) is not None)
            value = str(amounts[len(amounts) * 9 // 10]) if amounts else None
        else:
            column = ACCOUNT_COLUMN.get(table, "account_id") if name == "accounts" else COLUMN_OF[name]
            value = _pick(rows, column)
            if value is not None and column == "asset" and not isinstance(value, str):
                value = str(value)
        if value is None:
            continue
        variants.append({camel(name): [value] if is_list and not isinstance(value, list) else value})
    return variants


@dataclass
class Answers:
    """Answers keyed by request, and the data sources each page reported with its row ids."""

    bodies: dict[str, Any] = field(default_factory=dict)
    pages: list[PageSources] = field(default_factory=list)


@dataclass(frozen=True)
class PageSources:
    """One REST page's `data_sources`, its row ids and table, and which side of the cut-off its range lies
    on (`before`: ledgers before MID - 1, `after`: from MID, None: both)."""

    label: str
    sources: tuple[str, ...]
    ids: list[str]
    table: str
    side: str | None


def _graphql(client: TestClient, key: str, query: str, variables: dict[str, Any]) -> Any:
    response = client.post(
        f"/api/v1/{TENANT}/graphql", json={"query": query, "variables": variables}, headers=bearer(key)
    )
    body = response.json()
    assert response.status_code == 200 and "errors" not in body, body
    return body["data"]


def _schema(client: TestClient, key: str) -> dict[str, tuple[str, str]]:
    """Every listing field's filter input type and the selection of its node's column fields."""
    query = '{ __type(name: "Query") { fields { name type { name } args { name type { name } } } } }'
    fields = _graphql(client, key, query, {})["__type"]["fields"]
    found = {}
    for f in fields:
        filter_type = next((a["type"]["name"] for a in f["args"] if a["name"] == "filter"), None)
        if filter_type is None or f["name"] not in FIELDS.values():
            continue
        node = str(f["type"]["name"]).removesuffix("Connection")
        node_fields = _graphql(client, key, f'{{ __type(name: "{node}") {{ fields {{ name }} }} }}', {})
        table = next(name for name, field_name in FIELDS.items() if field_name == f["name"])
        columns = {camel(c.name) for c in metadata.tables[_table_of(table)].columns}
        names = [x["name"] for x in node_fields["__type"]["fields"] if x["name"] in columns]
        found[f["name"]] = (filter_type, " ".join(names))
    return found


def _table_of(listing_name: str) -> str:
    return next(
        listing.table.name
        for p in default_registry()
        for listing in p.listings
        if listing.name == listing_name
    )


def _connection(
    client: TestClient,
    key: str,
    field_name: str,
    filter_type: str,
    selection: str,
    filter_: dict[str, Any],
    order: str,
    *,
    size: int = LARGE,
    after: str | None = None,
    pages: int | None = None,
) -> list[Any]:
    """The pages of a connection (`size` rows each, from `after`): every one, or the first `pages`."""
    query = (
        f"query($after: String, $filter: {filter_type}) "
        f"{{ {field_name}(first: {size}, after: $after, filter: $filter, order: {order}) "
        f"{{ edges {{ cursor node {{ {selection} }} }} pageInfo {{ hasNextPage endCursor }} }} }}"
    )
    read: list[Any] = []
    while pages is None or len(read) < pages:
        page = _graphql(client, key, query, {"after": after, "filter": filter_})[field_name]
        read.append(page)
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    return read


def _across(pages: list[Any]) -> tuple[str, str] | None:
    """Cursors three rows before and three rows after the ascending pages cross the cut-off: small pages start
    there, ascending and descending (a cursor is a position, valid in either direction)."""
    edges = [edge for page in pages for edge in page["edges"]]
    crossing = [i for i, edge in enumerate(edges) if edge["node"]["ledgerSequence"] >= MID]
    if not crossing or crossing[0] < 1:
        return None
    at = crossing[0]
    return str(edges[max(at - 3, 0)]["cursor"]), str(edges[min(at + 2, len(edges) - 1)]["cursor"])


def _rest(
    client: TestClient,
    key: str,
    path: str,
    params: dict[str, Any],
    answers: Answers,
    table: str,
    side: str | None = None,
) -> Any:
    """Every page of a REST list route; the bodies without timing and sources (recorded apart)."""
    pages, cursor = [], None
    label = f"REST {path} {sorted(params.items())}"
    while True:
        response = client.get(
            f"/api/v1/{TENANT}{path}",
            params={**params, **({"cursor": cursor} if cursor else {})},
            headers=bearer(key),
        )
        assert response.status_code == 200, response.text
        body = response.json()
        meta = body["metadata"]
        ids = [r["id"] for r in body["data"] if "id" in r]
        answers.pages.append(PageSources(label, tuple(meta.pop("data_sources")), ids, table, side))
        meta.pop("query_time_ms")
        pages.append(body)
        cursor = meta["next_cursor"]
        if cursor is None:
            return pages


def samples(url: str) -> dict[str, list[dict[str, Any]]]:
    """Every listing table's rows before archival: where filter values come from (read once: after archival
    the hot store no longer has them)."""
    tables = {listing.table.name for p in default_registry() for listing in p.listings}
    found = {table: table_rows(url, table, TENANT) for table in sorted(tables)}
    for table, rows in found.items():
        assert rows, f"the comparison needs rows of {table}"
    return found


def collect(
    client: TestClient, key: str, rows_of: dict[str, list[dict[str, Any]]], env: dict[str, str]
) -> Answers:
    """Every answer the archival must not change (see the module docstring)."""
    answers = Answers()
    schema = _schema(client, key)
    for processor in default_registry():
        for listing in processor.listings:
            table = listing.table.name
            field_name = FIELDS[listing.name]
            history = listing.kind == "history"
            for variant in filter_variants(listing, rows_of[table]):
                filter_ = {**variant, **({"fromLedger": WINDOW[0], "toLedger": WINDOW[1]} if history else {})}
                label = f"GraphQL {field_name} {json.dumps(filter_, sort_keys=True)}"
                args = (client, key, field_name, *schema[field_name], filter_)
                # Current tables stay hot (derived ones change by archival hooks): their first pages suffice.
                # History: every page ascending (descending too unfiltered), then small pages across the cut-off
                # both ways.
                for order in ("ASC",) if history and variant else ("ASC", "DESC"):
                    answers.bodies[f"{label} {order}"] = _connection(
                        *args, order, pages=None if history else 3
                    )
                starts = _across(answers.bodies[f"{label} ASC"]) if history else None
                if starts is not None:
                    for order, start in zip(("ASC", "DESC"), starts, strict=True):
                        answers.bodies[f"{label} {order} small"] = _connection(
                            *args, order, size=SMALL, after=start, pages=4
                        )
    _rest_routes(client, key, rows_of, answers)
    _derived(client, key, rows_of, answers)
    answers.bodies["export"] = export_all(env)
    return answers


def _rest_routes(
    client: TestClient, key: str, rows_of: dict[str, list[dict[str, Any]]], answers: Answers
) -> None:
    transfers, events = rows_of["token_transfers"], rows_of["contract_events"]
    balances, trades, data = rows_of["account_balances"], rows_of["dex_trades"], rows_of["contract_data"]
    base, counter = _top(trades, "pair").split("/")
    routes = [
        ("/token-transfers", {}, "token_transfers"),
        (
            "/token-transfers",
            {"account": _top(transfers, "to"), "event_type": "transfer,mint"},
            "token_transfers",
        ),
        ("/contract-events", {}, "contract_events"),
        (f"/contracts/{_top(events, 'contract_id')}/events", {}, "contract_events"),
        (f"/accounts/{_top(balances, 'account_id')}/balance-history", {}, "account_balances"),
        ("/dex/trades", {}, "dex_trades"),
        ("/dex/trades", {"base": base, "counter": counter}, "dex_trades"),
        (f"/contracts/{_top(data, 'contract_id')}/data", {}, "contract_data"),
        ("/dex/volume", {"interval": "1m"}, "dex_volume"),
    ]
    for path, params, table in routes:
        history = table != "dex_volume"
        for order in ("asc", "desc"):
            spans: list[tuple[dict[str, int], int, str | None]] = [({}, LARGE, None)]
            if history:
                spans = [
                    ({"from": WINDOW[0], "to": WINDOW[1]}, LARGE, None),
                    ({"from": MID - 2, "to": MID - 2}, LARGE, "before"),
                    ({"from": MID + 1, "to": MID + 1}, LARGE, "after"),
                ]
                if params or "{" in path or path.count("/") > 2:  # few rows: small pages across the cut-off
                    spans.append(({"from": WINDOW[0], "to": WINDOW[1]}, SMALL, None))
            for bounds, limit, side in spans:
                query = {**params, **{k: str(v) for k, v in bounds.items()}, "order": order, "limit": limit}
                answers.bodies[f"REST {path} {sorted(query.items())}"] = _rest(
                    client, key, path, query, answers, table, side
                )


def _derived(
    client: TestClient, key: str, rows_of: dict[str, list[dict[str, Any]]], answers: Answers
) -> None:
    """Balances computed from transfers (REST and GraphQL) and pair statistics over the whole range."""
    transfers, trades = rows_of["token_transfers"], rows_of["dex_trades"]
    for holder in {_top(transfers, "to"), _top(transfers, "from")}:
        answers.bodies[f"balances {holder}"] = _rest(
            client, key, f"/accounts/{holder}/token-balances", {"limit": SMALL}, answers, "token_balances"
        )
        answers.bodies[f"GraphQL balances {holder}"] = _graphql(
            client,
            key,
            "query($a: Address!) { account(address: $a) { balances { asset balanceRaw balance exact source } } }",
            {"a": holder},
        )
    pair = _top(trades, "pair")
    since = min(t["closed_at"] for t in trades).replace(second=0, microsecond=0).isoformat()
    until = max(t["closed_at"] for t in trades).isoformat()
    response = client.get(
        f"/api/v1/{TENANT}/dex/pairs/{pair.replace('/', '%2F')}/stats",
        params={"from": since, "to": until},
        headers=bearer(key),
    )
    assert response.status_code == 200, response.text
    body = response.json()
    body["metadata"].pop("query_time_ms", None)
    body["metadata"].pop("data_sources", None)
    answers.bodies["pair stats REST"] = body
    answers.bodies["pair stats GraphQL"] = _graphql(
        client,
        key,
        "query($p: [String!]!, $s: DateTime, $u: DateTime) { pairStats(pairs: $p, since: $s, until: $u) "
        "{ pair tradeCount baseVolume counterVolume open high low close vwap } }",
        {"p": [pair], "s": since, "u": until},
    )


def export_all(env: dict[str, str]) -> dict[str, str]:
    """`obsrvr-flow export` of every processor with a history table (settings: `env`)."""
    from obsrvr_flow.cli import app

    runner = CliRunner()
    outputs = {}
    for processor in default_registry():
        if not processor.archive:
            continue
        result = runner.invoke(app, ["export", "--tenant", TENANT, "--processor", processor.name], env=env)
        assert result.exit_code == 0, result.output
        outputs[processor.name] = result.stdout
        assert outputs[processor.name].strip(), f"export of {processor.name} is empty"
    return outputs


def assert_same(before: Answers, after: Answers) -> None:
    assert before.bodies.keys() == after.bodies.keys()
    for label, body in before.bodies.items():
        assert after.bodies[label] == body, label


def assert_sources(answers: Answers, watermarks: dict[str, str], *, everything: bool = False) -> None:
    """Each page reports the tiers its rows came from: `["hot"]` for a table without a watermark (and every
    current table); a page with a row at or below the table's watermark names "cold", one with a row above it
    "hot"; a range wholly before the cut-off reads only cold, one wholly after it only hot; once everything is
    archived (`everything`), every page with rows reads only cold."""
    for page in answers.pages:
        mark = watermarks.get(page.table)
        label, sources = page.label, list(page.sources)
        if mark is None:
            assert sources == ["hot"], (label, sources)
            continue
        assert sources in (["cold"], ["hot"], ["cold", "hot"]), (label, sources)
        if any(i <= mark for i in page.ids):
            assert "cold" in sources, (label, sources)
        if any(i > mark for i in page.ids):
            assert "hot" in sources, (label, sources)
        if page.side == "before" or (everything and page.ids):
            assert sources == ["cold"], (label, sources)
        if page.side == "after" and not everything:
            assert sources == ["hot"], (label, sources)
