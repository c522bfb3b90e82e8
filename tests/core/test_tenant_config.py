"""Tenant config validation: good documents parse, and every bad key is reported at its path."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
from stellar_sdk import Keypair, StrKey

from core.errors import ConfigError
from core.settings import Network
from core.tenant_config import TenantConfig, parse_tenant_config, parse_tenant_documents
from processors.registry import default_registry
from processors.token_transfers.config import TokenTransferConfig

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "tenants" / "acme-wallet.yaml"
USDC_ISSUER = "GA5ZSEJYB37JRC5AVCIA5MOP4RHTM335X2KGX3IHOJAPP5RE34K4KZVN"
ACCOUNT = Keypair.random().public_key
CONTRACT = StrKey.encode_contract(bytes(32))


def base_doc() -> dict[str, Any]:
    return {
        "customer": {
            "id": "abc123",
            "name": "Acme Wallet",
            "network": "pubnet",
            "processors": [
                {"type": "TokenTransferProcessor", "start_ledger": 63092982, "config": {"track_memos": True}},
                {"type": "ContractEventProcessor", "config": {"contracts": [CONTRACT]}},
                {"type": "DEXTradeProcessor", "config": {}},
            ],
            "storage": {"hot_retention_days": 90, "cold_retention_years": 2, "archive_schedule": "0 2 * * *"},
            "api": {"allowed_ips": ["1.2.3.4/32"], "webhook_url": "https://customer.example/webhook"},
        }
    }


def errors_of(data: object) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_tenant_config(data, default_registry().catalogue())
    return info.value.errors


def error_at(data: object, path: str) -> str:
    """The single error line of `data`, which must be at `path`."""
    errors = errors_of(data)
    assert len(errors) == 1, errors
    assert errors[0].startswith(f"{path}: "), errors
    return errors[0]


def with_change(path: tuple[str | int, ...], value: object) -> dict[str, Any]:
    doc = copy.deepcopy(base_doc())
    target: Any = doc
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return doc


# --- good documents ---------------------------------------------------------------------------------


def test_base_document_parses_with_typed_processor_configs() -> None:
    config = parse_tenant_config(base_doc(), default_registry().catalogue())
    assert config.customer.network is Network.pubnet
    transfers = config.processor_config("TokenTransferProcessor")
    assert isinstance(transfers, TokenTransferConfig)
    assert transfers.track_memos is True
    assert config.customer.processors[0].start_ledger == 63092982
    assert config.customer.api.rate_limit_per_minute == 1000  # defaults filled in
    assert config.processor_config("DEXVolumeProcessor") is None


def test_example_acme_wallet_parses_with_all_processors_enabled() -> None:
    [config] = parse_tenant_documents(EXAMPLE.read_text(), default_registry().catalogue())
    assert config.customer.id == "acme-wallet"
    assert {entry.type for entry in config.enabled_processors()} == set(default_registry().catalogue())
    assert config.customer.api.allowed_ips == ["127.0.0.1/32", "::1/128"]


def test_round_trip_through_document_gives_an_equal_model() -> None:
    [config] = parse_tenant_documents(EXAMPLE.read_text(), default_registry().catalogue())
    again = parse_tenant_config(config.to_document(), default_registry().catalogue())
    assert again == config
    assert isinstance(again, TenantConfig)


def test_disabled_processor_has_no_config_and_summary_says_so() -> None:
    doc = with_change(("customer", "processors", 2, "enabled"), False)
    config = parse_tenant_config(doc, default_registry().catalogue())
    assert config.processor_config("DEXTradeProcessor") is None
    summary = "\n".join(config.summary_lines())
    assert "abc123" in summary and "pubnet" in summary
    assert "DEXTradeProcessor: disabled" in summary
    assert "TokenTransferProcessor: enabled, from ledger 63092982" in summary
    assert "1.2.3.4/32" in summary and "https://customer.example/webhook" in summary


def test_null_config_is_an_empty_config_and_raw_amounts_are_big_strings() -> None:
    huge = str(2**127 - 1)  # an i128 amount: does not fit 64 bits
    doc = base_doc()
    doc["customer"]["processors"][0]["config"] = {"min_amount": int(huge)}
    doc["customer"]["processors"][2]["config"] = None
    config = parse_tenant_config(doc, default_registry().catalogue())
    transfers = config.processor_config("TokenTransferProcessor")
    assert isinstance(transfers, TokenTransferConfig)
    assert transfers.min_amount == huge


def test_absent_config_is_the_models_defaults_typed() -> None:
    """No `config:` key at all reads like an empty one: the processor's typed model (pydantic does not run
    validators on defaults unless asked; a plain dict here broke selection)."""
    doc = base_doc()
    del doc["customer"]["processors"][0]["config"]
    transfers = parse_tenant_config(doc, default_registry().catalogue()).processor_config(
        "TokenTransferProcessor"
    )
    assert transfers == TokenTransferConfig()


def test_ipv6_and_non_strict_cidrs_are_normalised() -> None:
    doc = with_change(("customer", "api", "allowed_ips"), ["10.1.2.3/8", "2001:db8::1/32", "::1"])
    config = parse_tenant_config(doc, default_registry().catalogue())
    assert config.customer.api.allowed_ips == ["10.0.0.0/8", "2001:db8::/32", "::1/128"]


# --- bad documents: each error names the path of the bad key -------------------------------------------


def test_unknown_top_level_key() -> None:
    doc = base_doc() | {"tenant": {}}
    assert error_at(doc, "tenant").endswith("unknown key")


def test_unknown_key_in_api() -> None:
    doc = with_change(("customer", "api", "foo"), 1)
    assert error_at(doc, "customer.api.foo") == "customer.api.foo: unknown key"


def test_unknown_processor_type_lists_the_known_ones() -> None:
    doc = with_change(("customer", "processors", 1, "type"), "Foo")
    line = error_at(doc, "customer.processors[1].type")
    assert "unknown processor type 'Foo'" in line and "TokenTransferProcessor" in line


@pytest.mark.parametrize(
    ("derived", "base"),
    [("DEXVolumeProcessor", "DEXTradeProcessor"), ("TokenBalanceProcessor", "TokenTransferProcessor")],
)
def test_missing_dependency(derived: str, base: str) -> None:
    doc = base_doc()
    doc["customer"]["processors"] = [
        entry for entry in doc["customer"]["processors"] if entry["type"] != base
    ] + [{"type": derived}]
    index = len(doc["customer"]["processors"]) - 1
    line = error_at(doc, f"customer.processors[{index}].type")
    assert f"{derived} requires {base} (add it and enable it)" in line


def test_dependency_present_but_disabled() -> None:
    doc = base_doc()
    doc["customer"]["processors"][2]["enabled"] = False
    doc["customer"]["processors"].append({"type": "DEXVolumeProcessor"})
    line = error_at(doc, "customer.processors[3].type")
    assert "requires DEXTradeProcessor" in line and "disabled" in line


def test_disabled_dependent_does_not_need_its_dependency() -> None:
    doc = base_doc()
    doc["customer"]["processors"].append({"type": "TokenBalanceProcessor", "enabled": False})
    doc["customer"]["processors"].pop(0)
    assert (
        parse_tenant_config(doc, default_registry().catalogue()).processor_config("TokenBalanceProcessor")
        is None
    )


def test_bad_cidr() -> None:
    doc = with_change(("customer", "api", "allowed_ips"), ["1.2.3.4/32", "300.1.1.1/8"])
    assert "not a valid CIDR" in error_at(doc, "customer.api.allowed_ips[1]")


def test_bad_cron() -> None:
    doc = with_change(("customer", "storage", "archive_schedule"), "61 25 * * *")
    assert "not a valid cron expression" in error_at(doc, "customer.storage.archive_schedule")


def test_bad_contract_strkey_in_contracts() -> None:
    doc = with_change(("customer", "processors", 1, "config", "contracts"), [CONTRACT[:-1] + "A", CONTRACT])
    line = error_at(doc, "customer.processors[1].config.contracts[0]")
    assert line == "customer.processors[1].config.contracts[0]: not a contract address"


def test_account_given_where_a_contract_is_expected() -> None:
    doc = with_change(("customer", "processors", 1, "config", "contracts"), [ACCOUNT])
    assert "not a contract address" in error_at(doc, "customer.processors[1].config.contracts[0]")


def test_bad_account_strkey() -> None:
    doc = with_change(("customer", "processors", 0, "config", "accounts"), [ACCOUNT, "GABC"])
    assert "not an address" in error_at(doc, "customer.processors[0].config.accounts[1]")


def test_bad_asset() -> None:
    doc = with_change(("customer", "processors", 0, "config", "assets"), ["native", "USDC:GNOTANISSUER"])
    assert "not an asset" in error_at(doc, "customer.processors[0].config.assets[1]")


def test_bad_dex_pair() -> None:
    doc = with_change(("customer", "processors", 2, "config", "pairs"), ["native-USDC"])
    assert "not a pair (BASE/COUNTER" in error_at(doc, "customer.processors[2].config.pairs[0]")


@pytest.mark.parametrize(("key", "bound"), [("hot_retention_days", 1), ("cold_retention_years", 0)])
def test_negative_retention(key: str, bound: int) -> None:
    doc = with_change(("customer", "storage", key), -1)
    assert error_at(doc, f"customer.storage.{key}").endswith(f"must be >= {bound}")


def test_http_webhook_url_is_refused() -> None:
    doc = with_change(("customer", "api", "webhook_url"), "http://customer.example/webhook")
    assert error_at(doc, "customer.api.webhook_url").endswith("must be an https URL")


def test_unknown_webhook_event() -> None:
    doc = with_change(("customer", "api", "webhook_events"), ["token_transfer", "payment"])
    assert "token_transfer" in error_at(doc, "customer.api.webhook_events[1]")


@pytest.mark.parametrize("bad_id", ["ab", "Acme", "-acme", "acme wallet", "a" * 65, "acme/x"])
def test_bad_tenant_id(bad_id: str) -> None:
    doc = with_change(("customer", "id"), bad_id)
    assert "lowercase letters" in error_at(doc, "customer.id")


def test_duplicate_processor_type() -> None:
    doc = base_doc()
    doc["customer"]["processors"].append({"type": "TokenTransferProcessor"})
    line = error_at(doc, "customer.processors[3].type")
    assert "TokenTransferProcessor is listed twice" in line and "customer.processors[0]" in line


def test_unknown_processor_config_key() -> None:
    doc = with_change(("customer", "processors", 0, "config", "track_memo"), True)
    assert error_at(doc, "customer.processors[0].config.track_memo").endswith("unknown key")


@pytest.mark.parametrize("pattern", [["**", "transfer"], [], ["a", "b", "c", "d", "e"], ["transfer", ""]])
def test_bad_topic_pattern(pattern: list[str]) -> None:
    doc = with_change(("customer", "processors", 1, "config", "topics"), [["transfer", "*", "**"], pattern])
    error_at(doc, "customer.processors[1].config.topics[1]")


def test_bad_start_ledger_and_network() -> None:
    doc = with_change(("customer", "processors", 0, "start_ledger"), 0)
    doc["customer"]["network"] = "futurenet"
    errors = errors_of(doc)
    assert any(e.startswith("customer.network: ") and "pubnet" in e for e in errors)
    assert "customer.processors[0].start_ledger: must be >= 1" in errors


def test_document_not_a_mapping() -> None:
    [line] = errors_of(["customer"])
    assert line.startswith("document: ") and "mapping" in line


def test_missing_customer_key() -> None:
    assert error_at({}, "customer").endswith("required key is missing")


def test_customer_not_a_mapping() -> None:
    assert error_at({"customer": "abc123"}, "customer").endswith("must be a mapping")


def test_many_errors_are_reported_together() -> None:
    doc = base_doc()
    doc["customer"]["id"] = "ABC"
    doc["customer"]["api"]["foo"] = 1
    doc["customer"]["storage"]["archive_schedule"] = "every day"
    doc["customer"]["processors"][1]["config"]["contracts"] = ["nope"]
    doc["customer"]["processors"].append({"type": "DEXVolumeProcessor", "enabled": True})
    doc["customer"]["processors"][2]["enabled"] = False
    paths = sorted(line.split(": ", 1)[0] for line in errors_of(doc))
    assert paths == [
        "customer.api.foo",
        "customer.id",
        "customer.processors[1].config.contracts[0]",
        "customer.processors[3].type",
        "customer.storage.archive_schedule",
    ]


def test_value_error_prefix_is_stripped() -> None:
    doc = with_change(("customer", "api", "webhook_url"), "ftp://x")
    assert not any("Value error" in line for line in errors_of(doc))


# --- YAML text and multiple documents ----------------------------------------------------------------

TWO_TENANTS = """
customer:
  id: abc123
  name: First
  network: testnet
  processors: [{type: TokenTransferProcessor}]
---
customer:
  id: def456
  name: Second
  network: pubnet
  processors: [{type: ContractEventProcessor, config: {event_types: [transfer]}}]
"""


def test_multiple_documents_parse() -> None:
    configs = parse_tenant_documents(TWO_TENANTS + "---\n", default_registry().catalogue())
    assert [c.customer.id for c in configs] == ["abc123", "def456"]


def test_json_is_accepted() -> None:
    import json

    [config] = parse_tenant_documents(json.dumps(base_doc()), default_registry().catalogue())
    assert config.customer.id == "abc123"


def test_duplicate_tenant_ids_across_documents() -> None:
    text = TWO_TENANTS.replace("def456", "abc123")
    with pytest.raises(ConfigError) as info:
        parse_tenant_documents(text, default_registry().catalogue())
    assert info.value.errors == [
        "documents[1].customer.id: duplicate tenant id 'abc123' (also in documents[0])"
    ]


def test_errors_in_later_documents_carry_the_document_index() -> None:
    text = TWO_TENANTS.replace("network: pubnet", "network: pubnet\n  colour: red")
    with pytest.raises(ConfigError) as info:
        parse_tenant_documents(text, default_registry().catalogue())
    assert info.value.errors == ["documents[1].customer.colour: unknown key"]


def test_bad_yaml_syntax_names_the_line() -> None:
    text = "customer:\n  id: abc123\n  name: [unclosed\n  network: pubnet\n"
    with pytest.raises(ConfigError) as info:
        parse_tenant_documents(text, default_registry().catalogue())
    [line] = info.value.errors
    assert line.startswith("line ")


def test_bad_yaml_indentation_names_the_line() -> None:
    text = "customer:\n  id: abc123\n name: x\n"
    with pytest.raises(ConfigError) as info:
        parse_tenant_documents(text, default_registry().catalogue())
    assert info.value.errors[0].startswith("line 3: ")


def test_repeated_yaml_key_is_an_error() -> None:
    text = "customer:\n  id: abc123\n  id: def456\n"
    with pytest.raises(ConfigError) as info:
        parse_tenant_documents(text, default_registry().catalogue())
    assert info.value.errors == ["line 3: duplicate key 'id'"]


def test_yaml_document_that_is_a_list() -> None:
    with pytest.raises(ConfigError) as info:
        parse_tenant_documents("- customer\n", default_registry().catalogue())
    assert info.value.errors[0].startswith("document: must be a mapping")


def test_empty_text() -> None:
    with pytest.raises(ConfigError) as info:
        parse_tenant_documents("# nothing here\n", default_registry().catalogue())
    assert "no tenant document" in info.value.errors[0]
