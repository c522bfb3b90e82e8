"""`Listing`: one list query a processor serves to the APIs (a table, the filters callers may apply).

GraphQL and REST both build their arguments from a processor's listings: the filter model is the GraphQL filter
input and the REST query parameters, validated the same way (strkeys, assets, enums), and `to_filters` turns a
validated model into the generic `storage.query.Filter`s that storage runs. One definition per listing, so the
two APIs filter identically by construction.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, field_validator
from pydantic_core import PydanticCustomError
from sqlalchemy import Table

from core.validation import unstorable_text
from storage.query import Filter

# Values one list filter takes: a query names a few accounts or contracts, not a table's worth (each value is a
# bind parameter of one statement, and the database takes at most ~32k).
MAX_FILTER_VALUES = 100

# Filter models refuse unknown keys (a typo is an error, not an ignored filter) and are shared read-only.
FILTER_MODEL_CONFIG = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

F = TypeVar("F", bound=BaseModel)


class FilterModel(BaseModel):
    """Base of every listing's filter model: unknown keys refused, frozen, field docstrings as descriptions; and no
    text value the database cannot take (a NUL character, a lone surrogate: `core.validation.unstorable_text`),
    for both APIs alike since both validate with the model."""

    model_config = FILTER_MODEL_CONFIG

    @field_validator("*", mode="before")
    @classmethod
    def _storable_text(cls, value: object) -> object:
        items = value if isinstance(value, list) else [value]
        for item in items:
            problem = unstorable_text(item) if isinstance(item, str) else None
            if problem is not None:
                raise PydanticCustomError("unstorable_text", problem)
        return value


@dataclass(frozen=True)
class Listing(Generic[F]):
    """A list query over one of a processor's tables.

    ``name``: unique across processors (the processor name for its history table, ``<name>_current`` style for
    a current-state table); ``processor``: the owner's name (the API key needs ``read:<processor>``);
    ``kind``: ``history`` (rows in order-key order, ids as cursors) or ``current`` (one row per entity, ordered
    by its key); ``time_column``: what the ``from``/``to`` time range applies to.
    """

    name: str
    processor: str
    table: Table
    filters: type[F]
    to_filters: Callable[[F], tuple[Filter, ...]]
    description: str
    time_column: str = "closed_at"

    @property
    def kind(self) -> str:
        return str(self.table.info.get("kind", "history"))


def any_of(column: str | tuple[str, ...], values: list[Any] | tuple[Any, ...]) -> tuple[Filter, ...]:
    """A filter only when the list is non-empty (empty means "all", as in tenant configs)."""
    return (Filter.any_of(column, values),) if values else ()
