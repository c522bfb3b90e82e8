"""Request bodies and query strings are bounded on every route (api.middleware.body_limit): 413
`payload_too_large` with the project's error body, in GraphQL's shape on the GraphQL endpoint. Refusals on a
real server (a declared length refused before the body is sent, a chunked body cut at the limit) are in
tests/api/test_fairness.py."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import orjson
from starlette.testclient import TestClient

from tests.api.helpers import ADMIN, bearer, onboard, tenant_yaml

GRAPHQL_LIMIT, LIMIT = 2_000, 4_000


def _chunks(total: int, size: int = 500) -> Iterator[bytes]:
    sent = 0
    while sent < total:
        yield b" " * min(size, total - sent)
        sent += size


def _graphql_body(length: int) -> bytes:
    """A valid GraphQL request of exactly `length` bytes (the document padded with spaces)."""
    body = orjson.dumps({"query": "{ _meta { latestLedger } }"})
    return body[:-1] + b" " * (length - len(body)) + b"}"


def test_bodies_over_the_limits_are_413(make_client: Callable[..., TestClient]) -> None:
    client = make_client(max_body_bytes=LIMIT, graphql_max_body_bytes=GRAPHQL_LIMIT)
    secret = onboard(client)["api_key"]["secret"]
    path = "/api/v1/acme-wallet/graphql"
    headers = {**bearer(secret), "Content-Type": "application/json"}

    # GraphQL: a body of exactly the limit is served; one byte more is refused, in GraphQL's shape.
    ok = client.post(path, content=_graphql_body(GRAPHQL_LIMIT), headers=headers)
    assert ok.status_code == 200 and "errors" not in ok.json(), ok.text
    refused = client.post(path, content=_graphql_body(GRAPHQL_LIMIT + 1), headers=headers)
    assert refused.status_code == 413
    assert refused.json() == {
        "errors": [
            {
                "message": f"the request body is over {GRAPHQL_LIMIT} bytes",
                "extensions": {"code": "payload_too_large", "limit": GRAPHQL_LIMIT},
            }
        ]
    }
    # Refused after authentication and the rate limit: oversized bodies spend the sender's own limit.
    assert refused.headers["X-RateLimit-Remaining"] == "998" and "X-Request-Id" in refused.headers

    # Without a Content-Length (chunked), the body is counted while it is read.
    chunked = client.post(path, content=_chunks(GRAPHQL_LIMIT + 1), headers=headers)
    assert chunked.status_code == 413, chunked.text
    assert chunked.json()["errors"][0]["extensions"]["code"] == "payload_too_large"

    # A GET carries its document in the query string: bounded the same way.
    long_get = client.get(
        path, params={"query": "{ _meta { latestLedger } }" + " " * GRAPHQL_LIMIT}, headers=headers
    )
    assert long_get.status_code == 413
    assert long_get.json()["errors"][0]["message"] == f"the query string is over {GRAPHQL_LIMIT} bytes"

    # Admin and every other route: OBSRVR_MAX_BODY_BYTES, REST's shape.
    yaml_body = tenant_yaml("second-tenant").encode()
    assert client.post("/admin/tenants", content=yaml_body, headers=ADMIN).status_code == 201
    padded = yaml_body + b"#" * (LIMIT + 1 - len(yaml_body))
    response = client.put("/admin/tenants/second-tenant", content=padded, headers=ADMIN)
    assert response.status_code == 413
    assert response.json() == {
        "error": {
            "code": "payload_too_large",
            "message": f"the request body is over {LIMIT} bytes",
            "limit": LIMIT,
        }
    }
    response = client.put("/admin/tenants/second-tenant", content=_chunks(LIMIT + 1, 1000), headers=ADMIN)
    assert response.status_code == 413
    # A REST route takes no body, yet one is bounded too (never read, never buffered).
    response = client.request(
        "GET", "/api/v1/acme-wallet/token-transfers", content=b"x" * (LIMIT + 1), headers=bearer(secret)
    )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"
    # A declared length with more digits than int() reads (4,300) is over any limit, not a 500.
    response = client.post(path, content=b"", headers={**headers, "Content-Length": "9" * 5000})
    assert response.status_code == 413


def test_graphql_responses_over_the_limit_are_an_error(make_client: Callable[..., TestClient]) -> None:
    client = make_client(graphql_max_response_bytes=300)
    secret = onboard(client)["api_key"]["secret"]
    path = "/api/v1/acme-wallet/graphql"
    small = client.post(path, json={"query": "{ _meta { latestLedger } }"}, headers=bearer(secret))
    assert small.status_code == 200 and small.json()["data"]["_meta"] == {"latestLedger": None}
    aliases = " ".join(f"m{i}: _meta {{ latestLedger queryTimeMs dataSources }}" for i in range(15))
    large = client.post(path, json={"query": f"{{ {aliases} }}"}, headers=bearer(secret))
    assert large.status_code == 200
    body = large.json()
    assert body["data"] is None
    assert body["errors"][0]["extensions"] == {"code": "response_too_large", "limit": 300}
