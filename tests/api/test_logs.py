"""Structured logs: one JSON line per request with its request id, tenant, route template, method, status,
duration and rows; every other line written while serving a request carries the request id too. The lines
go through the handler the CLI installs (`obsrvr_flow.logs`) and are read back with `json.loads`."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from obsrvr_flow.logs import log_handler
from tests.api.helpers import bearer, drop_table, ingest_samples, onboard

TENANT = "/api/v1/acme-wallet"


@pytest.fixture
def json_lines() -> Iterator[Callable[[], list[dict[str, Any]]]]:
    """The service's log lines as the JSON handler writes them (at INFO), parsed."""
    stream = io.StringIO()
    handler = log_handler("json")
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(stream)
    logger = logging.getLogger("obsrvr_flow")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def test_one_json_line_per_request(
    make_client: Callable[..., TestClient], json_lines: Callable[[], list[dict[str, Any]]], tmp_path: Path
) -> None:
    client = make_client(pubnet_source=str(tmp_path / "samples"), decode_processes=1)
    key = onboard(client)["api_key"]["secret"]
    ingest_samples(client, "acme-wallet", tmp_path / "samples", ["TokenTransferProcessor"])
    before = len(json_lines())
    page = client.get(f"{TENANT}/token-transfers", params={"limit": 2}, headers=bearer(key))
    graphql = client.post(
        f"{TENANT}/graphql",
        json={"query": "{ tokenTransfers(first: 2) { edges { cursor } } }"},
        headers={**bearer(key), "X-Request-Id": "client-7"},
    )
    refused = client.get(f"{TENANT}/token-transfers")
    access = [line for line in json_lines()[before:] if line["logger"] == "obsrvr_flow.access"]
    assert len(access) == 3

    rest, gql, anonymous = access
    assert rest["request_id"] == page.headers["X-Request-Id"]
    assert rest["tenant"] == "acme-wallet"
    assert rest["route"] == "/api/v1/{customer_id}/token-transfers"
    assert (rest["method"], rest["status"], rest["rows"]) == ("GET", 200, 2)
    assert isinstance(rest["duration_ms"], float) and rest["duration_ms"] > 0
    assert rest["level"] == "INFO" and rest["timestamp"].endswith("+00:00")

    assert (gql["request_id"], graphql.headers["X-Request-Id"]) == ("client-7", "client-7")
    assert (gql["route"], gql["method"], gql["status"], gql["rows"]) == (
        "/api/v1/{customer_id}/graphql",
        "POST",
        200,
        2,
    )

    assert anonymous["request_id"] == refused.headers["X-Request-Id"]
    assert (anonymous["tenant"], anonymous["status"], anonymous["rows"]) == (None, 401, None)


def test_lines_written_while_serving_carry_the_request_id(
    migrated_pg: str,
    make_client: Callable[..., TestClient],
    json_lines: Callable[[], list[dict[str, Any]]],
) -> None:
    client = make_client()
    key = onboard(client)["api_key"]["secret"]
    drop_table(migrated_pg, "token_transfers")
    response = client.post(
        f"{TENANT}/graphql", json={"query": "{ tokenTransfers { edges { cursor } } }"}, headers=bearer(key)
    )
    request_id = response.headers["X-Request-Id"]
    (failure,) = [line for line in json_lines() if line["logger"] == "obsrvr_flow.graphql"]
    assert failure["level"] == "ERROR" and failure["request_id"] == request_id
    assert "token_transfers" in failure["exc_info"]  # the traceback is in the log, never in the response
    logging.getLogger("obsrvr_flow.test").warning("outside any request")
    (outside,) = [line for line in json_lines() if line["logger"] == "obsrvr_flow.test"]
    assert "request_id" not in outside


def test_the_text_format_is_one_line_with_the_request_id() -> None:
    handler = log_handler("text")
    record = logging.LogRecord("obsrvr_flow.x", logging.INFO, __file__, 1, "hello %s", ("there",), None)
    assert handler.format(record).endswith("INFO obsrvr_flow.x [-] hello there")
    record.request_id = "abc"
    assert handler.format(record).endswith("INFO obsrvr_flow.x [abc] hello there")
