"""The tenant filter of DEX trades: `select(rows_by_table, config)`.

Semantics (each kind is optional, empty means "all"; kinds combine with AND, the values of one kind with OR):

- ``pairs``: the trade's assets are the pair's two assets, in either direction (``native/USDC:G…`` and
  ``USDC:G…/native`` name the same pair): compared through the canonical ``pair`` column.
- ``accounts``: the seller or the buyer is one of them. A ``G…`` entry also matches trades whose buyer used
  a muxed (``M…``) form of it; an ``M…`` entry matches only trades made from that muxed source.
- ``trade_types``: ``orderbook`` and/or ``liquidity_pool``.

`select` never mutates or hands out the extracted list: those rows are shared by every tenant of the ledger.
A config is compiled once into predicates (cached on its hashable key).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any

from processors.dex_trades.config import DEXTradeConfig
from processors.dex_trades.extract import TABLE
from processors.dex_trades.pairs import canonical_pair, pair_assets

__all__ = ["compile_filter", "select"]

Row = dict[str, Any]
Predicate = Callable[[Row], bool]
_ConfigKey = tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]


def canonical_pairs(pairs: list[str] | tuple[str, ...]) -> frozenset[str]:
    """The canonical form of each ``BASE/COUNTER`` pair, whichever way it was written."""
    return frozenset(canonical_pair(*pair_assets(pair)) for pair in pairs)


def _accounts_predicate(accounts: tuple[str, ...]) -> Predicate:
    plain = frozenset(a for a in accounts if not a.startswith("M"))
    muxed = frozenset(a for a in accounts if a.startswith("M"))
    if not muxed:
        return lambda row: row["seller"] in plain or row["buyer"] in plain
    return lambda row: row["seller"] in plain or row["buyer"] in plain or row["buyer_muxed"] in muxed


@lru_cache(maxsize=1024)
def _compile(key: _ConfigKey) -> tuple[Predicate, ...]:
    pairs, accounts, trade_types = key
    predicates: list[Predicate] = []
    if trade_types:
        types = frozenset(trade_types)
        predicates.append(lambda row: row["trade_type"] in types)
    if pairs:
        wanted = canonical_pairs(pairs)
        predicates.append(lambda row: row["pair"] in wanted)
    if accounts:
        predicates.append(_accounts_predicate(accounts))
    return tuple(predicates)


def compile_filter(config: DEXTradeConfig) -> tuple[Predicate, ...]:
    """The predicates of `config`; a row is kept when all of them hold."""
    # The config model is frozen but holds lists (unhashable): this tuple form is its cache key.
    return _compile((tuple(config.pairs), tuple(config.accounts), tuple(config.trade_types)))


def select(rows_by_table: Mapping[str, list[Row]], config: DEXTradeConfig) -> dict[str, list[Row]]:
    """The trades this tenant keeps (see the module docstring); input rows are never modified."""
    predicates = compile_filter(config)
    kept = list(rows_by_table.get(TABLE, []))
    for predicate in predicates:
        kept = [row for row in kept if predicate(row)]
    return {TABLE: kept}
