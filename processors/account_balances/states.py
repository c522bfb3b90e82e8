"""What every balance-bearing ledger entry held before and after one ledger: the walk both balance processors use.

Balances live in four kinds of entries (REFERENCE §4):

| source | entry | holder | asset |
|---|---|---|---|
| ``account`` | ``AccountEntry`` | the ``G…`` account | ``native`` |
| ``trustline`` | ``TrustLineEntry`` | the ``G…`` account | ``CODE:ISSUER`` (``pool_share:L…`` for pool shares) |
| ``claimable_balance`` | ``ClaimableBalanceEntry`` | the ``B…`` balance id | its asset |
| ``contract`` | SAC ``ContractData`` ``["Balance", address]`` | the address (``C…``) | the SAC's asset |

The ledger's entry changes are read in application order (REFERENCE §2, `LedgerView.ledger_changes_in_order`).
For each entry the first change tells its state BEFORE the ledger (a ``state`` change shows it; a ``restored``
entry held its restored value all along, archived; anything else means it did not exist) and the last change
its state AFTER the ledger (None when removed). An entry whose balance-relevant fields are the same at both
ends (a sequence-number bump, an entry created and removed in the same ledger) is not a balance change.

Contract data is a Stellar Asset Contract balance only when the contract is the SAC of an asset (`sac`); the
same ``["Balance", address]`` key shape is used by custom SEP-41 tokens, whose values are not SAC maps.

`ledger_balances` is memoized per view: the account and token balance processors both read it, and the walk
converts every entry change of the ledger.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from weakref import WeakKeyDictionary

from ledgers.frozen import frozen_model
from ledgers.model import (
    AccountEntry,
    ClaimableBalanceEntry,
    ContractDataEntry,
    Entry,
    Transaction,
    TrustlineEntry,
)
from ledgers.view import LedgerView
from processors.account_balances.sac import resolve_sac_assets
from processors.scvalues import shared

__all__ = ["BalanceChange", "Holding", "LedgerBalances", "ledger_balances"]

NATIVE = "native"
_WATCHED = frozenset({"account", "trustline", "claimable_balance", "contract_data"})
_INSTANCE_KEY = "ledger_key_contract_instance"

# Flag bits (stellar-core): trustlines AUTHORIZED, AUTHORIZED_TO_MAINTAIN_LIABILITIES, TRUSTLINE_CLAWBACK_ENABLED;
# claimable balances CLAIMABLE_BALANCE_CLAWBACK_ENABLED.
_AUTHORIZED = 1
_MAINTAIN_LIABILITIES = 2
_TRUSTLINE_CLAWBACK = 4
_BALANCE_CLAWBACK = 1


@frozen_model  # built twice per balance change: a frozen dataclass's __init__ costs ~5x (ledgers.frozen)
class Holding:
    """One balance in raw units, as the rows show it; None where a field does not apply to the source."""

    balance: int
    buying_liabilities: int | None
    selling_liabilities: int | None
    limit: int | None
    authorized: bool | None
    authorized_to_maintain_liabilities: bool | None
    clawback_enabled: bool | None
    claimants: tuple[str, ...] | None
    last_modified_ledger: int

    def same_state(self, other: Holding) -> bool:
        """Equal in everything a balance row shows except ``last_modified_ledger``."""
        return (
            self.balance == other.balance
            and self.buying_liabilities == other.buying_liabilities
            and self.selling_liabilities == other.selling_liabilities
            and self.limit == other.limit
            and self.authorized == other.authorized
            and self.authorized_to_maintain_liabilities == other.authorized_to_maintain_liabilities
            and self.clawback_enabled == other.clawback_enabled
            and self.claimants == other.claimants
        )


@frozen_model
class BalanceChange:
    """A holder's balance of one asset that changed over the ledger."""

    holder: str
    asset: str
    source: str  # account | trustline | claimable_balance | contract
    before: Holding | None  # None: the entry did not exist before the ledger
    after: Holding | None  # None: the entry was removed during the ledger
    tx_hash: str | None  # the last transaction that changed it; None for a ledger upgrade


@dataclass(frozen=True, slots=True)
class LedgerBalances:
    """The balance changes of a ledger (in order of first change) and the contracts created in it."""

    changes: tuple[BalanceChange, ...]
    created_contracts: tuple[str, ...]


class _Track:
    """The two ends of one entry over the ledger while walking its changes."""

    __slots__ = ("after", "before", "known", "tx")

    def __init__(self, before: Entry | None, after: Entry | None, tx: Transaction | None) -> None:
        self.before = before
        self.after = after
        self.known: Entry = after if after is not None else before  # type: ignore[assignment]
        self.tx = tx


_memo: WeakKeyDictionary[LedgerView, LedgerBalances] = WeakKeyDictionary()


def ledger_balances(view: LedgerView) -> LedgerBalances:
    """The balance changes of `view` (memoized for the life of the view)."""
    found = _memo.get(view)
    if found is None:
        found = _memo[view] = _walk(view)
    return found


def _walk(view: LedgerView) -> LedgerBalances:
    tracks: dict[str, _Track] = {}
    not_balances: set[str] = set()  # contract data keys already seen not to be ["Balance", address]
    instances: dict[str, ContractDataEntry] = {}
    created: list[str] = []
    for tx, _op, change in view.ledger_changes_in_order():
        entry_type = change.entry_type
        if entry_type not in _WATCHED:
            continue
        entry = change.entry
        kind = change.kind
        if entry_type == "contract_data" and isinstance(entry, ContractDataEntry):
            if entry.key.type == _INSTANCE_KEY:
                # Instances name a SAC's asset (`sac`) and tell when a token contract was created.
                instances[entry.contract_id] = entry
                if kind == "created":
                    created.append(entry.contract_id)
                continue
        key_id = change.key.id
        track = tracks.get(key_id)
        if track is None:
            if entry is None or key_id in not_balances:
                continue  # a removal whose state was not listed first: nothing to tell the holder by
            if isinstance(entry, ContractDataEntry) and _balance_holder(entry) is None:
                not_balances.add(key_id)
                continue
            before = entry if kind in ("state", "restored") else None
            tracks[key_id] = _Track(before, entry, tx if kind not in ("state", "restored") else None)
            continue
        if kind == "state":
            continue  # the entry as it already is: no news
        track.after = entry
        track.tx = tx
        if entry is not None:
            track.known = entry
    sac_assets = _sac_assets(view, tracks, instances)
    found: list[BalanceChange] = []
    for track in tracks.values():
        balance_change = _change(track, sac_assets)
        if balance_change is not None:
            found.append(balance_change)
    return LedgerBalances(tuple(found), tuple(dict.fromkeys(created)))


def _sac_assets(
    view: LedgerView, tracks: dict[str, _Track], instances: dict[str, ContractDataEntry]
) -> dict[str, str]:
    """contract id -> asset for the contracts holding balance-shaped entries that are Stellar Asset Contracts."""
    contracts: dict[str, list[Transaction]] = {}
    classic_assets: set[str] = set()
    for track in tracks.values():
        known = track.known
        if isinstance(known, ContractDataEntry):
            txs = contracts.setdefault(known.contract_id, [])
            # By identity: dataclass equality would compare every field of the transactions.
            if track.tx is not None and all(tx is not track.tx for tx in txs):
                txs.append(track.tx)
        elif isinstance(known, TrustlineEntry | ClaimableBalanceEntry):
            classic_assets.add(known.asset)
    if not contracts:
        return {}
    return resolve_sac_assets(contracts, instances, classic_assets, view.network_passphrase)


def _change(track: _Track, sac_assets: dict[str, str]) -> BalanceChange | None:
    known = track.known
    if isinstance(known, AccountEntry):
        holder, asset, source = known.account_id, NATIVE, "account"
    elif isinstance(known, TrustlineEntry):
        holder, asset, source = known.account_id, known.asset, "trustline"
    elif isinstance(known, ClaimableBalanceEntry):
        holder, asset, source = known.balance_id, known.asset, "claimable_balance"
    elif isinstance(known, ContractDataEntry):
        sac_asset = sac_assets.get(known.contract_id)
        address = _balance_holder(known)
        if sac_asset is None or address is None:
            return None  # a custom token's balance (or an unrecognised SAC): not ledger-state exact
        holder, asset, source = address, sac_asset, "contract"
    else:
        return None
    before = _holding(track.before)
    after = _holding(track.after)
    if (before is None and after is None) or (
        before is not None and after is not None and before.same_state(after)
    ):
        return None
    if isinstance(known, ContractDataEntry) and (
        (track.before is not None and before is None) or (track.after is not None and after is None)
    ):
        return None  # a SAC balance entry whose value is not a SAC balance map: not a balance we can read
    tx_hash = track.tx.hash if track.tx is not None else None
    return BalanceChange(holder, asset, source, before, after, tx_hash)


def _holding(entry: Entry | None) -> Holding | None:
    if entry is None:
        return None
    if isinstance(entry, AccountEntry):
        return Holding(
            entry.balance,
            entry.buying_liabilities,
            entry.selling_liabilities,
            None,
            None,
            None,
            None,
            None,
            entry.last_modified_ledger,
        )
    if isinstance(entry, TrustlineEntry):
        flags = entry.flags
        return Holding(
            entry.balance,
            entry.buying_liabilities,
            entry.selling_liabilities,
            entry.limit,
            bool(flags & _AUTHORIZED),
            bool(flags & _MAINTAIN_LIABILITIES),
            bool(flags & _TRUSTLINE_CLAWBACK),
            None,
            entry.last_modified_ledger,
        )
    if isinstance(entry, ClaimableBalanceEntry):
        return Holding(
            entry.amount,
            None,
            None,
            None,
            None,
            None,
            bool(entry.flags & _BALANCE_CLAWBACK),
            entry.claimants,
            entry.last_modified_ledger,
        )
    if isinstance(entry, ContractDataEntry):
        return _sac_holding(entry)
    return None


def _sac_holding(entry: ContractDataEntry) -> Holding | None:
    """A SAC balance value: the map ``{amount: i128, authorized: bool, clawback: bool}``."""
    value = shared(entry.value)
    amount = value.map_get("amount")
    raw = None if amount is None else amount.int
    if raw is None:
        return None
    return Holding(
        raw,
        None,
        None,
        None,
        _flag(value.map_get("authorized")),
        None,
        _flag(value.map_get("clawback")),
        None,
        entry.last_modified_ledger,
    )


def _flag(value: Any) -> bool | None:
    return None if value is None else value.bool


def _balance_holder(entry: ContractDataEntry) -> str | None:
    """The address of a ``["Balance", address]`` key (persistent storage), None for any other key."""
    if entry.durability != "persistent":
        return None
    parts = shared(entry.key).vec
    if parts is None or len(parts) != 2 or parts[0].symbol != "Balance":
        return None
    return parts[1].address
