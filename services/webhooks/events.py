"""The webhook event catalogue: every event type the registered processors declare, and endpoint validation.

An event type (`processors.delivery.WebhookEvent`) is made from the rows of one history listing of its processor.
An endpoint names event types and one filter, a JSON object in the vocabulary of the queries: its keys are fields
of the filter model of each event's listing (`processors.listing.Listing.filters`: e.g. token transfers'
``accounts``, ``assets``, ``contracts``, ``min_amount``, ``senders``, ``event_types``), validated by that model
(unknown keys refused) and turned into `storage.query.Filter`s by the listing's own ``to_filters``. The same
filters run as SQL over stored history (preview, backfill) and in Python on the rows of an ingest batch
(`storage.row_match`), so both select the same rows.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from core.errors import BadRequest, invalid_parameter
from core.ids import canonical_json
from core.tenant_config import TenantConfig
from core.validation import error_lines
from processors.base import Processor
from processors.delivery import WebhookEvent
from processors.listing import Listing
from processors.registry import Registry
from storage.query import Filter

MAX_EVENTS = 50  # event types of one endpoint: more than the catalogue holds
MAX_CACHED_FILTERS = 4096


@dataclass(frozen=True)
class CatalogueEvent:
    """One event type: its declaration, the listing its rows come from and the processor emitting it."""

    event: WebhookEvent
    processor: Processor[Any]

    @property
    def name(self) -> str:
        return self.event.name

    @property
    def listing(self) -> Listing[Any]:
        return self.event.listing


@dataclass(frozen=True)
class Subscription:
    """An endpoint's validated choice: its event types (unique, in the order given) and filter."""

    events: tuple[str, ...]
    filter: dict[str, Any]


class EventCatalogue:
    """The event types of a set of processors, by name (the registry checks names are unique)."""

    def __init__(self, processors: Iterable[Processor[Any]]) -> None:
        self._events: dict[str, CatalogueEvent] = {}
        # Filters by (event, the filter's canonical JSON): each ingest batch asks again for every endpoint's.
        self._filters: dict[tuple[str, bytes], tuple[Filter, ...]] = {}
        for processor in processors:
            for event in processor.webhook_events:
                self._events[event.name] = CatalogueEvent(event, processor)

    @classmethod
    def from_registry(cls, registry: Registry) -> EventCatalogue:
        return cls(registry)

    def names(self) -> list[str]:
        return sorted(self._events)

    def get(self, name: str) -> CatalogueEvent | None:
        return self._events.get(name)

    def __getitem__(self, name: str) -> CatalogueEvent:
        found = self._events.get(name)
        if found is None:
            raise invalid_parameter("events", f"unknown webhook event {name!r} (known: {self._known()})")
        return found

    def _known(self) -> str:
        return ", ".join(self.names()) or "none"

    def validate(self, events: object, filter: object, config: TenantConfig) -> Subscription:
        """`events` and `filter` of an endpoint of the tenant `config`, checked: each event must be known and
        emitted by a processor the tenant enables; each filter key a field of every event's listing filter, each
        value valid for it. A problem is a 400 ``invalid_parameter`` naming the event or filter key."""
        names = self._event_names(events, config)
        raw = _filter_object(filter)
        for name in names:
            self.filters_for(name, raw)
        return Subscription(names, dict(raw))

    def _event_names(self, events: object, config: TenantConfig) -> tuple[str, ...]:
        if not isinstance(events, list | tuple) or not events:
            raise invalid_parameter("events", "must be a non-empty list of webhook event names")
        if len(events) > MAX_EVENTS:
            raise invalid_parameter("events", f"at most {MAX_EVENTS} events")
        enabled = {entry.type for entry in config.enabled_processors()}
        names: list[str] = []
        for index, name in enumerate(events):
            where = f"events[{index}]"
            if not isinstance(name, str):
                raise invalid_parameter(where, "must be an event name (a string)")
            found = self._events.get(name)
            if found is None:
                raise invalid_parameter(where, f"unknown webhook event {name!r} (known: {self._known()})")
            if found.processor.type_name not in enabled:
                raise invalid_parameter(
                    where,
                    f"{name} is emitted by {found.processor.type_name}, which tenant "
                    f"{config.customer.id} does not enable",
                )
            if name not in names:
                names.append(name)
        return tuple(names)

    def filters_for(self, event: str, filter: Mapping[str, Any]) -> tuple[Filter, ...]:
        """The storage filters of `event`'s listing for an endpoint filter (validated as `validate` does)."""
        key = (event, canonical_json(dict(filter)))
        cached = self._filters.get(key)
        if cached is None:
            cached = _filters(self[event].listing, event, filter)
            if len(self._filters) >= MAX_CACHED_FILTERS:
                self._filters.clear()
            self._filters[key] = cached
        return cached


def _filter_object(filter: object) -> Mapping[str, Any]:
    if filter is None:
        return {}
    if not isinstance(filter, Mapping) or not all(isinstance(k, str) for k in filter):
        raise invalid_parameter("filter", "must be an object of listing filter fields")
    return filter


def _filters(listing: Listing[Any], event: str, raw: Mapping[str, Any]) -> tuple[Filter, ...]:
    model = listing.filters
    unknown = sorted(set(raw) - set(model.model_fields))
    if unknown:
        fields = ", ".join(sorted(model.model_fields))
        raise invalid_parameter(
            f"filter.{unknown[0]}",
            f"event {event} ({listing.name}) has no filter {unknown[0]!r} (its filters: {fields})",
        )
    try:
        validated = model.model_validate(raw)
    except ValidationError as exc:
        problems = error_lines(exc, "filter")
        raise BadRequest(
            f"{problems[0]} (event {event})",
            code="invalid_parameter",
            details={"parameter": problems[0].split(":", 1)[0], "problems": problems},
        ) from None
    return tuple(listing.to_filters(validated))


def event_filters(
    catalogue: EventCatalogue, events: Sequence[str], filter: Mapping[str, Any]
) -> list[tuple[CatalogueEvent, tuple[Filter, ...]]]:
    """Each of `events` still in the catalogue with its storage filters (an event whose processor has left the
    registry records nothing)."""
    chosen = []
    for name in events:
        found = catalogue.get(name)
        if found is not None:
            chosen.append((found, catalogue.filters_for(name, filter)))
    return chosen
