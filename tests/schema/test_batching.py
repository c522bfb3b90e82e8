"""Dataloaders keep nested queries to a fixed number of statements: a page of 100 with one nested level costs
the same few reads as a page of 10 (counted on the app's own engine, as it runs them)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event
from starlette.testclient import TestClient

from processors.registry import default_registry
from tests.schema.conftest import GraphQLClient

DATA_TABLES = sorted({t.name for p in default_registry().processors for t in p.tables}, key=len, reverse=True)


@contextmanager
def data_statements(client: TestClient) -> Iterator[list[str]]:
    """The statements on processor tables run while the block runs (auth, audit and checkpoints left out)."""
    engine = client.app.state.flow.engine.sync_engine  # type: ignore[attr-defined]
    seen: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        for name in DATA_TABLES:
            if f"FROM {name} " in statement or f"FROM {name}\n" in statement:
                seen.append(name)
                return

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


NESTED = {
    "tokenTransfers": (
        "{ tokenTransfers(first: %d) { edges { node { id fromAccount { balances { asset balanceRaw } } "
        "toAccount { balances { asset } accountBalances { asset balance } } } } } }",
        ["token_transfers", "token_balances", "account_balances_current"],
    ),
    "contractEvents": (
        "{ contractEvents(first: %d) { edges { node { id contract { contractId storage { keyHash } } } } } }",
        ["contract_events", "contract_data_current"],
    ),
}


@pytest.mark.parametrize("field", sorted(NESTED))
def test_nested_page_costs_a_fixed_number_of_statements(
    full: GraphQLClient, app_client: TestClient, field: str
) -> None:
    query, expected = NESTED[field]
    counts = []
    for size in (10, 100):
        with data_statements(app_client) as seen:
            data = full.data(query % size)
        assert len(data[field]["edges"]) == size
        assert sorted(seen) == sorted(expected), seen  # one page read, one lookup per nested kind
        counts.append(len(seen))
    assert counts[0] == counts[1]


@pytest.mark.parametrize(
    "window",
    ['(since: "2000-01-01T00:00:00Z", until: "2100-01-01T00:00:00Z")', ""],
    ids=["explicit", "default"],
)
def test_trade_pair_stats_are_read_once_per_page(
    full: GraphQLClient, app_client: TestClient, window: str
) -> None:
    """Stats for every trade of a page cost the same reads for 5 trades as for 100: one batch per window (the
    default window is the same instant for the whole request)."""
    query = (
        "{ dexTrades(first: %d) { edges { node { pair pairStats" + window + " { tradeCount source } } } } }"
    )
    counts, trade_reads = [], []
    for size in (5, 100):
        with data_statements(app_client) as seen:
            data = full.data(query % size)
        edges = data["dexTrades"]["edges"]
        assert len(edges) == size
        if window:
            assert all(e["node"]["pairStats"]["tradeCount"] > 0 for e in edges)
            assert all(e["node"]["pairStats"]["source"].startswith("dex_volume") for e in edges)
        counts.append(len(seen))
        trade_reads.append(seen.count("dex_trades"))
    # The page, plus the window's edge trades: as many reads for 100 trades as for 5.
    assert trade_reads[0] == trade_reads[1] <= 4
    # The candle reads depend on the pairs and the window, not on how many trades asked.
    assert counts[1] <= counts[0] + 2
