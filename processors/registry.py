"""The registry: the one place that knows which processors exist.

Modules are listed explicitly (no plugin discovery), so the set of processors is visible in code review and to
mypy. Everything else iterates the registry instead of importing a processor. The registry is validated the
first time it is used (at start-up of the app, a worker or the CLI), never at import time.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Iterable
from functools import cache

from pydantic import BaseModel, ValidationError

from core.errors import FlowError
from core.tenant_config import WEBHOOK_EVENTS
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
# `name` is a table name and reads as a collection. Mass nouns are plural enough ("contract_data",
# "dex_volume"); everything else ends in "s".
_MASS_NOUNS = frozenset({"data", "volume"})


class RegistryError(FlowError):
    """The registered processors contradict each other or the processor contract (a programming error)."""

    code = "registry_error"


def validate_registry(processors: Iterable[Processor]) -> None:
    """Check the processors against the contract and each other; raise `RegistryError` listing every clash."""
    items = tuple(processors)
    problems: list[str] = []
    names: dict[str, str] = {}
    type_names: dict[str, str] = {}
    for proc in items:
        label = f"{proc.type_name} ({proc.name})"
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
        for required in proc.requires:
            if required == proc.type_name:
                problems.append(f"{proc.type_name} ({proc.name}): requires itself")
            elif required not in type_names:
                problems.append(
                    f"{proc.type_name} ({proc.name}): requires unknown processor type {required!r}"
                )
    if problems:
        raise RegistryError(
            "invalid processor registry: " + "; ".join(problems), details={"problems": problems}
        )


def _own_problems(proc: Processor) -> list[str]:
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
    if not (isinstance(proc.config_model, type) and issubclass(proc.config_model, BaseModel)):
        problems.append("config_model is not a pydantic model")
    else:
        if proc.config_model.model_config.get("extra") != "forbid":
            problems.append("config_model must forbid unknown keys (extra='forbid')")
        try:
            proc.config_model.model_validate({})
        except ValidationError:
            problems.append("config_model must accept an empty config (every field needs a default)")
    unknown_events = [e for e in proc.webhook_events if e not in WEBHOOK_EVENTS]
    if unknown_events:
        problems.append(f"unknown webhook events {unknown_events} (known: {', '.join(WEBHOOK_EVENTS)})")
    table_names = {getattr(table, "name", None) for table in proc.tables}
    missing = [name for name in proc.archive if name not in table_names]
    if missing:
        problems.append(f"archive names tables it does not define: {', '.join(missing)}")
    return problems


@cache
def all_processors() -> tuple[Processor, ...]:
    """Every registered processor, validated on first use."""
    processors = tuple(module.processor for module in _MODULES)
    validate_registry(processors)
    return processors


def catalogue() -> dict[str, Processor]:
    """The processors keyed by config type name (``TokenTransferProcessor``), for `parse_tenant_config`."""
    return {proc.type_name: proc for proc in all_processors()}


def by_name(name: str) -> Processor:
    """The processor whose `name` (table name, REST path segment) is `name`; `KeyError` if there is none."""
    for proc in all_processors():
        if proc.name == name:
            return proc
    raise KeyError(f"unknown processor {name!r}")


def scopes() -> list[str]:
    """API key scopes: ``read:*`` (everything) and ``read:<name>`` for each processor."""
    return ["read:*", *(f"read:{proc.name}" for proc in all_processors())]
