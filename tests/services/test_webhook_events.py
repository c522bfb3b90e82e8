"""Endpoint validation against a tenant's config, and the large-payment threshold setting (no database)."""

from __future__ import annotations

from typing import Any

import pytest

from core.errors import BadRequest, ConfigError
from core.tenant_config import parse_tenant_config
from processors.registry import default_registry
from services.webhooks.events import EventCatalogue
from services.webhooks.messages import event_extra, large_payment_threshold
from tests.mainnet_data import tenant_document

CATALOGUE = EventCatalogue.from_registry(default_registry())
USDC = "USDC:GA5ZSEJYB37JRC5AVCIA5MOP4RHTM335X2KGX3IHOJAPP5RE34K4KZVN"
CONTRACT = "CAS3J7GYLGXMF6TDJBBYYSE3HQ6BBSMLNUQ34T6TZMYMW2EVH34XOWMA"
ACCOUNT = "GA5ZSEJYB37JRC5AVCIA5MOP4RHTM335X2KGX3IHOJAPP5RE34K4KZVN"


def _config(types: list[str], threshold: object = "10000") -> Any:
    document = tenant_document("acme", types)
    document["customer"]["api"]["large_payment_threshold"] = threshold
    return parse_tenant_config(document, default_registry().catalogue())


TRANSFERS_ONLY = ["TokenTransferProcessor"]


@pytest.mark.parametrize(
    ("threshold", "native", "usdc"),
    [
        ("2500.5", "2500.5", "2500.5"),
        ({"native": "100", USDC: "1.25"}, "100", "1.25"),
        ({CONTRACT: "7"}, None, None),
    ],
)
def test_the_threshold_is_one_decimal_or_a_map_by_asset(threshold: object, native: Any, usdc: Any) -> None:
    api = _config(TRANSFERS_ONLY, threshold).customer.api
    assert api.large_payment_threshold_for("native") == native
    assert api.large_payment_threshold_for(USDC) == usdc


@pytest.mark.parametrize(
    ("threshold", "error"),
    [
        ({"USDC": "1"}, "customer.api.large_payment_threshold: 'USDC': not an asset"),
        ({"native": 1.5}, "customer.api.large_payment_threshold: 'native': not a decimal amount"),
        ({"native": "-3"}, "customer.api.large_payment_threshold: 'native': not a decimal amount"),
        ({USDC: "1" * 40}, f"customer.api.large_payment_threshold: '{USDC}': not a decimal amount"),
        (["native"], "customer.api.large_payment_threshold: not a decimal amount"),
        (1.5, "customer.api.large_payment_threshold: not a decimal amount"),
    ],
)
def test_a_bad_threshold_is_named_by_its_path(threshold: object, error: str) -> None:
    with pytest.raises(ConfigError) as refused:
        _config(TRANSFERS_ONLY, threshold)
    assert refused.value.errors[0].startswith(error), refused.value.errors


def test_an_endpoint_takes_known_events_of_enabled_processors_and_their_listing_filters() -> None:
    config = _config(["TokenTransferProcessor", "ContractEventProcessor"])
    chosen = CATALOGUE.validate(
        ["token_transfer", "large_payment", "token_transfer"],
        {"accounts": [ACCOUNT], "min_amount": "10"},
        config,
    )
    assert chosen.events == ("token_transfer", "large_payment")
    assert chosen.filter == {"accounts": [ACCOUNT], "min_amount": "10"}
    assert CATALOGUE.validate(["contract_event"], {"topic1": "x"}, config).filter == {"topic1": "x"}


@pytest.mark.parametrize(
    ("events", "filter", "parameter", "words"),
    [
        (["dex_trade"], {}, "events[0]", "DEXTradeProcessor, which tenant acme does not enable"),
        (["token_transfer", "nope"], {}, "events[1]", "unknown webhook event 'nope'"),
        ([], {}, "events", "non-empty list"),
        ("token_transfer", {}, "events", "non-empty list"),
        (
            ["token_transfer", "contract_event"],
            {"accounts": [ACCOUNT]},
            "filter.accounts",
            "event contract_event",
        ),
        (["token_transfer"], {"topic1": "x"}, "filter.topic1", "event token_transfer"),
        (["token_transfer"], {"accounts": ["not-a-key"]}, "filter.accounts[0]", "not an address"),
        (["token_transfer"], {"min_amount": "-1"}, "filter.min_amount", "not a raw amount"),
        (["token_transfer"], ["accounts"], "filter", "must be an object"),
    ],
)
def test_a_bad_endpoint_is_a_400_naming_the_event_or_filter_key(
    events: Any, filter: Any, parameter: str, words: str
) -> None:
    config = _config(["TokenTransferProcessor", "ContractEventProcessor"])
    with pytest.raises(BadRequest) as refused:
        CATALOGUE.validate(events, filter, config)
    assert refused.value.status == 400 and refused.value.code == "invalid_parameter"
    assert refused.value.details["parameter"] == parameter
    assert refused.value.message.startswith(f"{parameter}: ") and words in refused.value.message


def test_a_large_payment_compares_the_absolute_decimal_amount_with_its_assets_threshold() -> None:
    thresholds = {"native": "100", USDC: "0.5"}.get
    assert large_payment_threshold({"asset": "native", "amount": "100.0000000"}, thresholds) == "100"
    assert large_payment_threshold({"asset": "native", "amount": "-150"}, thresholds) == "100"
    assert large_payment_threshold({"asset": "native", "amount": "99.9999999"}, thresholds) is None
    assert large_payment_threshold({"asset": CONTRACT, "amount": "1e9"}, thresholds) is None  # not in the map
    assert event_extra("large_payment", {"asset": USDC, "amount": "0.5"}, thresholds) == {
        "threshold_exceeded": True,
        "threshold": "0.5",
    }
    assert event_extra("token_transfer", {"asset": USDC, "amount": "0"}, thresholds) == {}


def test_stored_thresholds_are_read_from_the_tenant_document() -> None:
    from services.webhooks.recorder import thresholds_of

    document = _config(TRANSFERS_ONLY, {"native": "5"}).to_document()
    assert thresholds_of(document)("native") == "5" and thresholds_of(document)(USDC) is None
    assert thresholds_of({"customer": {"api": {}}})(USDC) == "10000"  # the default applies to every asset
    assert thresholds_of({"customer": {"api": {"large_payment_threshold": 1.5}}})("native") is None
