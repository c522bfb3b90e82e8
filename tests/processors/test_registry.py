"""The processor registry: the real one is valid, and each kind of clash is refused naming the processor."""

from __future__ import annotations

import dataclasses
import re
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict

from core.tenant_config import WEBHOOK_EVENTS
from processors.base import Processor
from processors.registry import (
    RegistryError,
    all_processors,
    by_name,
    catalogue,
    scopes,
    validate_registry,
)

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
    processors = all_processors()
    validate_registry(processors)
    assert {p.name: p.type_name for p in processors} == EXPECTED
    assert set(catalogue()) == set(EXPECTED.values())
    assert by_name("dex_volume").requires == ("DEXTradeProcessor",)
    assert by_name("token_balances").requires == ("TokenTransferProcessor",)


@pytest.mark.parametrize("processor", all_processors(), ids=lambda p: p.name)
def test_every_processor_follows_the_contract(processor: Processor) -> None:
    assert dataclasses.is_dataclass(processor)
    with pytest.raises(dataclasses.FrozenInstanceError):
        processor.name = "other"  # type: ignore[misc]
    assert re.fullmatch(r"[a-z][a-z_]*", processor.name)
    assert processor.type_name.endswith("Processor")
    assert processor.description and "\n" not in processor.description
    assert set(processor.webhook_events) <= set(WEBHOOK_EVENTS)
    processor.config_model.model_validate({})  # `config: {}` is valid for every processor
    assert processor.config_model.model_config.get("extra") == "forbid"


def test_by_name_of_unknown_processor() -> None:
    with pytest.raises(KeyError, match="nope"):
        by_name("nope")


def test_scopes() -> None:
    assert scopes()[0] == "read:*"
    assert set(scopes()[1:]) == {f"read:{name}" for name in EXPECTED}


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


def test_unknown_webhook_event() -> None:
    raises_naming([fake(webhook_events=("widget_made",))], "WidgetProcessor", "widget_made")


def test_archive_must_name_own_tables() -> None:
    raises_naming([fake(archive=("widgets",))], "WidgetProcessor", "archive")


def test_all_problems_are_listed() -> None:
    message = raises_naming(
        [fake(requires=("GhostProcessor",)), fake(name="gadget", type_name="GadgetProcessor")],
        "GhostProcessor",
        "'gadget'",
    )
    assert message.count("WidgetProcessor") == 1 and message.count("GadgetProcessor") == 1
