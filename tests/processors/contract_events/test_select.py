"""The tenant filter, one test per filter kind, on the rows of mainnet ledger 63092982.

What that ledger holds (non-diagnostic events of successful transactions, 431): 410 ``transfer`` (4 topics,
54 of them of ``native`` by the native asset contract), 8 ``mint`` and 8 ``set_authorized`` (3 topics), one
``update_reserves`` (a single topic), one ``trade``, one ``supply``, and two events whose topic 0 is a string
(``DeFindexVault``, ``BlendStrategy``); plus 1,188 diagnostic events, some of them of 19 failed transactions.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from processors.contract_events.config import ContractEventConfig
from processors.contract_events.select import compile_config, select
from tests.processors.contract_events import MAINNET_20, corpus_ledger

NATIVE_SAC = "CAS3J7GYLGXMF6TDJBBYYSE3HQ6BBSMLNUQ34T6TZMYMW2EVH34XOWMA"
ICE_SAC = "CARCKZ66U4AI2545NS4RAF47QVEXG3PRRCDA52H4Q3FDRAGSMP4BRU3W"
USDC_SAC = "CCW67TSZV3SSS2HXMBQ5JFGCKJNXKZM7UQUWUZPUTHXSTZLEO7SJMI75"
SOROSWAP_PAIR = "CA6PUJLBYKZKUEKLZJMKBZLEKP2OTHANDEOWSFF44FTSYLKQPIICCJBE"


@pytest.fixture
def rows(shared_ledgers: Path) -> list[dict[str, Any]]:
    return list(corpus_ledger(shared_ledgers, MAINNET_20[0]).rows)


def kept(rows: list[dict[str, Any]], **config: Any) -> list[dict[str, Any]]:
    return select({"contract_events": rows}, ContractEventConfig(**config))["contract_events"]


def event_types(rows: list[dict[str, Any]]) -> list[str | None]:
    return sorted((row["event_type"] for row in rows), key=str)


def test_default_keeps_contract_events_of_successful_transactions(rows: list[dict[str, Any]]) -> None:
    default = kept(rows)
    assert len(default) == 431
    assert {row["type"] for row in default} == {"contract"}
    assert all(row["in_successful_tx"] for row in default)


def test_contracts(rows: list[dict[str, Any]]) -> None:
    native = kept(rows, contracts=[NATIVE_SAC])
    assert len(native) == 54
    assert {row["contract_id"] for row in native} == {NATIVE_SAC}
    both = kept(rows, contracts=[NATIVE_SAC, USDC_SAC])
    assert len(both) == 54 + 49
    assert {row["contract_id"] for row in both} == {NATIVE_SAC, USDC_SAC}


def test_event_types(rows: list[dict[str, Any]]) -> None:
    assert event_types(kept(rows, event_types=["mint"])) == ["mint"] * 8
    assert len(kept(rows, event_types=["mint", "set_authorized"])) == 16
    # Topic 0 as a string (not a symbol) is an event type too.
    assert event_types(kept(rows, event_types=["DeFindexVault"])) == ["DeFindexVault"]
    assert kept(rows, event_types=["no_such_event"]) == []


def test_topic_literals_compare_with_the_topic_text(rows: list[dict[str, Any]]) -> None:
    native_transfers = kept(rows, topics=[["transfer", "*", "*", "native"]])
    assert len(native_transfers) == 54
    assert {row["contract_id"] for row in native_transfers} == {NATIVE_SAC}
    # An address literal at position 1.
    trade = kept(rows, topics=[["trade", NATIVE_SAC, "**"]])
    assert [row["contract_id"] for row in trade] == [SOROSWAP_PAIR]
    assert kept(rows, topics=[["trade", USDC_SAC, "**"]]) == []


def test_star_matches_exactly_one_topic_and_patterns_have_exact_length(rows: list[dict[str, Any]]) -> None:
    # Transfers have 4 topics: a 3-position pattern without ** matches none of them.
    assert kept(rows, topics=[["transfer", "*", "*"]]) == []
    assert len(kept(rows, topics=[["transfer", "*", "*", "*"]])) == 410
    # Mints have 3 topics.
    assert len(kept(rows, topics=[["mint", "*", "*"]])) == 8
    assert kept(rows, topics=[["mint", "*"]]) == []
    # `*` alone: events with exactly one topic.
    assert event_types(kept(rows, topics=[["*"]])) == ["update_reserves"]
    assert event_types(kept(rows, topics=[["update_reserves"]])) == ["update_reserves"]


def test_double_star_matches_zero_or_more_remaining_topics(rows: list[dict[str, Any]]) -> None:
    assert len(kept(rows, topics=[["**"]])) == 431
    assert len(kept(rows, topics=[["transfer", "**"]])) == 410
    assert len(kept(rows, topics=[["transfer", "*", "*", "**"]])) == 410  # ** matching one topic
    assert event_types(kept(rows, topics=[["update_reserves", "**"]])) == ["update_reserves"]  # zero
    assert len(kept(rows, topics=[["*", "*", "**"]])) == 431 - 1  # all but the 1-topic event
    assert len(kept(rows, topics=[["*", "*", "*", "**"]])) == 431 - 1 - 2  # nor the two 2-topic ones


def test_patterns_are_ored_and_other_filters_anded(rows: list[dict[str, Any]]) -> None:
    either = kept(rows, topics=[["mint", "**"], ["trade", "**"]])
    assert event_types(either) == ["mint"] * 8 + ["trade"]
    ice = kept(rows, contracts=[ICE_SAC], topics=[["set_authorized", "**"]])
    assert [row["contract_id"] for row in ice] == [ICE_SAC, ICE_SAC]
    assert kept(rows, contracts=[ICE_SAC], event_types=["transfer"]) == []


def test_include_diagnostics(rows: list[dict[str, Any]]) -> None:
    with_diagnostics = kept(rows, include_diagnostics=True)
    diagnostics = [row for row in with_diagnostics if row["type"] == "diagnostic"]
    assert len(with_diagnostics) == 431 + len(diagnostics)
    assert {row["event_type"] for row in diagnostics} == {"core_metrics", "fn_call", "fn_return"}
    assert all(row["in_successful_tx"] for row in with_diagnostics)


def test_topic_literal_of_a_non_text_value_is_its_json(rows: list[dict[str, Any]]) -> None:
    # fn_call diagnostics carry the called contract as bytes: the literal is the JSON text of the hex string.
    call = next(row for row in rows if row["event_type"] == "fn_call")
    literal = call["topic1"]
    assert literal == f'"{call["topics"][1]}"'
    found = kept(rows, include_diagnostics=True, topics=[["fn_call", literal, "**"]])
    assert call in found
    assert {row["topic1"] for row in found} == {literal}


def test_include_failed(rows: list[dict[str, Any]]) -> None:
    everything = kept(rows, include_diagnostics=True, include_failed=True)
    assert len(everything) == len(rows)
    failed = [row for row in everything if not row["in_successful_tx"]]
    assert len({row["tx_hash"] for row in failed}) == 19
    assert {"error", "host_fn_failed"} <= {row["event_type"] for row in failed}
    assert all(row["in_successful_tx"] for row in kept(rows, include_diagnostics=True))
    # Failed transactions have diagnostic events only: include_failed alone adds nothing.
    assert kept(rows, include_failed=True) == kept(rows)


def test_a_config_is_compiled_once() -> None:
    first = ContractEventConfig(event_types=["mint"], topics=[["mint", "**"]])
    again = ContractEventConfig(event_types=["mint"], topics=[["mint", "**"]])
    assert compile_config(first) is compile_config(again)
    assert compile_config(first) is not compile_config(ContractEventConfig())
