# mypy: disable-error-code="union-attr,arg-type"
# (stellar-sdk types every XDR union arm as Optional; the discriminant checked beside each access guarantees it.)
"""XDR ledger entries, keys and entry changes → the small types of `ledgers.model`."""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Iterable

from stellar_sdk import xdr as x

from ledgers import xdrconv
from ledgers.entry_types import (
    AccountEntry,
    ClaimableBalanceEntry,
    ContractCodeEntry,
    ContractDataEntry,
    DataEntry,
    Entry,
    EntryChange,
    EntryKey,
    LiquidityPoolEntry,
    OfferEntry,
    OtherEntry,
    TrustlineEntry,
    TtlEntry,
)
from ledgers.scval import ScValue

__all__ = ["convert_change", "convert_changes", "convert_entry", "convert_entry_and_key", "convert_key"]

E = x.LedgerEntryType
C = x.LedgerEntryChangeType

ENTRY_TYPES = {
    E.ACCOUNT: "account",
    E.TRUSTLINE: "trustline",
    E.OFFER: "offer",
    E.DATA: "data",
    E.CLAIMABLE_BALANCE: "claimable_balance",
    E.LIQUIDITY_POOL: "liquidity_pool",
    E.CONTRACT_DATA: "contract_data",
    E.CONTRACT_CODE: "contract_code",
    E.CONFIG_SETTING: "config_setting",
    E.TTL: "ttl",
}
_DURABILITY = {
    x.ContractDataDurability.TEMPORARY: "temporary",
    x.ContractDataDurability.PERSISTENT: "persistent",
}
_CONTRACT_DATA_KEY_PREFIX = struct.pack(">I", E.CONTRACT_DATA.value)


def convert_changes(changes: x.LedgerEntryChanges | None) -> tuple[EntryChange, ...]:
    """All changes of an XDR ``LedgerEntryChanges`` in stored order."""
    if changes is None:
        return ()
    return tuple(convert_change(change) for change in changes.ledger_entry_changes)


def convert_change(change: x.LedgerEntryChange) -> EntryChange:
    """One XDR ``LedgerEntryChange``; removed changes carry only the key."""
    kind = change.type
    if kind is C.LEDGER_ENTRY_STATE:
        raw, name = change.state, "state"
    elif kind is C.LEDGER_ENTRY_UPDATED:
        raw, name = change.updated, "updated"
    elif kind is C.LEDGER_ENTRY_CREATED:
        raw, name = change.created, "created"
    elif kind is C.LEDGER_ENTRY_RESTORED:
        raw, name = change.restored, "restored"
    else:
        key = convert_key(change.removed)
        return EntryChange("removed", key.entry_type, key, None)
    entry, key = convert_entry_and_key(raw)
    return EntryChange(name, key.entry_type, key, entry)


def convert_entry(raw: x.LedgerEntry) -> Entry:
    """The small dataclass of an XDR ``LedgerEntry``."""
    return convert_entry_and_key(raw)[0]


def convert_entry_and_key(raw: x.LedgerEntry) -> tuple[Entry, EntryKey]:
    """The small dataclass of an XDR ``LedgerEntry`` and its key (built from the converted fields, no XDR work)."""
    data = raw.data
    kind = data.type
    modified = raw.last_modified_ledger_seq.uint32
    if kind is E.ACCOUNT:
        acc = data.account
        buying = selling = 0
        if acc.ext.v1 is not None:
            liabilities = acc.ext.v1.liabilities
            buying, selling = liabilities.buying.int64, liabilities.selling.int64
        account = xdrconv.account_id(acc.account_id)
        return AccountEntry(
            account_id=account,
            balance=acc.balance.int64,
            seq_num=acc.seq_num.sequence_number.int64,
            num_subentries=acc.num_sub_entries.uint32,
            buying_liabilities=buying,
            selling_liabilities=selling,
            flags=acc.flags.uint32,
            home_domain=acc.home_domain.string32.decode("utf-8", "replace"),
            last_modified_ledger=modified,
            inflation_dest=None if acc.inflation_dest is None else xdrconv.account_id(acc.inflation_dest),
        ), EntryKey("account", account_id=account)
    if kind is E.TRUSTLINE:
        line = data.trust_line
        asset, pool = xdrconv.trustline_asset(line.asset)
        buying = selling = 0
        if line.ext.v1 is not None:
            liabilities = line.ext.v1.liabilities
            buying, selling = liabilities.buying.int64, liabilities.selling.int64
        account = xdrconv.account_id(line.account_id)
        return TrustlineEntry(
            account_id=account,
            asset=asset,
            balance=line.balance.int64,
            limit=line.limit.int64,
            flags=line.flags.uint32,
            buying_liabilities=buying,
            selling_liabilities=selling,
            last_modified_ledger=modified,
            pool_id=pool,
        ), EntryKey("trustline", account_id=account, asset=asset, pool_id=pool)
    if kind is E.OFFER:
        offer = convert_offer(data.offer, modified)
        return offer, EntryKey("offer", account_id=offer.seller_id, offer_id=offer.offer_id)
    if kind is E.CONTRACT_DATA:
        cd = data.contract_data
        key = ScValue(cd.key)
        contract = xdrconv.sc_address(cd.contract)
        durability = _DURABILITY[cd.durability]
        key_hash = _contract_data_key_hash(cd.contract, key, cd.durability)
        return ContractDataEntry(
            contract_id=contract,
            key=key,
            durability=durability,
            value=ScValue(cd.val),
            key_hash=key_hash,
            last_modified_ledger=modified,
        ), EntryKey("contract_data", contract_id=contract, key_hash=key_hash, durability=durability)
    if kind is E.TTL:
        key_hash = data.ttl.key_hash.hash.hex()
        return TtlEntry(key_hash, data.ttl.live_until_ledger_seq.uint32, modified), EntryKey(
            "ttl", key_hash=key_hash
        )
    if kind is E.CLAIMABLE_BALANCE:
        cb = data.claimable_balance
        flags = 0
        if cb.ext.v1 is not None:
            flags = cb.ext.v1.flags.uint32
        balance = xdrconv.balance_id(cb.balance_id)
        return ClaimableBalanceEntry(
            balance_id=balance,
            asset=xdrconv.asset(cb.asset),
            amount=cb.amount.int64,
            claimants=tuple(xdrconv.account_id(c.v0.destination) for c in cb.claimants),
            flags=flags,
            last_modified_ledger=modified,
        ), EntryKey("claimable_balance", balance_id=balance)
    if kind is E.LIQUIDITY_POOL:
        lp = data.liquidity_pool
        cp = lp.body.constant_product
        pool = xdrconv.pool_id(lp.liquidity_pool_id)
        return LiquidityPoolEntry(
            pool_id=pool,
            asset_a=xdrconv.asset(cp.params.asset_a),
            asset_b=xdrconv.asset(cp.params.asset_b),
            reserve_a=cp.reserve_a.int64,
            reserve_b=cp.reserve_b.int64,
            total_shares=cp.total_pool_shares.int64,
            fee_bp=cp.params.fee.int32,
            trustline_count=cp.pool_shares_trust_line_count.int64,
            last_modified_ledger=modified,
        ), EntryKey("liquidity_pool", pool_id=pool)
    if kind is E.DATA:
        de = data.data
        account = xdrconv.account_id(de.account_id)
        name = de.data_name.string64.decode("utf-8", "replace")
        return DataEntry(
            account_id=account, name=name, value=de.data_value.data_value, last_modified_ledger=modified
        ), EntryKey("data", account_id=account, data_name=name)
    if kind is E.CONTRACT_CODE:
        code_hash = data.contract_code.hash.hash.hex()
        return ContractCodeEntry(code_hash, modified), EntryKey("contract_code", code_hash=code_hash)
    setting = data.config_setting.config_setting_id.name.lower()
    return OtherEntry(ENTRY_TYPES[kind], modified), EntryKey("config_setting", config_setting=setting)


def convert_offer(offer: x.OfferEntry, modified: int) -> OfferEntry:
    """An XDR ``OfferEntry`` (also found in manage offer results, where `modified` is 0)."""
    return OfferEntry(
        seller_id=xdrconv.account_id(offer.seller_id),
        offer_id=offer.offer_id.int64,
        selling=xdrconv.asset(offer.selling),
        buying=xdrconv.asset(offer.buying),
        amount=offer.amount.int64,
        price=(offer.price.n.int32, offer.price.d.int32),
        flags=offer.flags.uint32,
        last_modified_ledger=modified,
    )


def convert_key(key: x.LedgerKey) -> EntryKey:
    """The `EntryKey` of an XDR ``LedgerKey`` (removed changes, evictions, sponsorship revocations)."""
    kind = key.type
    if kind is E.ACCOUNT:
        return EntryKey("account", account_id=xdrconv.account_id(key.account.account_id))
    if kind is E.TRUSTLINE:
        asset, pool = xdrconv.trustline_asset(key.trust_line.asset)
        return EntryKey(
            "trustline", account_id=xdrconv.account_id(key.trust_line.account_id), asset=asset, pool_id=pool
        )
    if kind is E.OFFER:
        return EntryKey(
            "offer", account_id=xdrconv.account_id(key.offer.seller_id), offer_id=key.offer.offer_id.int64
        )
    if kind is E.CONTRACT_DATA:
        cd = key.contract_data
        return EntryKey(
            "contract_data",
            contract_id=xdrconv.sc_address(cd.contract),
            # The key hash is the hash of this very LedgerKey's XDR.
            key_hash=hashlib.sha256(key.to_xdr_bytes()).hexdigest(),
            durability=_DURABILITY[cd.durability],
        )
    if kind is E.TTL:
        return EntryKey("ttl", key_hash=key.ttl.key_hash.hash.hex())
    if kind is E.CONTRACT_CODE:
        return EntryKey("contract_code", code_hash=key.contract_code.hash.hash.hex())
    if kind is E.CLAIMABLE_BALANCE:
        return EntryKey("claimable_balance", balance_id=xdrconv.balance_id(key.claimable_balance.balance_id))
    if kind is E.LIQUIDITY_POOL:
        return EntryKey("liquidity_pool", pool_id=xdrconv.pool_id(key.liquidity_pool.liquidity_pool_id))
    if kind is E.DATA:
        return EntryKey(
            "data",
            account_id=xdrconv.account_id(key.data.account_id),
            data_name=key.data.data_name.string64.decode("utf-8", "replace"),
        )
    return EntryKey("config_setting", config_setting=key.config_setting.config_setting_id.name.lower())


def convert_keys(keys: Iterable[x.LedgerKey]) -> tuple[EntryKey, ...]:
    """`convert_key` over a list (evicted keys)."""
    return tuple(convert_key(key) for key in keys)


def _contract_data_key_hash(contract: x.SCAddress, key: ScValue, durability: x.ContractDataDurability) -> str:
    # LedgerKey{CONTRACT_DATA, {contract, key, durability}} encoded by hand: the key's XDR is cached on the
    # ScValue, and building a LedgerKey object only to encode it would cost more than the hash.
    payload = (
        _CONTRACT_DATA_KEY_PREFIX + contract.to_xdr_bytes() + key.xdr + struct.pack(">I", durability.value)
    )
    return hashlib.sha256(payload).hexdigest()
