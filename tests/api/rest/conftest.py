"""REST tests read the 20 mainnet ledgers (tests/mainnet_data.py) through one app per module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from obsrvr_flow.wiring import build_app
from tests.api.helpers import settings_for
from tests.mainnet_data import MainnetData


@pytest.fixture(scope="module")
def client(mainnet_data: MainnetData) -> Iterator[TestClient]:
    with TestClient(build_app(settings_for(mainnet_data.url))) as test_client:
        yield test_client
