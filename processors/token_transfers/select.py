"""The tenant filter of token transfers: `select(rows_by_table, config)`.

Semantics (each kind is optional; kinds combine with AND, the values of one kind with OR):

- ``include_failed_txs``: rows of failed transactions (fee events only) are kept only when true; fee rows of
  successful transactions are always kept.
- ``event_types``: ``event_type`` is one of them.
- ``assets``: ``asset`` is one of them (``native``, ``CODE:ISSUER``, a custom token's contract id). A contract
  id also matches the rows of the Stellar Asset Contract with that id (``contract_id``), so a tenant may name
  USDC either way.
- ``accounts``: the sender or the receiver is one of them. An ``M…`` entry also matches rows paid to its
  ``G…`` account with its muxed id as ``to_muxed_id`` (how CAP-67 reports a payment to a muxed account).
- ``contracts``: the emitting contract (``contract_id``) is one of them: a Stellar Asset Contract or a
  SEP-41 token.
- ``min_amount``: ``abs(amount_raw) >= min_amount``, in the token's raw units. The absolute value, because
  a fee refund (negative) is a movement of that size back to the account: comparing signed values would drop
  every refund as soon as a tenant sets any minimum, and the tenant's fee rows would no longer add up to
  the fees charged.
- ``track_memos``: when false, ``to_muxed_id``, ``memo`` and ``memo_type`` are blanked (null).

`select` never mutates its input: the extracted rows are shared by every tenant of the ledger. A row is copied
only when memos must be blanked from it. Each distinct config is compiled once into a list of predicates
(cached by identity, the engine keeps config objects for the life of a plan).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from stellar_sdk import MuxedAccount

from processors.token_transfers.config import TokenTransferConfig
from processors.token_transfers.extract import TABLE

__all__ = ["compile_filter", "select"]

Row = dict[str, Any]
Predicate = Callable[[Row], bool]
_MEMO_FIELDS = ("to_muxed_id", "memo", "memo_type")
_CACHE_LIMIT = 1024


class CompiledFilter:
    """One config turned into predicates and a memo policy; call `apply` on a list of rows."""

    __slots__ = ("blank_memos", "predicates")

    def __init__(self, predicates: tuple[Predicate, ...], blank_memos: bool) -> None:
        self.predicates = predicates
        self.blank_memos = blank_memos

    def apply(self, rows: list[Row]) -> list[Row]:
        kept = rows
        for predicate in self.predicates:
            kept = [row for row in kept if predicate(row)]
        if self.blank_memos:
            kept = [_without_memos(row) for row in kept]
        elif kept is rows:
            kept = list(rows)  # never hand out the shared list itself
        return kept


def _without_memos(row: Row) -> Row:
    if row["to_muxed_id"] is None and row["memo"] is None and row["memo_type"] is None:
        return row
    return {**row, "to_muxed_id": None, "memo": None, "memo_type": None}


def compile_filter(config: TokenTransferConfig) -> CompiledFilter:
    """The predicates of `config`, cheapest and most selective first."""
    predicates: list[Predicate] = []
    if not config.include_failed_txs:
        predicates.append(lambda row: row["in_successful_tx"])
    if config.event_types:
        types = frozenset(config.event_types)
        predicates.append(lambda row: row["event_type"] in types)
    if config.contracts:
        contracts = frozenset(config.contracts)
        predicates.append(lambda row: row["contract_id"] in contracts)
    if config.assets:
        assets = frozenset(config.assets)
        predicates.append(lambda row: row["asset"] in assets or row["contract_id"] in assets)
    if config.accounts:
        predicates.append(_accounts_predicate(config.accounts))
    if config.min_amount is not None and config.min_amount != "0":
        minimum = int(config.min_amount)
        predicates.append(lambda row: abs(row["amount_raw"]) >= minimum)
    return CompiledFilter(tuple(predicates), blank_memos=not config.track_memos)


def _accounts_predicate(accounts: list[str]) -> Predicate:
    plain = frozenset(accounts)
    # M… → (G…, id): a CAP-67 event names the G… account and carries the id in to_muxed_id.
    muxed = frozenset(_muxed_parts(a) for a in accounts if a.startswith("M"))
    if not muxed:
        return lambda row: row["from"] in plain or row["to"] in plain
    return lambda row: row["from"] in plain or row["to"] in plain or (row["to"], row["to_muxed_id"]) in muxed


def _muxed_parts(address: str) -> tuple[str, str]:
    account = MuxedAccount.from_account(address)
    return account.account_id, str(account.account_muxed_id)


_compiled: dict[int, tuple[TokenTransferConfig, CompiledFilter]] = {}


def _compiled_for(config: TokenTransferConfig) -> CompiledFilter:
    # Keyed by identity, holding the config itself so that its id cannot be reused while cached.
    hit = _compiled.get(id(config))
    if hit is not None and hit[0] is config:
        return hit[1]
    compiled = compile_filter(config)
    if len(_compiled) >= _CACHE_LIMIT:
        _compiled.clear()
    _compiled[id(config)] = (config, compiled)
    return compiled


def select(rows_by_table: Mapping[str, list[Row]], config: TokenTransferConfig) -> dict[str, list[Row]]:
    """The rows this tenant keeps (see the module docstring); input rows are never modified."""
    compiled = _compiled_for(config)
    return {
        table: compiled.apply(rows) if table == TABLE else list(rows) for table, rows in rows_by_table.items()
    }
