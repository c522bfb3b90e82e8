"""Query-string parsing for the REST routes: every value checked, every refusal a 400 naming the parameter.

A route's own parameters fill the fields of its listing's filter model (`processors.rest_spec.RestParam`), which
validates them exactly as GraphQL's filter input does; the common paging parameters (`from`, `to`, `limit`,
`order`, `cursor`) become the `Query`'s ranges, limit, direction and position.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Mapping
from datetime import UTC, date, datetime, time
from typing import Any

from pydantic import BaseModel, ValidationError
from starlette.datastructures import QueryParams

from core.errors import BadRequest, invalid_parameter
from core.ids import MAX_LEDGER
from core.instants import utc_instant
from ledgers.strkeys import parse_asset
from processors.rest_spec import RestParam, RestRoute
from storage.query import MAX_LIMIT

DEFAULT_LIMIT = 10
SINGLE_VALUED = ("from", "to", "limit", "order", "cursor")
"""The common parameters, each taking one value: given twice, a 400 (as a route's single-valued filters)."""


def invalid(parameter: str, message: str, code: str = "invalid_parameter") -> BadRequest:
    if code == "invalid_parameter":
        return invalid_parameter(parameter, message)
    return BadRequest(f"{parameter}: {message}", code=code, details={"parameter": parameter})


def is_list_field(model: type[BaseModel], name: str) -> bool:
    annotation = model.model_fields[name].annotation
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        return any(typing.get_origin(arg) is list for arg in typing.get_args(annotation))
    return origin is list


def check_known(params: QueryParams, route: RestRoute[Any]) -> None:
    """Unknown parameters are refused: a typo must not silently widen a query."""
    known = {*route.common, *(p.name for p in route.params)}
    unknown = sorted(set(params.keys()) - known)
    if unknown:
        raise invalid(
            unknown[0],
            f"unknown parameter; this route takes {', '.join(sorted(known)) or 'no parameters'}",
            code="unknown_parameter",
        )
    for name in SINGLE_VALUED:
        if len(params.getlist(name)) > 1:
            # The last value would win silently: `from` twice could widen a range the client meant to narrow.
            raise invalid(name, "give one value")


def _values(params: QueryParams, name: str) -> list[str]:
    """All values of `name`, repeated or comma-separated."""
    out: list[str] = []
    for raw in params.getlist(name):
        for item in raw.split(","):
            item = item.strip()
            if not item:
                raise invalid(name, "empty value")
            out.append(item)
    return out


def filter_model(route: RestRoute[Any], params: QueryParams, path_params: Mapping[str, Any]) -> BaseModel:
    """The route's listing's filter model filled from the route's path and query parameters."""
    model = route.listing.filters
    data: dict[str, Any] = {}
    owners: dict[str, str] = {}  # filter field -> the parameter that filled it (for error messages)

    def put(param: RestParam, values: list[str]) -> None:
        if is_list_field(model, param.field):
            data.setdefault(param.field, []).extend(values)
        elif len(values) > 1:
            raise invalid(param.name, "give one value")
        else:
            data[param.field] = values[0]
        owners.setdefault(param.field, param.name)

    for param in route.path_params:
        put(param, [str(path_params[param.name])])
    halves: dict[str, dict[str, str]] = {}
    for param in route.params:
        values = _values(params, param.name)
        if not values:
            continue
        field, _, half = param.field.partition(":")
        if half:  # `base` / `counter`: the two halves of one pair
            if len(values) > 1:
                raise invalid(param.name, "give one value")
            try:
                parse_asset(values[0])
            except ValueError:
                raise invalid(param.name, "not an asset (native, CODE:ISSUER or a contract id)") from None
            halves.setdefault(field, {})[half] = values[0]
            owners.setdefault(field, param.name)
            continue
        put(param, values)
    for field, pair in halves.items():
        for needed, other in (("base", "counter"), ("counter", "base")):
            if needed not in pair:
                raise invalid(needed, f"give both base and counter ({other} was given)")
        data.setdefault(field, []).append(f"{pair['base']}/{pair['counter']}")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        field = str(error["loc"][0]) if error["loc"] else ""
        raise invalid(owners.get(field, field), str(error["msg"])) from None


def parse_limit(params: QueryParams) -> int:
    raw = params.get("limit")
    if raw is None:
        return DEFAULT_LIMIT
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 3) or not 1 <= int(raw) <= MAX_LIMIT:
        raise invalid("limit", f"must be an integer from 1 to {MAX_LIMIT}")
    return int(raw)


def parse_order(params: QueryParams) -> bool:
    """True for descending."""
    raw = params.get("order", "asc")
    if raw not in ("asc", "desc"):
        raise invalid("order", "must be asc or desc")
    return raw == "desc"


def parse_bound(name: str, raw: str) -> datetime | int:
    """A ledger number (digits) or an ISO 8601 date or date-time (UTC unless it says otherwise). A date alone
    means the start of that day for `from` and its end for `to`, so `to=2025-01-31` includes the 31st. Dates
    are clamped into the span of `core.instants` (no ledger closed outside it)."""
    if raw.isascii() and raw.isdigit():
        ledger = int(raw) if len(raw) <= 10 else MAX_LEDGER + 1
        if not 1 <= ledger <= MAX_LEDGER:
            raise invalid(name, f"a ledger number must be from 1 to {MAX_LEDGER}")
        return ledger
    try:
        if len(raw) == 10:
            day = date.fromisoformat(raw)
            return utc_instant(datetime.combine(day, time.max if name == "to" else time.min, tzinfo=UTC))
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise invalid(
            name, "give a ledger number or an ISO 8601 date (2025-01-31 or 2025-01-31T12:00:00Z)"
        ) from None
    return utc_instant(moment)


def parse_bounds(params: QueryParams) -> dict[str, datetime | int]:
    """`from` / `to` as given: ledger numbers or aware UTC datetimes."""
    return {name: parse_bound(name, params[name]) for name in ("from", "to") if name in params}


def parse_range(params: QueryParams) -> dict[str, Any]:
    """`Query` keyword arguments for `from` / `to` (time or ledger bounds)."""
    out: dict[str, Any] = {}
    bounds = parse_bounds(params)
    for name, value in bounds.items():
        kind = "ledger" if isinstance(value, int) else "time"
        out[f"{name}_{kind}"] = value
    low, high = bounds.get("from"), bounds.get("to")
    if low is not None and high is not None and type(low) is type(high) and low > high:  # type: ignore[operator]
        raise invalid("from", "is after to")
    return out
