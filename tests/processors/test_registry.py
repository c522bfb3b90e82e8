"""The processor registry: the real one is valid, and each kind of clash is refused naming the processor."""

from __future__ import annotations

import dataclasses
import re
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict
from sqlalchemy import Column, MetaData, String

from processors.base import Processor
from processors.delivery import Subscription, WebhookEvent
from processors.listing import FilterModel, Listing
from processors.registry import RegistryError, default_registry, validate_registry
from processors.rest_spec import RestRoute
from storage.processor_tables import current_table, history_table

EXPECTED = {
    "token_transfers": "TokenTransferProcessor",
    "contract_events": "ContractEventProcessor",
    "account_balances": "AccountBalanceProcessor",
    "dex_trades": "DEXTradeProcessor",
    "contract_data": "ContractDataProcessor",
    "dex_volume": "DEXVolumeProcessor",
    "token_balances": "TokenBalanceProcessor",
}


class EmptyConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")


def fake(name: str = "widgets", type_name: str = "WidgetProcessor", **changes: Any) -> Processor:
    fields: dict[str, Any] = {"version": 1, "requires": (), "config_model": EmptyConfig, "description": "W."}
    return Processor(name=name, type_name=type_name, **(fields | changes))


def raises_naming(processors: list[Processor], *words: str) -> str:
    with pytest.raises(RegistryError) as info:
        validate_registry(processors)
    message = str(info.value)
    for word in words:
        assert word in message, message
    return message


def test_real_registry_is_valid_and_complete() -> None:
    registry = default_registry()
    validate_registry(registry.processors)
    assert {p.name: p.type_name for p in registry} == EXPECTED
    assert set(registry.catalogue()) == set(EXPECTED.values())
    assert registry.by_name("dex_volume").requires == ("DEXTradeProcessor",)
    assert registry.by_name("token_balances").requires == ("TokenTransferProcessor",)


@pytest.mark.parametrize("processor", default_registry().processors, ids=lambda p: p.name)
def test_every_processor_follows_the_contract(processor: Processor) -> None:
    assert dataclasses.is_dataclass(processor)
    with pytest.raises(dataclasses.FrozenInstanceError):
        processor.name = "other"  # type: ignore[misc]
    assert re.fullmatch(r"[a-z][a-z_]*", processor.name)
    assert processor.type_name.endswith("Processor")
    assert processor.description and "\n" not in processor.description
    own_tables = {table.name for table in processor.tables}
    assert {listing.table.name for listing in processor.listings} <= own_tables
    assert {table.name for table in processor.archive} <= own_tables
    assert all(table.info["kind"] == "history" for table in processor.archive)
    processor.config_model.model_validate({})  # `config: {}` is valid for every processor
    assert processor.config_model.model_config.get("extra") == "forbid"


def test_by_name_of_unknown_processor() -> None:
    with pytest.raises(KeyError, match="nope"):
        default_registry().by_name("nope")


def test_scopes() -> None:
    scopes = default_registry().scopes()
    assert scopes[0] == "read:*"
    assert set(scopes[1:]) == {f"read:{name}" for name in EXPECTED}


def test_duplicate_name() -> None:
    raises_naming([fake(), fake(type_name="OtherWidgetProcessor")], "OtherWidgetProcessor", "'widgets'")


def test_duplicate_type_name() -> None:
    raises_naming([fake(), fake(name="gadgets")], "gadgets", "'WidgetProcessor'", "already used")


def test_unknown_requires() -> None:
    raises_naming([fake(requires=("GhostProcessor",))], "WidgetProcessor", "GhostProcessor")


def test_async_extract_is_refused() -> None:
    async def extract(view: object) -> list[dict[str, Any]]:
        return []

    raises_naming([fake(extract=extract)], "WidgetProcessor", "coroutine")


def test_sync_extract_is_fine() -> None:
    validate_registry([fake(extract=lambda view: [])])


@pytest.mark.parametrize("bad_name", ["Widgets", "widget", "widget-things", "token_transfer"])
def test_name_must_be_snake_case_plural(bad_name: str) -> None:
    raises_naming([fake(name=bad_name)], "WidgetProcessor", repr(bad_name))


def test_config_model_must_forbid_unknown_keys_and_default_everything() -> None:
    class Loose(BaseModel):
        needed: int

    raises_naming([fake(config_model=Loose)], "WidgetProcessor", "extra='forbid'", "empty config")


# A throw-away table and listing of the fake processor, on their own metadata (never the service's).
_META = MetaData()
WIDGETS = history_table("widgets", Column("color", String(16), nullable=False), on=_META)
WIDGET_STATE = current_table(
    "widget_state", ("color",), Column("color", String(16), nullable=False), on=_META
)


class WidgetFilter(FilterModel):
    pass


LISTING = Listing("widgets", "widgets", WIDGETS, WidgetFilter, lambda f: (), "Widgets.")


def test_unknown_uses() -> None:
    raises_naming([fake(uses=("GhostProcessor",))], "WidgetProcessor", "uses unknown", "GhostProcessor")


def test_webhook_events_come_from_own_history_listings_and_are_unique() -> None:
    event = WebhookEvent("widget_made", "A widget.", LISTING)
    foreign = fake(webhook_events=(event,))  # its listing is not among its own
    raises_naming([foreign], "WidgetProcessor", "widget_made", "own history listings")
    owner = fake(tables=(WIDGETS,), listings=(LISTING,), webhook_events=(event,))
    validate_registry([owner])
    other = fake(
        name="gadgets",
        type_name="GadgetProcessor",
        webhook_events=(WebhookEvent("widget_made", "", LISTING),),
    )
    raises_naming(
        [owner, other], "GadgetProcessor", "webhook event 'widget_made' is already defined by WidgetProcessor"
    )


def test_subscription_fields_are_on_type_and_unique() -> None:
    bad = Subscription("widgetMade", LISTING, "Widget", "Widgets.")
    raises_naming(
        [fake(tables=(WIDGETS,), listings=(LISTING,), subscriptions=(bad,))], "WidgetProcessor", "on<Type>"
    )


def test_tables_listings_and_routes_are_unique_across_processors() -> None:
    route = RestRoute("/widgets", "widgets", LISTING, "Widgets.")
    one = fake(tables=(WIDGETS,), listings=(LISTING,), routes=(route,))
    two = fake(
        name="gadgets",
        type_name="GadgetProcessor",
        tables=(WIDGETS,),
        routes=(RestRoute("/widgets", "gadgets", LISTING, "Gadgets."),),
    )
    message = raises_naming([one, two], "GadgetProcessor", "table 'widgets'", "route 'GET /widgets'")
    assert "WidgetProcessor" in message
    # A fallback route on the same path is not a clash: it gives way to the other one.
    fallback = fake(
        name="gadgets",
        type_name="GadgetProcessor",
        routes=(RestRoute("/widgets", "gadgets", LISTING, "Gadgets.", fallback=True),),
    )
    validate_registry([one, fallback])


def test_archive_must_name_own_history_tables() -> None:
    raises_naming([fake(archive=(WIDGETS,))], "WidgetProcessor", "archive", "does not define")
    raises_naming(
        [fake(tables=(WIDGET_STATE,), archive=(WIDGET_STATE,))], "WidgetProcessor", "current-state table"
    )


def test_all_problems_are_listed() -> None:
    message = raises_naming(
        [fake(requires=("GhostProcessor",)), fake(name="gadget", type_name="GadgetProcessor")],
        "GhostProcessor",
        "'gadget'",
    )
    assert message.count("WidgetProcessor") == 1 and message.count("GadgetProcessor") == 1
