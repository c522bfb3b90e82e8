"""The tenant filter of account balances: `select(rows_by_table, config)`.

Semantics (kinds combine with AND, values of one kind with OR; empty lists mean "all"):

- ``track_trustlines`` (default true): when false, trustline balances are dropped (native, SAC and claimable
  balances stay);
- ``include_claimable_balances`` (default false): claimable balances are kept only when true;
- ``accounts``: the holder is one of them (an ``M…`` entry stands for its ``G…`` account, which holds the
  balance), or, for a claimable balance, one of its claimants is;
- ``assets``: the row's asset is one of them (``native``, ``CODE:ISSUER``);
- ``min_balance``: the balance after OR before the ledger is at least ``min_balance`` raw units, or the entry
  was deleted. Keeping the change that drops a balance below the threshold (and deletions) means the current
  table never keeps a stale balance above the threshold.

The decision is taken on the history row and applied to the parallel current row (see `extract`). Input rows
are never modified: they are shared by every tenant of the ledger.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from stellar_sdk import MuxedAccount

from processors.account_balances.config import AccountBalanceConfig
from processors.account_balances.table import CURRENT, HISTORY

__all__ = ["compile_filter", "select"]

Row = dict[str, Any]
Predicate = Callable[[Row], bool]
_CACHE_LIMIT = 1024


def holder_accounts(accounts: list[str]) -> frozenset[str]:
    """The holders a list of addresses names: ``M…`` muxed accounts stand for their ``G…`` account."""
    return frozenset(MuxedAccount.from_account(a).account_id if a.startswith("M") else a for a in accounts)


def compile_filter(config: AccountBalanceConfig) -> tuple[Predicate, ...]:
    """The predicates of `config`, cheapest first."""
    predicates: list[Predicate] = []
    if not config.track_trustlines:
        predicates.append(lambda row: row["source"] != "trustline")
    if not config.include_claimable_balances:
        predicates.append(lambda row: row["source"] != "claimable_balance")
    if config.assets:
        assets = frozenset(config.assets)
        predicates.append(lambda row: row["asset"] in assets)
    if config.accounts:
        accounts = holder_accounts(config.accounts)
        predicates.append(
            lambda row: (
                row["account_id"] in accounts
                or (row["claimants"] is not None and not accounts.isdisjoint(row["claimants"]))
            )
        )
    if config.min_balance is not None and config.min_balance != "0":
        minimum = int(config.min_balance)
        predicates.append(
            lambda row: (
                row["deleted"]
                or row["balance_raw"] >= minimum
                or (row["previous_balance_raw"] or 0) >= minimum
            )
        )
    return tuple(predicates)


_compiled: dict[int, tuple[AccountBalanceConfig, tuple[Predicate, ...]]] = {}


def _compiled_for(config: AccountBalanceConfig) -> tuple[Predicate, ...]:
    # Keyed by identity, holding the config itself so that its id cannot be reused while cached.
    hit = _compiled.get(id(config))
    if hit is not None and hit[0] is config:
        return hit[1]
    predicates = compile_filter(config)
    if len(_compiled) >= _CACHE_LIMIT:
        _compiled.clear()
    _compiled[id(config)] = (config, predicates)
    return predicates


def select(rows_by_table: Mapping[str, list[Row]], config: AccountBalanceConfig) -> dict[str, list[Row]]:
    """The history and current rows this tenant keeps (see the module docstring)."""
    history = rows_by_table.get(HISTORY, [])
    current = rows_by_table.get(CURRENT, [])
    if len(history) != len(current):
        raise ValueError("account balance history and current rows must be parallel lists")
    predicates = _compiled_for(config)
    if not predicates:
        return {HISTORY: list(history), CURRENT: list(current)}
    kept = [i for i, row in enumerate(history) if all(predicate(row) for predicate in predicates)]
    return {HISTORY: [history[i] for i in kept], CURRENT: [current[i] for i in kept]}
