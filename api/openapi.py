"""`GET /api/v1/{customer_id}/openapi.json`: an OpenAPI 3.1 document of exactly this tenant's REST routes.

Generated from the same route specs the routes are built from, the listings' filter models (parameter schemas
and descriptions) and the tables (row schemas), so the document cannot drift from what the routes accept and
return. Built once per (processor set, tenant, server URL) and cached.
"""

from __future__ import annotations

import copy
from functools import lru_cache
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Integer, Table
from starlette.requests import Request
from starlette.responses import Response

from api.rest_catalogue import enabled_routes, listing_named, processor_type
from api.rest_params import COMMON_BY_KIND, is_list_field
from api.rest_rows import json_response
from api.rest_schemas import COMMON_PARAMETERS, COMPONENT_SCHEMAS, ERROR_RESPONSES
from processors.listing import Listing
from processors.rest_spec import RestParam, RestRoute
from storage.amounts import Amount
from storage.processor_tables import is_wide_integer
from storage.tables import UTCDateTime

# Fields of a token balance row that are present whichever way it was computed (ledger state or transfers).
TOKEN_BALANCE_FIELDS = (
    "account_id",
    "asset",
    "balance_raw",
    "balance",
    "exact",
    "source",
    "deleted",
    "last_modified_ledger",
)


def pascal(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_"))


def column_schema(column: Any) -> dict[str, Any]:
    kind = column.type
    if isinstance(kind, JSON):
        return {"description": "decoded JSON"}  # any JSON value (including null)
    if is_wide_integer(column):
        schema: dict[str, Any] = {
            "type": "string",
            "pattern": "^-?[0-9]+$",
            "description": "raw integer amount"
            if isinstance(kind, Amount)
            else "64-bit integer, as a string",
        }
    elif isinstance(kind, UTCDateTime):
        schema = {"type": "string", "format": "date-time"}
    elif isinstance(kind, Boolean):
        schema = {"type": "boolean"}
    elif isinstance(kind, Integer | BigInteger):
        schema = {"type": "integer"}
    else:
        schema = {"type": "string"}
    if column.nullable:
        schema["type"] = [schema["type"], "null"]
    return schema


def row_schema(table: Table, required: tuple[str, ...] | None = None) -> dict[str, Any]:
    columns = [c for c in table.columns if c.name != "tenant_id"]
    return {
        "type": "object",
        "properties": {str(c.name): column_schema(c) for c in columns},
        "required": list(required) if required is not None else [str(c.name) for c in columns],
    }


def field_schema(listing: Listing, field: str) -> dict[str, Any]:
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


def parameter(listing: Listing, param: RestParam, where: str) -> dict[str, Any]:
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


def route_parameters(
    route: RestRoute, listing: Listing, *, common_as_refs: bool = False
) -> list[dict[str, Any]]:
    """The route's OpenAPI parameters: path, then paging, then its own filters."""
    common = [
        {"$ref": f"#/components/parameters/{name}"} if common_as_refs else COMMON_PARAMETERS[name]
        for name in COMMON_BY_KIND[route.kind]
    ]
    return [
        *(parameter(listing, p, "path") for p in route.path_params),
        *common,
        *(parameter(listing, p, "query") for p in route.params),
    ]


def _row_schema_ref(route: RestRoute, listing: Listing, schemas: dict[str, Any]) -> str:
    if route.kind == "pair_stats":
        return "PairStats"
    name = f"{pascal(listing.name)}Row"
    if route.kind == "token_balances":
        schemas[name] = row_schema(listing.table, TOKEN_BALANCE_FIELDS)
    elif route.relative_to:
        name = f"{pascal(listing.name)}RelativeRow"
        schema = row_schema(listing.table)
        schema["properties"]["direction"] = {
            "type": "string",
            "enum": ["sent", "received"],
            "description": f"With `{route.relative_to}`: whether it sent or received this movement.",
        }
        schema["properties"]["counterparty"] = {"type": ["string", "null"], "description": "The other side."}
        schemas[name] = schema
    else:
        schemas[name] = row_schema(listing.table)
    return name


def operation(
    route: RestRoute, listing: Listing, processor_type: str, schemas: dict[str, Any]
) -> dict[str, Any]:
    row_ref = f"#/components/schemas/{_row_schema_ref(route, listing, schemas)}"
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
    parameters = route_parameters(route, listing, common_as_refs=True)
    return {
        "operationId": route.operation_id,
        "summary": route.summary or route.path,
        "description": route.description,
        "tags": [processor_type],
        "parameters": parameters,
        "responses": {
            "200": {
                "description": "A page of rows in the envelope",
                "headers": {"Latest-Ledger": {"$ref": "#/components/headers/LatestLedger"}},
                "content": {"application/json": {"schema": envelope}},
            },
            **ERROR_RESPONSES,
        },
    }


@lru_cache(maxsize=256)
def _document(enabled: frozenset[str], tenant_id: str, tenant_name: str, server_url: str) -> bytes:
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
    for route in enabled_routes(enabled):
        op = operation(route, listing_named(route.listing), processor_type(route), schemas)
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
                }
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
    return _document(config.enabled_types(), tenant.id, config.customer.name, server_url)


async def endpoint(request: Request) -> Response:
    return Response(document_for(request), media_type="application/json")
