"""The registry: the one place that knows which processors exist.

Modules are listed explicitly (no plugin discovery), so the set of processors is visible in code review and to
mypy; adding a processor is its folder, its migration and one line in `_MODULES`. Everything else is handed a
`Registry` (built once at the composition root, `default_registry()`) and iterates it instead of importing a
processor. A `Registry` validates its processors when it is built, at start-up of the app, a worker or a command,
never at import time; a clash names the processors involved.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Iterable, Iterator, Mapping
from functools import cache
from typing import Any

from pydantic import BaseModel, ValidationError
from sqlalchemy import Table

from core.errors import FlowError
from core.tenant_config import TenantConfig
from processors import (
    account_balances,
    contract_data,
    contract_events,
    dex_trades,
    dex_volume,
    token_balances,
    token_transfers,
)
from processors.base import Processor
from processors.rest_spec import RestRoute

# Order matters only for display (discovery, scopes): base processors first, derived ones after.
_MODULES = (
    token_transfers,
    contract_events,
    account_balances,
    dex_trades,
    contract_data,
    dex_volume,
    token_balances,
)

_SNAKE_CASE = re.compile(r"[a-z][a-z0-9]*(_[a-z0-9]+)*")
_SUBSCRIPTION_FIELD = re.compile(r"on[A-Z][A-Za-z0-9]*")
# `name` is a table name and reads as a collection. Mass nouns are plural enough ("contract_data",
# "dex_volume"); everything else ends in "s".
_MASS_NOUNS = frozenset({"data", "volume"})


class RegistryError(FlowError):
    """The registered processors contradict each other or the processor contract (a programming error)."""

    code = "registry_error"


class Registry:
    """A validated set of processors, with the lookups the core needs (see the module docstring)."""

    def __init__(self, processors: Iterable[Processor[Any]]) -> None:
        self.processors: tuple[Processor[Any], ...] = tuple(processors)
        validate_registry(self.processors)
        self._by_name = {p.name: p for p in self.processors}
        self._by_type = {p.type_name: p for p in self.processors}

    def __iter__(self) -> Iterator[Processor[Any]]:
        return iter(self.processors)

    def by_name(self, name: str) -> Processor[Any]:
        """The processor named `name`; `KeyError` if there is none."""
        try:
            return self._by_name[name]
        except KeyError:
            raise KeyError(f"unknown processor {name!r}") from None

    def catalogue(self) -> Mapping[str, Processor[Any]]:
        """The processors keyed by config type name (``TokenTransferProcessor``), for `parse_tenant_config`."""
        return self._by_type

    def scopes(self) -> list[str]:
        """API key scopes: ``read:*`` (everything) and ``read:<name>`` for each processor."""
        return ["read:*", *(f"read:{proc.name}" for proc in self.processors)]

    def enabled(self, config: TenantConfig) -> tuple[tuple[Processor[Any], BaseModel], ...]:
        """The tenant's enabled processors with their validated configs, in registry order."""
        configs = {entry.type: entry.config for entry in config.enabled_processors()}
        return tuple((p, configs[p.type_name]) for p in self.processors if p.type_name in configs)

    def enabled_names(self, config: TenantConfig) -> frozenset[str]:
        """Names of the tenant's enabled processors (what its GraphQL schema is built from)."""
        return frozenset(p.name for p, _ in self.enabled(config))

    def configs(self, config: TenantConfig) -> dict[str, BaseModel]:
        """The tenant's processor configs by processor name."""
        return {p.name: processor_config for p, processor_config in self.enabled(config)}

    def tables(self) -> list[tuple[Processor[Any], Table]]:
        """Every processor table with its owner."""
        return [(p, table) for p in self.processors for table in p.tables]

    def routes(self) -> list[RestRoute[Any]]:
        """Every processor's REST routes, in registry order."""
        return [route for p in self.processors for route in p.routes]


@cache
def default_registry() -> Registry:
    """The service's processors (`_MODULES`), validated on first use."""
    return Registry(module.processor for module in _MODULES)


def validate_registry(processors: Iterable[Processor[Any]]) -> None:
    """Check the processors against the contract and each other; raise `RegistryError` listing every clash."""
    items = tuple(processors)
    problems: list[str] = []
    names: dict[str, str] = {}
    type_names: dict[str, str] = {}
    for proc in items:
        label = _label(proc)
        if proc.name in names:
            problems.append(f"{label}: name {proc.name!r} is already used by {names[proc.name]}")
        names.setdefault(proc.name, proc.type_name)
        if proc.type_name in type_names:
            problems.append(
                f"{label}: type name {proc.type_name!r} is already used by {type_names[proc.type_name]}"
            )
        type_names.setdefault(proc.type_name, proc.name)
        problems.extend(f"{label}: {problem}" for problem in _own_problems(proc))
    for proc in items:
        for kind, needed in (("requires", proc.requires), ("uses", proc.uses)):
            for required in needed:
                if required == proc.type_name:
                    problems.append(f"{_label(proc)}: {kind} itself")
                elif required not in type_names:
                    problems.append(f"{_label(proc)}: {kind} unknown processor type {required!r}")
    problems.extend(_clashes(items))
    if problems:
        raise RegistryError(
            "invalid processor registry: " + "; ".join(problems), details={"problems": problems}
        )


def _label(proc: Processor[Any]) -> str:
    return f"{proc.type_name} ({proc.name})"


def _own_problems(proc: Processor[Any]) -> list[str]:
    """Problems of one processor on its own."""
    problems: list[str] = []
    last_word = proc.name.rsplit("_", 1)[-1]
    if not _SNAKE_CASE.fullmatch(proc.name) or not (last_word.endswith("s") or last_word in _MASS_NOUNS):
        problems.append(
            f"name {proc.name!r} is not snake_case plural (it is the table name: token_transfers)"
        )
    if proc.extract is not None and inspect.iscoroutinefunction(proc.extract):
        # Extraction runs once per ledger for every tenant inside the decode loop; it must stay pure and sync.
        problems.append("extract is a coroutine function; extractors must be plain synchronous functions")
    for hook in ("after_write", "on_archive"):
        function = getattr(proc, hook)
        if function is not None and not inspect.iscoroutinefunction(function):
            # Both run inside a database transaction on the event loop; a sync one could not use `conn`.
            problems.append(f"{hook} must be a coroutine function (async def)")
    if not (isinstance(proc.config_model, type) and issubclass(proc.config_model, BaseModel)):
        problems.append("config_model is not a pydantic model")
    else:
        if proc.config_model.model_config.get("extra") != "forbid":
            problems.append("config_model must forbid unknown keys (extra='forbid')")
        try:
            proc.config_model.model_validate({})
        except ValidationError:
            problems.append("config_model must accept an empty config (every field needs a default)")
    own = {id(table) for table in proc.tables}
    if len(proc.archive) > 1:
        # A cold file's key is customer_id=/processor=/year=/month=/part-<first id>-<last id>: one table each.
        problems.append(
            "archive names more than one table (the cold tier keeps one history table per processor)"
        )
    for table in proc.archive:
        if id(table) not in own:
            problems.append(f"archive names table {table.name!r}, which it does not define")
        elif table.info.get("kind") != "history":
            problems.append(f"archive names {table.name!r}, a current-state table (those stay hot)")
    for listing in proc.listings:
        if listing.processor != proc.name or id(listing.table) not in own:
            problems.append(f"listing {listing.name!r} must be over one of its own tables and name it")
    own_listings = {id(listing) for listing in proc.listings}
    for event in proc.webhook_events:
        if not _SNAKE_CASE.fullmatch(event.name):
            problems.append(f"webhook event {event.name!r} is not snake_case")
        if id(event.listing) not in own_listings or event.listing.kind != "history":
            problems.append(f"webhook event {event.name!r} must be made from one of its own history listings")
    for subscription in proc.subscriptions:
        if not _SUBSCRIPTION_FIELD.fullmatch(subscription.field):
            problems.append(f"subscription field {subscription.field!r} is not on<Type>")
        if id(subscription.listing) not in own_listings or subscription.listing.kind != "history":
            problems.append(
                f"subscription {subscription.field!r} must stream one of its own history listings"
            )
    for route in proc.routes:
        if route.processor != proc.name:
            problems.append(f"route {route.path} names processor {route.processor!r}, not its owner")
    return problems


def _clashes(items: tuple[Processor[Any], ...]) -> list[str]:
    """Names that must be unique across processors: tables, listings, routes, webhook events, subscriptions."""
    problems: list[str] = []
    seen: dict[tuple[str, str], str] = {}

    def claim(kind: str, key: str, proc: Processor[Any]) -> None:
        owner = seen.setdefault((kind, key), _label(proc))
        if owner != _label(proc):
            problems.append(f"{_label(proc)}: {kind} {key!r} is already defined by {owner}")

    for proc in items:
        for table in proc.tables:
            claim("table", table.name, proc)
        for listing in proc.listings:
            claim("listing", listing.name, proc)
        for route in proc.routes:
            # A fallback route gives way to a non-fallback one on the same path (see processors.rest_spec).
            claim("fallback route" if route.fallback else "route", f"{route.method} {route.path}", proc)
        for event in proc.webhook_events:
            claim("webhook event", event.name, proc)
        for subscription in proc.subscriptions:
            claim("subscription field", subscription.field, proc)
    return problems
