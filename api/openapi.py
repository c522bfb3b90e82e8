"""`GET /api/v1/{customer_id}/openapi.json`: an OpenAPI 3.1 document of exactly this tenant's REST routes.

Generated from the same route specs the routes are built from, the listings' filter models (parameter schemas
and descriptions) and the tables (row schemas), so the document cannot drift from what the routes accept and
return. Built once per (processor set, tenant, server URL) and cached.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from api.cost import USAGE_DESCRIPTION
from api.rest_catalogue import enabled_routes, processor_type
from api.rest_params import is_list_field
from api.rest_rows import json_response
from api.rest_schemas import COMMON_PARAMETERS, COMPONENT_SCHEMAS, ERROR_RESPONSES
from api.state import app_state
from processors.listing import Listing
from processors.registry import Registry
from processors.rest_spec import RestParam, RestRoute
from services.ingestion_progress import INGESTION_DESCRIPTION
from storage.columns import ColumnKind, RowField, table_fields

# The JSON schema of each column kind (`storage.columns`, the one mapping all renderings share).
_KIND_SCHEMAS: dict[ColumnKind, dict[str, Any]] = {
    ColumnKind.AMOUNT: {"type": "string", "pattern": "^-?[0-9]+$", "description": "raw integer amount"},
    ColumnKind.BIG_INTEGER: {
        "type": "string",
        "pattern": "^-?[0-9]+$",
        "description": "64-bit integer, as a string",
    },
    ColumnKind.DATETIME: {"type": "string", "format": "date-time"},
    ColumnKind.BOOLEAN: {"type": "boolean"},
    ColumnKind.INTEGER: {"type": "integer"},
    ColumnKind.ASSET: {"type": "string"},
    ColumnKind.TEXT: {"type": "string"},
}


def pascal(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_"))


def field_json_schema(row_field: RowField) -> dict[str, Any]:
    if row_field.kind is ColumnKind.JSON:
        return {"description": "decoded JSON"}  # any JSON value (including null)
    schema = dict(_KIND_SCHEMAS[row_field.kind])
    if row_field.choices:
        schema["enum"] = list(row_field.choices)
    if row_field.description:
        schema["description"] = row_field.description
    if row_field.nullable:
        schema["type"] = [schema["type"], "null"]
    return schema


def row_schema(fields: Iterable[RowField], optional: Iterable[RowField] = ()) -> dict[str, Any]:
    """An object schema: every one of `fields` required (nullable ones may be null), `optional` ones not."""
    fields, optional = tuple(fields), tuple(optional)
    return {
        "type": "object",
        "properties": {f.name: field_json_schema(f) for f in (*fields, *optional)},
        "required": [f.name for f in fields],
    }


def field_schema(listing: Listing[Any], field: str) -> dict[str, Any]:
    """The JSON schema of one value of a filter field (a list field's item)."""
    properties = listing.filters.model_json_schema()["properties"]
    schema = copy.deepcopy(properties[field])
    if schema.get("type") == "array":
        schema = schema["items"]
    options = [s for s in schema.get("anyOf", []) if s.get("type") != "null"]
    if len(options) == 1:
        schema = options[0]
    if schema.get("type") == "array":
        schema = schema["items"]
    return {k: v for k, v in schema.items() if k not in ("title", "default", "description")}


def parameter(listing: Listing[Any], param: RestParam, where: str) -> dict[str, Any]:
    field, _, half = param.field.partition(":")
    doc = listing.filters.model_fields[field].description or ""
    value = (
        dict(param.schema) if param.schema else ({"type": "string"} if half else field_schema(listing, field))
    )
    out: dict[str, Any] = {"name": param.name, "in": where, "description": param.description or doc}
    if where == "path":
        out.update(required=True, schema=value)
    elif not half and is_list_field(listing.filters, field):
        out.update(schema={"type": "array", "items": value}, style="form", explode=False)
        out["description"] += " Several values: comma-separated (any of them matches)."
    else:
        out["schema"] = value
    return out


def route_parameters(route: RestRoute[Any], *, common_as_refs: bool = False) -> list[dict[str, Any]]:
    """The route's OpenAPI parameters: path, then the common ones it takes, then its own filters."""
    listing = route.listing
    common = [
        {"$ref": f"#/components/parameters/{name}"} if common_as_refs else COMMON_PARAMETERS[name]
        for name in route.common
    ]
    return [
        *(parameter(listing, p, "path") for p in route.path_params),
        *common,
        *(parameter(listing, p, "query") for p in route.params),
    ]


def _row_schema_ref(route: RestRoute[Any], schemas: dict[str, Any]) -> str:
    if route.reading is not None:
        name, fields = route.reading.row_type, route.reading.fields
        schemas[name] = row_schema(fields)
        return name
    name, fields = f"{pascal(route.listing.name)}Row", table_fields(route.listing.table)
    if route.annotation is None:
        schemas[name] = row_schema(fields)
        return name
    # Annotations depend on the request's filters (a direction only relative to an account asked about).
    name = f"{pascal(route.listing.name)}{route.annotation.name}Row"
    schemas[name] = row_schema(fields, optional=route.annotation.fields)
    return name


def operation(route: RestRoute[Any], processor_type: str, schemas: dict[str, Any]) -> dict[str, Any]:
    row_ref = f"#/components/schemas/{_row_schema_ref(route, schemas)}"
    envelope = {
        "type": "object",
        "required": ["data", "metadata"],
        "properties": {
            "data": {
                "type": "array",
                "items": {"$ref": row_ref},
            },
            "metadata": {"$ref": "#/components/schemas/Metadata"},
        },
    }
    parameters = route_parameters(route, common_as_refs=True)
    return {
        "operationId": route.operation_id,
        "summary": route.summary or route.path,
        "description": route.description,
        "tags": [processor_type],
        "parameters": parameters,
        "responses": {
            "200": {
                "description": "A page of rows in the envelope",
                "headers": {
                    "Latest-Ledger": {"$ref": "#/components/headers/LatestLedger"},
                    "X-Cache": {"$ref": "#/components/headers/XCache"},
                },
                "content": {"application/json": {"schema": envelope}},
            },
            **ERROR_RESPONSES,
        },
    }


@lru_cache(maxsize=256)
def _document(
    registry: Registry, enabled: frozenset[str], tenant_id: str, tenant_name: str, server_url: str
) -> bytes:
    schemas: dict[str, Any] = copy.deepcopy(COMPONENT_SCHEMAS)
    paths: dict[str, Any] = {
        "/": {
            "get": {
                "operationId": "discovery",
                "summary": "Discovery",
                "description": "This tenant's endpoints (method, description, parameters) and limits.",
                "tags": ["Discovery"],
                "responses": {
                    "200": {
                        "description": "What this tenant's API offers",
                        "headers": {"Latest-Ledger": {"$ref": "#/components/headers/LatestLedger"}},
                        "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/Discovery"}}
                        },
                    },
                    **ERROR_RESPONSES,
                },
            }
        }
    }
    paths["/usage"] = {
        "get": {
            "operationId": "usage",
            "summary": "Usage and cost",
            "description": USAGE_DESCRIPTION
            + " (any valid key of the tenant; money as decimal strings in USD).",
            "tags": ["Usage"],
            "responses": {
                "200": {
                    "description": "The tenant's cost report",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Usage"}}},
                },
                **ERROR_RESPONSES,
            },
        }
    }
    paths["/ingestion"] = {
        "get": {
            "operationId": "ingestion",
            "summary": "Ingestion",
            "description": INGESTION_DESCRIPTION + " (any valid key of the tenant).",
            "tags": ["Usage"],
            "responses": {
                "200": {
                    "description": "The tenant's ingestion per processor",
                    "content": {"application/json": {"schema": {"type": "object"}}},
                },
                **ERROR_RESPONSES,
            },
        }
    }
    for route in enabled_routes(registry, enabled):
        op = operation(route, processor_type(registry, route), schemas)
        paths.setdefault(route.path, {})[route.method.lower()] = op
    document = {
        "openapi": "3.1.0",
        "info": {
            "title": f"Obsrvr Flow REST API: {tenant_name}",
            "version": "1",
            "description": "Stellar data indexed for this tenant. Rows come in the envelope "
            "`{data, metadata}`; amounts are strings of raw units; page with `next_cursor`. Every response "
            "of an authenticated request carries `Latest-Ledger`.",
        },
        "servers": [{"url": server_url}],
        "security": [{"bearerAuth": []}],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "parameters": COMMON_PARAMETERS,
            "responses": {},
            "headers": {
                "LatestLedger": {
                    "description": "The last ledger ingested for the tenant's network",
                    "schema": {"type": "integer"},
                },
                "XCache": {
                    "description": "`hit`: answered from the response cache (an identical request of this tenant "
                    "with a key of the same scopes, within the tenant's `cache_ttl_seconds`, since the last ledger "
                    "committed); `miss`: computed now. Absent when the tenant's cache is off (TTL 0).",
                    "schema": {"type": "string", "enum": ["hit", "miss"]},
                },
            },
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer", "description": "An API key: ofk_..."}
            },
        },
    }
    return bytes(json_response(document).body)


def document_for(request: Request) -> bytes:
    """The tenant's OpenAPI document (JSON bytes) as served to `request`."""
    tenant = request.scope["state"]["principal"].tenant
    server_url = f"{str(request.base_url).rstrip('/')}/api/v1/{tenant.id}"
    config = tenant.config
    registry = app_state(request).registry
    return _document(registry, registry.enabled_names(config), tenant.id, config.customer.name, server_url)


async def endpoint(request: Request) -> Response:
    return Response(document_for(request), media_type="application/json")
