"""A listing's GraphQL filter input, made from its pydantic filter model, and back.

The input has one optional field per model field (camelCased; addresses typed ``Address``, assets ``Asset``,
raw amounts ``BigInt``) plus the ranges every listing takes: ``from``/``to`` (on the listing's time column) and
``fromLedger``/``toLedger``. The values given are validated by the same pydantic model the REST API uses, so a
contract filter given an account, or an unknown event type, is refused with the path of the bad value
(``filter.contracts[0]: not a contract address``) exactly as REST refuses it.
"""

from __future__ import annotations

import types
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError
from strawberry.annotation import StrawberryAnnotation
from strawberry.tools import create_type
from strawberry.types.field import StrawberryField

from core.errors import BadRequest, invalid_parameter
from core.ids import MAX_LEDGER
from processors.config_types import AccountAddress, Address, AssetId, ContractAddress, RawAmount
from processors.listing import Listing
from resolvers import scalars
from resolvers.row_types import camel
from storage.query import Filter

RANGE_FIELDS = {
    "from_time": ("from", datetime, "Rows at or after this time (the listing's time column)."),
    "to_time": ("to", datetime, "Rows at or before this time."),
    "from_ledger": ("fromLedger", int, "Rows of this ledger or later."),
    "to_ledger": ("toLedger", int, "Rows of this ledger or earlier."),
}
# Built once per listing for the life of the process: every schema with the listing shares the input type.
_INPUTS: dict[Listing[Any], Any] = {}


@dataclass(frozen=True)
class ListingFilter:
    """A validated filter: storage filters and ranges, ready for a `storage.query.Query`."""

    filters: tuple[Filter, ...] = ()
    from_time: datetime | None = None
    to_time: datetime | None = None
    from_ledger: int | None = None
    to_ledger: int | None = None


def _scalar(annotation: Any) -> Any:
    if annotation in (Address, AccountAddress, ContractAddress):
        return scalars.Address
    if annotation == AssetId:
        return scalars.Asset
    if annotation == RawAmount:
        return scalars.BigInt
    if annotation in (bool, int):
        return annotation
    return str  # plain strings and Literal choices (the model names the allowed values when refusing one)


def _graphql_type(annotation: Any) -> Any:
    origin = get_origin(annotation)
    if origin is list:
        return list[_scalar(get_args(annotation)[0])]  # type: ignore[misc]
    if origin in (Union, types.UnionType):
        inner = [a for a in get_args(annotation) if a is not type(None)]
        return _graphql_type(inner[0])
    if origin is Literal:
        return str
    return _scalar(annotation)


def filter_input(listing: Listing[Any], type_name: str) -> Any:
    """The GraphQL input type of `listing`'s filters, named `type_name` (built once per listing)."""
    if listing in _INPUTS:
        return _INPUTS[listing]
    fields = []
    for name, info in listing.filters.model_fields.items():
        fields.append(
            StrawberryField(
                python_name=name,
                graphql_name=camel(name),
                type_annotation=StrawberryAnnotation(_graphql_type(info.annotation) | None),
                default=None,
                description=info.description,
            )
        )
    for name, (graphql_name, kind, description) in RANGE_FIELDS.items():
        fields.append(
            StrawberryField(
                python_name=name,
                graphql_name=graphql_name,
                type_annotation=StrawberryAnnotation(kind | None),
                default=None,
                description=description,
            )
        )
    doc = (listing.filters.__doc__ or "").strip() or None
    _INPUTS[listing] = create_type(type_name, fields, is_input=True, description=doc)
    return _INPUTS[listing]


def _where(loc: tuple[int | str, ...]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else f".{camel(part)}"
    return text


def _invalid(problems: list[str]) -> BadRequest:
    # The code REST gives the same fault, naming the path of the first bad value.
    parameter, _, first = problems[0].partition(": ")
    return invalid_parameter(parameter, "; ".join([first, *problems[1:]]), problems=problems)


def read_filter(listing: Listing[Any], value: Any, argument: str = "filter") -> ListingFilter:
    """Validate a filter input with the listing's model; a bad value is a 400 naming its path."""
    if value is None:
        data: dict[str, Any] = {}
    else:
        data = {
            name: getattr(value, name)
            for name in listing.filters.model_fields
            if getattr(value, name, None) is not None
        }
    try:
        model: BaseModel = listing.filters.model_validate(data)
    except ValidationError as exc:
        problems = [f"{argument}{_where(e['loc'])}: {e['msg']}" for e in exc.errors()]
        raise _invalid(problems) from None
    ranges: dict[str, Any] = {name: getattr(value, name, None) for name in RANGE_FIELDS} if value else {}
    for name in ("from_ledger", "to_ledger"):
        ledger = ranges.get(name)
        if ledger is not None and not 1 <= ledger <= MAX_LEDGER:  # REST's bounds for `from`/`to` ledgers
            raise _invalid(
                [f"{argument}.{RANGE_FIELDS[name][0]}: a ledger number must be from 1 to {MAX_LEDGER}"]
            )
    for low, high in (("from_time", "to_time"), ("from_ledger", "to_ledger")):
        start, end = ranges.get(low), ranges.get(high)
        if start is not None and end is not None and start > end:
            low_name, high_name = RANGE_FIELDS[low][0], RANGE_FIELDS[high][0]
            raise _invalid([f"{argument}: {low_name} is after {high_name}"])
    return ListingFilter(filters=listing.to_filters(model), **ranges)
