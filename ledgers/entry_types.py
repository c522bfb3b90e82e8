"""Ledger entries, their keys and changes: the small types `LedgerView` hands out for entry changes.

Re-exported by `ledgers.model`. Conventions as there: amounts ints, accounts ``G…``, balances ``B…``, pools
``L…``, assets ``native`` | ``CODE:ISSUER`` | ``pool_share:L…``, hashes lowercase hex.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ledgers.frozen import frozen_model

if TYPE_CHECKING:
    from ledgers.scval import ScValue


@frozen_model
class EntryKey:
    """The key of a ledger entry (also the form of evicted keys). Only the fields of its ``entry_type`` are set.

    ``id`` is a stable string form, unique per entry: ``account:G…``, ``trustline:G…:CODE:ISSUER``,
    ``offer:G…:123``, ``data:G…:name``, ``claimable_balance:B…``, ``liquidity_pool:L…``,
    ``contract_data:C…:<key_hash>``, ``contract_code:<hash>``, ``config_setting:<name>``, ``ttl:<key_hash>``.
    For contract data ``key_hash`` is the hex sha256 of the ``LedgerKey`` XDR, the hash its TTL entry carries.
    """

    entry_type: str
    account_id: str | None = None
    asset: str | None = None
    offer_id: int | None = None
    data_name: str | None = None
    balance_id: str | None = None
    pool_id: str | None = None
    contract_id: str | None = None
    key_hash: str | None = None
    code_hash: str | None = None
    durability: str | None = None
    config_setting: str | None = None

    @property
    def id(self) -> str:
        kind = self.entry_type
        if kind == "account":
            return f"account:{self.account_id}"
        if kind == "trustline":
            return f"trustline:{self.account_id}:{self.asset}"
        if kind == "offer":
            return f"offer:{self.account_id}:{self.offer_id}"
        if kind == "data":
            return f"data:{self.account_id}:{self.data_name}"
        if kind == "claimable_balance":
            return f"claimable_balance:{self.balance_id}"
        if kind == "liquidity_pool":
            return f"liquidity_pool:{self.pool_id}"
        if kind == "contract_data":
            return f"contract_data:{self.contract_id}:{self.key_hash}"
        if kind == "contract_code":
            return f"contract_code:{self.code_hash}"
        if kind == "ttl":
            return f"ttl:{self.key_hash}"
        return f"{kind}:{self.config_setting}"


@frozen_model
class AccountEntry:
    """An account: native ``balance`` and liabilities in stroops, ``seq_num``, ``flags``."""

    account_id: str
    balance: int
    seq_num: int
    num_subentries: int
    buying_liabilities: int
    selling_liabilities: int
    flags: int
    home_domain: str
    last_modified_ledger: int
    inflation_dest: str | None = None


@frozen_model
class TrustlineEntry:
    """A trustline; for pool shares ``asset`` is ``pool_share:L…`` and ``pool_id`` the ``L…``."""

    account_id: str
    asset: str
    balance: int
    limit: int
    flags: int
    buying_liabilities: int
    selling_liabilities: int
    last_modified_ledger: int
    pool_id: str | None = None


@frozen_model
class OfferEntry:
    """A resting order-book offer: sells ``amount`` of ``selling`` at ``price`` (buying per selling)."""

    seller_id: str
    offer_id: int
    selling: str
    buying: str
    amount: int
    price: tuple[int, int]
    flags: int
    last_modified_ledger: int


@frozen_model
class DataEntry:
    """A ManageData name/value pair of an account."""

    account_id: str
    name: str
    value: bytes
    last_modified_ledger: int


@frozen_model
class ClaimableBalanceEntry:
    """A claimable balance; ``claimants`` are the destinations (predicates are not exposed)."""

    balance_id: str
    asset: str
    amount: int
    claimants: tuple[str, ...]
    flags: int
    last_modified_ledger: int


@frozen_model
class LiquidityPoolEntry:
    """A constant-product pool: reserves and total shares, fee in basis points."""

    pool_id: str
    asset_a: str
    asset_b: str
    reserve_a: int
    reserve_b: int
    total_shares: int
    fee_bp: int
    trustline_count: int
    last_modified_ledger: int


@frozen_model
class ContractDataEntry:
    """Contract storage; ``key_hash`` (hex sha256 of the ``LedgerKey`` XDR) is the one the TTL entry uses."""

    contract_id: str
    key: ScValue
    durability: str
    value: ScValue
    key_hash: str
    last_modified_ledger: int


@frozen_model
class ContractCodeEntry:
    """Uploaded Wasm, by its ``hash`` (hex sha256 of the code)."""

    hash: str
    last_modified_ledger: int


@frozen_model
class TtlEntry:
    """The time-to-live of the Soroban entry whose ``LedgerKey`` hashes to ``key_hash``."""

    key_hash: str
    live_until_ledger_seq: int
    last_modified_ledger: int


@frozen_model
class OtherEntry:
    """An entry type no processor reads (config settings)."""

    entry_type: str
    last_modified_ledger: int


Entry = (
    AccountEntry
    | TrustlineEntry
    | OfferEntry
    | DataEntry
    | ClaimableBalanceEntry
    | LiquidityPoolEntry
    | ContractDataEntry
    | ContractCodeEntry
    | TtlEntry
    | OtherEntry
)


@frozen_model
class EntryChange:
    """One ledger entry change: ``kind`` created|updated|removed|state|restored; ``entry`` is None for removed."""

    kind: str
    entry_type: str
    key: EntryKey
    entry: Entry | None


@frozen_model
class EntryDiff:
    """An entry before and after a change list (see `pair_changes`).

    ``before`` is None for a created (or restored) entry, ``after`` None for a removed one.
    """

    key: EntryKey
    before: Entry | None
    after: Entry | None


def pair_changes(changes: tuple[EntryChange, ...] | list[EntryChange]) -> list[EntryDiff]:
    """Pair a meta change list into before/after diffs, as stellar/go's ``GetChangesFromLedgerEntryChanges``.

    Meta lists a ``state`` (the entry as it was) right before the ``updated``/``removed`` of the same key;
    ``created`` has no before. A ``restored`` entry (protocol 23 auto-restore) is reported as created, and is the
    before of a following ``updated`` of the same key.
    """
    states: dict[str, Entry | None] = {}
    diffs: list[EntryDiff] = []
    for change in changes:
        key_id = change.key.id
        kind = change.kind
        if kind == "state":
            states[key_id] = change.entry
        elif kind == "created":
            diffs.append(EntryDiff(change.key, None, change.entry))
        elif kind == "restored":
            diffs.append(EntryDiff(change.key, None, change.entry))
            states[key_id] = change.entry
        elif kind == "updated":
            diffs.append(EntryDiff(change.key, states.pop(key_id, None), change.entry))
        else:  # removed
            diffs.append(EntryDiff(change.key, states.pop(key_id, None), None))
    return diffs
