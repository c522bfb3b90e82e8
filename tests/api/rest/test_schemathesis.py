"""A property-based run of schemathesis against the tenant's own OpenAPI document, with a valid key, over real
HTTP (uvicorn on a free port, the 20 mainnet ledgers behind it): no 5xx, and every response conforms to the
document (status code, content type, headers, body schema)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from obsrvr_flow.wiring import build_app
from tests.api.helpers import bearer, settings_for
from tests.mainnet_data import FULL, MainnetData
from tests.servers import uvicorn_thread

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
EXAMPLES_PER_OPERATION = 25


@pytest.fixture(scope="module")
def server(mainnet_data: MainnetData) -> Iterator[str]:
    with uvicorn_thread(build_app(settings_for(mainnet_data.url))) as port:
        yield f"http://127.0.0.1:{port}"


def test_schemathesis_finds_no_server_error_and_no_schema_violation(
    server: str, mainnet_data: MainnetData
) -> None:
    headers = bearer(mainnet_data.keys["full"])
    document = httpx.get(f"{server}/api/v1/{FULL}/openapi.json", headers=headers).json()
    schema = schemathesis.openapi.from_dict(document)
    schema.config.update(base_url=document["servers"][0]["url"])
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == len(document["paths"])
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def run(case: schemathesis.Case) -> None:
            case.call_and_validate(headers=headers, checks=CHECKS)

        run()
