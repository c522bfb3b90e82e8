"""GraphQL test fixtures: an app over the 20 mainnet ledgers (`tests.mainnet_data`) and a small client."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from obsrvr_flow.wiring import build_app
from tests.api.helpers import bearer, settings_for
from tests.mainnet_data import FULL, PARTIAL, MainnetData


class GraphQLClient:
    """Posts GraphQL to one tenant's endpoint with one key; returns the decoded body (and keeps the response)."""

    def __init__(self, client: TestClient, tenant: str, key: str) -> None:
        self.client, self.tenant, self.key = client, tenant, key
        self.response: Any = None

    @property
    def path(self) -> str:
        return f"/api/v1/{self.tenant}/graphql"

    def __call__(self, query: str, **variables: Any) -> dict[str, Any]:
        self.response = self.client.post(
            self.path, json={"query": query, "variables": variables}, headers=bearer(self.key)
        )
        assert self.response.status_code == 200, self.response.text
        body: dict[str, Any] = self.response.json()
        return body

    def data(self, query: str, **variables: Any) -> dict[str, Any]:
        body = self(query, **variables)
        assert "errors" not in body, body["errors"]
        data: dict[str, Any] = body["data"]
        return data

    def error(self, query: str, **variables: Any) -> dict[str, Any]:
        """The one error the query must produce."""
        body = self(query, **variables)
        assert len(body.get("errors", [])) == 1, body
        error: dict[str, Any] = body["errors"][0]
        return error


@pytest.fixture(scope="module")
def app_client(mainnet_data: MainnetData) -> Iterator[TestClient]:
    with TestClient(build_app(settings_for(mainnet_data.url))) as client:
        yield client


@pytest.fixture(scope="module")
def full(app_client: TestClient, mainnet_data: MainnetData) -> GraphQLClient:
    return GraphQLClient(app_client, FULL, mainnet_data.keys["full"])


@pytest.fixture(scope="module")
def partial(app_client: TestClient, mainnet_data: MainnetData) -> GraphQLClient:
    return GraphQLClient(app_client, PARTIAL, mainnet_data.keys["partial"])


@pytest.fixture(scope="module")
def transfers_only(app_client: TestClient, mainnet_data: MainnetData) -> GraphQLClient:
    return GraphQLClient(app_client, FULL, mainnet_data.keys["full_transfers_only"])
