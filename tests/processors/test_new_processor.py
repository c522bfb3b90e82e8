"""Adding a processor is its folder (plus its migration and one line in a registry): the throw-away widget
processor of the test tree (`tests.processors.widgets`), never named by any core file, is ingested by the engine
and served by both APIs, its route and webhook event are in the tenant's discovery and OpenAPI document. And a
processor that does not fit — its table missing from the database, a GraphQL name another processor holds —
stops the app at start-up with a message naming it."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path
from typing import Any

import pytest
import yaml
from starlette.testclient import TestClient

from core.settings import Network
from core.tenant_config import parse_tenant_config
from ingest.engine import IngestEngine, plan_tenants
from ingest.stream import ingest_stream
from ledgers.samples import ensure_sample_datastore
from ledgers.sources import open_source
from obsrvr_flow.wiring import build_app
from processors.registry import Registry, default_registry
from resolvers.connection import listing_field
from resolvers.parts import GraphQLParts, SchemaParts
from resolvers.row_types import column_fields, object_type
from storage.db import create_engine
from tests.api.helpers import ADMIN, bearer, settings_for, sql
from tests.processors import widgets
from tests.processors.widgets.query import WIDGETS
from tests.processors.widgets.table import WIDGETS_METADATA
from tests.processors.widgets.table import widgets as widget_table

TENANT = "widget-shop"


def with_widgets(*extra: Any) -> Registry:
    return Registry([*default_registry().processors, widgets.processor, *extra])


def create_widget_table(url: str) -> None:
    """The widget processor's "migration"."""

    async def run() -> None:
        engine = create_engine(url)
        try:
            async with engine.begin() as conn:
                await conn.run_sync(WIDGETS_METADATA.create_all)
        finally:
            await engine.dispose()

    asyncio.run(run())


def tenant_document(**processors: dict[str, Any]) -> dict[str, Any]:
    return {
        "customer": {
            "id": TENANT,
            "name": "Widget shop",
            "network": "pubnet",
            "processors": [{"type": name, "config": config} for name, config in processors.items()],
            "api": {
                "webhook_url": "https://shop.example/hooks",
                "webhook_events": ["widget_made", "token_transfer"],
            },
        }
    }


def ingest_samples(url: str, registry: Registry, document: dict[str, Any], folder: Path) -> None:
    info = ensure_sample_datastore(folder)
    config = parse_tenant_config(document, registry.catalogue())

    async def run() -> None:
        engine = create_engine(url)
        source = await open_source(str(folder), Network.pubnet)
        try:
            plans = plan_tenants([config], registry.catalogue(), Network.pubnet)
            await ingest_stream(
                source.ledgers(info.first_ledger, info.last_ledger),
                IngestEngine(engine, Network.pubnet, plans=plans),
            )
        finally:
            await source.close()
            await engine.dispose()

    asyncio.run(run())


def test_a_processor_from_the_test_tree_is_served_by_both_apis(migrated_pg: str, tmp_path: Path) -> None:
    registry = with_widgets()
    create_widget_table(migrated_pg)
    document = tenant_document(WidgetProcessor={"colors": ["green"]}, TokenTransferProcessor={})
    with TestClient(build_app(settings_for(migrated_pg), registry)) as client:
        created = client.post("/admin/tenants", content=yaml.safe_dump(document), headers=ADMIN)
        assert created.status_code == 201, created.text
        key = bearer(created.json()["api_key"]["secret"])
        ingest_samples(migrated_pg, registry, document, tmp_path / "samples")

        stored = sql(
            migrated_pg,
            "SELECT id, color, transaction_count FROM widgets WHERE tenant_id = :t ORDER BY id",
            t=TENANT,
        )
        assert stored and {row.color for row in stored} == {"green"}  # the tenant's filter ran at ingestion

        rest = client.get(f"/api/v1/{TENANT}/widgets", params={"color": "green", "limit": 200}, headers=key)
        assert rest.status_code == 200, rest.text
        assert "Latest-Ledger" in rest.headers
        assert [(r["id"], r["color"], r["transaction_count"]) for r in rest.json()["data"]] == [
            tuple(row) for row in stored
        ]
        refused = client.get(f"/api/v1/{TENANT}/widgets", params={"color": "red"}, headers=key)
        assert refused.status_code == 400 and refused.json()["error"]["parameter"] == "color"

        body = client.post(
            f"/api/v1/{TENANT}/graphql",
            json={
                "query": '{ widgets(first: 100, filter: {colors: ["green"]}) { nodes { id color transactionCount } } }'
            },
            headers=key,
        ).json()
        assert "errors" not in body, body
        assert [(n["id"], n["color"], n["transactionCount"]) for n in body["data"]["widgets"]["nodes"]] == [
            tuple(row) for row in stored
        ]

        discovery = client.get(f"/api/v1/{TENANT}/", headers=key).json()
        routes = {e["path"]: e for e in discovery["available_endpoints"] if e["processor"]}
        assert routes[f"/api/v1/{TENANT}/widgets"]["processor"] == "WidgetProcessor"
        assert {"name": "color", "in": "query"}.items() <= routes[f"/api/v1/{TENANT}/widgets"]["parameters"][
            -1
        ].items()
        assert {e["name"] for e in discovery["webhook_events"]} >= {"widget_made", "token_transfer"}
        assert {"type": "WidgetProcessor", "name": "widgets", "version": 1} in discovery["processors"]
        openapi = client.get(f"/api/v1/{TENANT}/openapi.json", headers=key).json()
        assert "/widgets" in openapi["paths"] and "WidgetsRow" in openapi["components"]["schemas"]


def test_webhook_events_come_from_the_catalogue() -> None:
    """The tenant config accepts exactly the events the registry's processors declare, of enabled processors."""
    from core.errors import ConfigError

    parse_tenant_config(
        tenant_document(WidgetProcessor={}, TokenTransferProcessor={}), with_widgets().catalogue()
    )
    with pytest.raises(ConfigError) as without_widgets:
        parse_tenant_config(tenant_document(TokenTransferProcessor={}), with_widgets().catalogue())
    assert without_widgets.value.errors == [
        "customer.api.webhook_events[0]: widget_made is emitted by WidgetProcessor, which this tenant does not enable"
    ]
    with pytest.raises(ConfigError) as unknown:
        document = tenant_document(WidgetProcessor={}, TokenTransferProcessor={})
        parse_tenant_config(document, default_registry().catalogue())
    assert any(
        line.startswith("customer.api.webhook_events[0]: unknown webhook event 'widget_made'")
        for line in unknown.value.errors
    ), unknown.value.errors


def test_a_table_missing_from_the_database_stops_start_up(migrated_pg: str) -> None:
    with pytest.raises(Exception, match=r"WidgetProcessor \(widgets\): table widgets does not exist"):
        with TestClient(build_app(settings_for(migrated_pg), with_widgets())):
            pass


def test_a_graphql_clash_stops_start_up_naming_both_processors(migrated_pg: str) -> None:
    create_widget_table(migrated_pg)

    def clashing(parts: SchemaParts) -> None:
        # The `widgets` query field again, contributed by another processor.
        parts.define("Gadget", lambda: object_type("Gadget", column_fields(widget_table)), owner="gadgets")
        listing_field(parts, "gadgets", "widgets", WIDGETS, "Gadget")

    gadgets = dataclasses.replace(
        widgets.processor,
        name="gadgets",
        type_name="GadgetProcessor",
        tables=(),
        archive=(),
        listings=(),
        routes=(),
        webhook_events=(),
        subscriptions=(),
        graphql=GraphQLParts(contribute=clashing),
    )
    with pytest.raises(Exception, match=r"GraphQL Query\.widgets is defined by both widgets and gadgets"):
        with TestClient(build_app(settings_for(migrated_pg), with_widgets(gadgets))):
            pass
