"""The per-tenant filter of contract data: `select(rows, config)`.

Semantics (each kind optional; kinds combine with AND, the values of one kind with OR; empty means "all"):

- ``contracts``: ``contract_id`` is one of them;
- ``key_symbols``: ``key_symbol`` is one of them (a symbol key, or a vector key's first symbol: ``Balance``
  keeps ``["Balance", addr]``);
- ``durability``: ``persistent`` and/or ``temporary``;
- ``include_instances``: when false, contract instance entries (key ``ScvLedgerKeyContractInstance``) are
  dropped.

History rows are kept only when known to match: an evicted row, whose key the ledger does not show, is
dropped by a ``key_symbols`` filter and by ``include_instances: false``.

TTL moves (`contract_data_ttl_updates`) go the other way: one is dropped only when what the same ledger tells
of its key proves it outside the filter; otherwise it is kept, since it can only move a current row that the
tenant already holds (``after_write`` matches moves to current rows by key hash) and never adds one.

`select` never mutates its input: the extracted rows are shared by every tenant of the ledger.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from processors.contract_data.config import ContractDataConfig
from processors.contract_data.instances import INSTANCE_KEY_TYPE
from processors.contract_data.table import HISTORY, TTL_UPDATES

Rows = list[dict[str, Any]]


@dataclass(frozen=True, slots=True)
class _Matcher:
    contracts: frozenset[str] | None
    key_symbols: frozenset[str] | None
    durability: frozenset[str] | None
    include_instances: bool

    @property
    def keeps_everything(self) -> bool:
        return (
            self.contracts is None
            and self.key_symbols is None
            and self.durability is None
            and self.include_instances
        )

    def keeps_row(self, row: Mapping[str, Any]) -> bool:
        """A history row: kept only when known to match (an unknown key matches no key filter)."""
        if self.contracts is not None and row["contract_id"] not in self.contracts:
            return False
        if self.durability is not None and row["durability"] not in self.durability:
            return False
        key_type = row["key_type"]
        if not self.include_instances and (key_type is None or key_type == INSTANCE_KEY_TYPE):
            return False
        return self.key_symbols is None or row["key_symbol"] in self.key_symbols

    def keeps_move(self, move: Mapping[str, Any]) -> bool:
        """A TTL move: dropped only when known not to match (null hints are unknown, see the docstring)."""
        contract_id, durability = move["contract_id"], move["durability"]
        if self.contracts is not None and contract_id is not None and contract_id not in self.contracts:
            return False
        if self.durability is not None and durability is not None and durability not in self.durability:
            return False
        key_type = move["key_type"]
        if key_type is None:  # the key itself is unknown
            return True
        if not self.include_instances and key_type == INSTANCE_KEY_TYPE:
            return False
        return self.key_symbols is None or move["key_symbol"] in self.key_symbols


_ConfigKey = tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...], bool]


def _key(config: ContractDataConfig) -> _ConfigKey:
    # The config model is frozen but holds lists (unhashable): this tuple form is its cache key.
    return (
        tuple(config.contracts),
        tuple(config.key_symbols),
        tuple(config.durability),
        config.include_instances,
    )


@lru_cache(maxsize=1024)
def _compile(key: _ConfigKey) -> _Matcher:
    contracts, key_symbols, durability, include_instances = key
    return _Matcher(
        contracts=frozenset(contracts) or None,
        key_symbols=frozenset(key_symbols) or None,
        durability=frozenset(durability) or None,
        include_instances=include_instances,
    )


def select(rows: Mapping[str, Rows], config: ContractDataConfig) -> dict[str, Rows]:
    """The rows of `rows` (as returned by `extract`) that the tenant's `config` keeps."""
    matcher = _compile(_key(config))
    history = rows.get(HISTORY, [])
    moves = rows.get(TTL_UPDATES, [])
    if matcher.keeps_everything:
        return {HISTORY: list(history), TTL_UPDATES: list(moves)}
    return {
        HISTORY: [row for row in history if matcher.keeps_row(row)],
        TTL_UPDATES: [move for move in moves if matcher.keeps_move(move)],
    }
