"""Fixed parts of the tenant OpenAPI document: the envelope's metadata, errors, paging parameters and the
discovery schema (row schemas are generated from the tables and the readings' fields in `api.openapi`)."""

from __future__ import annotations

from typing import Any

from api.rest_params import DEFAULT_LIMIT
from storage.query import MAX_LIMIT

_STR_OR_NULL = {"type": ["string", "null"]}

_BOUND = {
    "anyOf": [
        {"type": "integer", "minimum": 1, "description": "a ledger number"},
        {"type": "string", "format": "date"},
        {"type": "string", "format": "date-time"},
    ]
}

COMMON_PARAMETERS: dict[str, Any] = {
    "from": {
        "name": "from",
        "in": "query",
        "description": "Start (inclusive): a ledger number, or an ISO 8601 date or date-time (UTC unless given).",
        "schema": _BOUND,
    },
    "to": {
        "name": "to",
        "in": "query",
        "description": "End (inclusive): a ledger number, or an ISO 8601 date (its whole day) or date-time.",
        "schema": _BOUND,
    },
    "limit": {
        "name": "limit",
        "in": "query",
        "description": f"Rows per page, 1-{MAX_LIMIT}.",
        "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT},
    },
    "order": {
        "name": "order",
        "in": "query",
        "description": "asc (oldest first) or desc.",
        "schema": {"type": "string", "enum": ["asc", "desc"], "default": "asc"},
    },
    "cursor": {
        "name": "cursor",
        "in": "query",
        "description": "`next_cursor` of the previous page (bound to the same filters), or `now` to start at "
        "the newest row.",
        "schema": {"type": "string"},
    },
}

COMPONENT_SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {
                    "code": {"type": "string", "description": "Stable, machine-readable"},
                    "message": {"type": "string"},
                    "parameter": {"type": "string", "description": "The parameter at fault (400s)"},
                    "processor": {"type": "string", "description": "The processor type to enable (404s)"},
                },
            }
        },
    },
    "Metadata": {
        "type": "object",
        "required": [
            "total_results",
            "total_results_exact",
            "returned_results",
            "query_time_ms",
            "data_sources",
            "next_cursor",
        ],
        "properties": {
            "total_results": {
                "type": "integer",
                "description": "Rows matching the filters (whatever the page); exact up to a cap, past which it "
                "is the cap and total_results_exact is false.",
            },
            "total_results_exact": {"type": "boolean"},
            "returned_results": {"type": "integer"},
            "query_time_ms": {"type": "number"},
            "data_sources": {"type": "array", "items": {"type": "string", "enum": ["hot", "cold"]}},
            "next_cursor": {
                **_STR_OR_NULL,
                "description": "Pass as `cursor` for the next page; null at the end.",
            },
        },
    },
    "Usage": {
        "type": "object",
        "required": ["tenant_id", "month", "processors", "totals", "estimated_monthly_cost_usd"],
        "properties": {
            "tenant_id": {"type": "string"},
            "month": {"type": "string", "description": "The UTC month the request counts cover (YYYY-MM)"},
            "processors": {
                "type": "array",
                "description": "Per processor (and table, in `tables`): `hot` {rows, bytes} and `cold` {rows, "
                "bytes, raw_bytes, files, compression_ratio}",
                "items": {"type": "object"},
            },
            "totals": {"type": "object"},
            "requests_this_month": {"type": "integer"},
            "cold_queries_this_month": {"type": "integer"},
            "prices_usd": {"type": "object", "additionalProperties": {"type": "string"}},
            "estimated_monthly_cost_usd": {
                "type": "object",
                "description": "hot_storage, cold_storage, cold_queries, requests and total, decimal strings",
                "additionalProperties": {"type": "string"},
            },
        },
    },
    "Discovery": {
        "type": "object",
        "required": ["customer_id", "available_endpoints", "rate_limit", "concurrent_requests"],
        "properties": {
            "customer_id": {"type": "string"},
            "name": {"type": "string"},
            "network": {"type": "string"},
            "enabled_processors": {"type": "array", "items": {"type": "string"}},
            "available_endpoints": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["method", "path", "description"],
                    "properties": {
                        "method": {"type": "string"},
                        "path": {"type": "string"},
                        "description": {"type": "string"},
                        "processor": _STR_OR_NULL,
                        "parameters": {"type": "array", "items": {"type": "object"}},
                    },
                },
            },
            "graphql_url": {"type": "string"},
            "rate_limit": {"type": "object"},
            "concurrent_requests": {"type": "integer"},
            "documentation_url": {"type": "string"},
            "openapi_url": {"type": "string"},
            "webhook_events": {
                "type": "array",
                "items": {"type": "object"},
                "description": "The webhook event types this tenant's processors emit (name, processor, "
                "description), which `customer.api.webhook_events` may name.",
            },
            "processors": {
                "type": "array",
                "items": {"type": "object"},
                "description": "The enabled processors with their version (bumped when their output changes).",
            },
        },
    },
}


def _error(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


ERROR_RESPONSES: dict[str, Any] = {
    "400": _error("A parameter is invalid (the message and `parameter` name it)"),
    "401": _error("Missing, unknown or revoked API key"),
    "403": _error("The API key lacks this processor's scope, or the client IP is not allowed"),
    "404": _error("No such tenant, or the processor is not enabled (`processor_not_enabled`)"),
    "429": _error("Rate or concurrency limit reached (see Retry-After)"),
}
