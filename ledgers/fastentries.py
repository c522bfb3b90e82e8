"""Entry changes straight from the bytes, for the fast decoder (`ledgers.fast`).

Entry changes are most of a ledger's bytes and most of the time of materialising it: every fee charge, every
balance move rewrites an account or a trustline. Those two and TTL entries (the bulk of current pubnet changes)
are built here from the bytes into the same `ledgers.entry_types` objects `ledgers.entries` builds from
stellar-sdk's; any other entry type, and removed keys, are decoded by stellar-sdk at their offset and converted
by `ledgers.entries` (so rare types need no second implementation). The corpus equivalence test
(tests/ledgers/test_fast_decoder.py) compares every change of every ledger with the stellar-sdk path's.
"""

from __future__ import annotations

import hashlib
import struct
from functools import lru_cache
from typing import Any

from stellar_sdk import xdr as x

from ledgers import skippers, xdrconv
from ledgers.entries import convert_entry_and_key, convert_key
from ledgers.entry_types import (
    AccountEntry,
    ClaimableBalanceEntry,
    ContractDataEntry,
    EntryChange,
    EntryKey,
    LiquidityPoolEntry,
    OfferEntry,
    TrustlineEntry,
    TtlEntry,
)
from ledgers.fastread import I32, I64, U32, account_at, asset_at, price_at
from ledgers.frozen import compiled_maker
from ledgers.scval import ScValue
from ledgers.unpacker import FastUnpacker

__all__ = ["I32", "U32", "change_at", "changes_at", "offer_at", "sc_address_at", "unpack_at"]

_POOL_AMOUNTS = struct.Struct(">qqqq").unpack_from  # reserve A, reserve B, total shares, trustline count
_ACCOUNT_HEAD = struct.Struct(">qqL").unpack_from  # balance, seqNum, numSubEntries
_TRUST_AMOUNTS = struct.Struct(">qqL").unpack_from  # balance, limit, flags
_LIABILITIES = struct.Struct(">qq").unpack_from
_CHANGE_KINDS = {0: "created", 1: "updated", 3: "state", 4: "restored"}
_REMOVED = 2
_ACCOUNT, _TRUSTLINE, _OFFER, _CLAIMABLE_BALANCE, _LIQUIDITY_POOL, _CONTRACT_DATA, _TTL = 0, 1, 2, 4, 5, 6, 9
_ADDR_ACCOUNT, _ADDR_CONTRACT = 0, 1
_CONTRACT_DATA_TAG = struct.pack(">I", _CONTRACT_DATA)
_DURABILITY = {0: "temporary", 1: "persistent"}
_DEPTH = 500


def unpack_at(cls: Any, raw: bytes, offset: int) -> Any:
    unpacker = FastUnpacker(raw)
    unpacker.set_position(offset)
    return cls.unpack(unpacker, _DEPTH)


def sc_address_at(raw: bytes, o: int) -> tuple[str, int]:
    """The strkey of the ``SCAddress`` at `o` and the offset after it."""
    kind = I32(raw, o)[0]
    if kind == _ADDR_ACCOUNT:
        return xdrconv.account_strkey(raw[o + 8 : o + 40]), o + 40
    if kind == _ADDR_CONTRACT:
        return xdrconv.contract_strkey(raw[o + 4 : o + 36]), o + 36
    return xdrconv.sc_address(unpack_at(x.SCAddress, raw, o)), skippers.skip_SCAddress(raw, o)


def changes_at(raw: bytes, o: int | None) -> tuple[EntryChange, ...]:
    """The ``LedgerEntryChanges`` stored at offset `o` of `raw` (None: no such list, an empty tuple).

    With the compiled implementation (`ledgers.skippers`), ``ledgers._fastchanges`` builds account, trustline,
    offer, TTL, liquidity pool and claimable balance changes and removed account and offer keys in C, and hands
    every other change (and any it does not expect) to `change_at`."""
    if o is None:
        return ()
    count = U32(raw, o)[0]
    o += 4
    build = skippers.entry_changes
    if build is not None:
        context = _CONTEXTS.get(build)
        if context is None:
            context = _CONTEXTS[build] = _changes_context()
        result: tuple[EntryChange, ...] = build(raw, o, count, change_at, context)
        return result
    out = []
    for _ in range(count):
        change, o = change_at(raw, o)
        out.append(change)
    return tuple(out)


def change_at(raw: bytes, o: int) -> tuple[EntryChange, int]:
    """The ``LedgerEntryChange`` at `o` (its change type first) and the offset after it."""
    kind = I32(raw, o)[0]
    o += 4
    if kind == _REMOVED:
        key = convert_key(unpack_at(x.LedgerKey, raw, o))
        return EntryChange("removed", key.entry_type, key, None), skippers.skip_LedgerKey(raw, o)
    entry, key, data_end = _entry_and_key(raw, o)
    change = EntryChange(_CHANGE_KINDS[kind], key.entry_type, key, entry)
    if data_end is None:
        return change, skippers.skip_LedgerEntry(raw, o)
    if I32(raw, data_end)[0] == 0:  # LedgerEntry.ext
        return change, data_end + 4
    return change, skippers.skip_LedgerEntryExtensionV1(raw, data_end + 4)


# Keys are frozen values, and the same accounts and trustlines change again and again (a fee charge, then the
# operations' changes, each as a state and an updated entry): building a 12-field frozen dataclass costs more
# than the rest of a change, so the two commonest kinds are shared from a cache.
@lru_cache(maxsize=1 << 14)
def _account_key(account: str) -> EntryKey:
    return EntryKey("account", account_id=account)


@lru_cache(maxsize=1 << 14)
def _trustline_key(account: str, asset: str, pool: str | None) -> EntryKey:
    return EntryKey("trustline", account_id=account, asset=asset, pool_id=pool)


def _changes_context() -> tuple[object, ...]:
    """What ``ledgers._fastchanges.changes`` builds with, in the order of its ``CTX_*`` indices: the model classes
    as their compiled makers when those are in use (`ledgers.frozen.compiled_maker`)."""
    maker = skippers.slot_maker
    return (
        compiled_maker(EntryChange, maker),
        compiled_maker(AccountEntry, maker),
        compiled_maker(TrustlineEntry, maker),
        compiled_maker(OfferEntry, maker),
        compiled_maker(TtlEntry, maker),
        compiled_maker(EntryKey, maker),
        _account_key,
        _trustline_key,
        xdrconv._asset_string,
        xdrconv.pool_strkey,
        xdrconv.NATIVE,
        xdrconv.POOL_SHARE_PREFIX,
        ("created", "updated", "removed", "state", "restored"),  # by LedgerEntryChangeType
        ("account", "trustline", "offer", "ttl", "liquidity_pool", "claimable_balance"),
        compiled_maker(LiquidityPoolEntry, maker),
        compiled_maker(ClaimableBalanceEntry, maker),
        xdrconv.balance_strkey,
        skippers.skip_ClaimPredicate,
        skippers.skip_LedgerEntry,
    )


# The context of each compiled builder (`skippers.use` switches them; tests run both): made at its first use.
_CONTEXTS: dict[object, tuple[object, ...]] = {}


def _entry_and_key(raw: bytes, start: int) -> tuple[Any, EntryKey, int | None]:
    """The entry at `start`, its key, and where its data ends (None: not known, skip the whole entry)."""
    modified = U32(raw, start)[0]
    kind = I32(raw, start + 4)[0]
    o = start + 8
    if kind == _ACCOUNT:
        account = xdrconv.account_strkey(raw[o + 4 : o + 36])
        balance, seq_num, subentries = _ACCOUNT_HEAD(raw, o + 36)
        o += 56
        inflation_dest = None
        if U32(raw, o)[0]:
            inflation_dest = xdrconv.account_strkey(raw[o + 8 : o + 40])
            o += 40
        else:
            o += 4
        flags = U32(raw, o)[0]
        n = U32(raw, o + 4)[0]
        home_domain = raw[o + 8 : o + 8 + n].decode("utf-8", "replace")
        o += 8 + (n + 3) // 4 * 4 + 4  # home domain, thresholds
        signers = U32(raw, o)[0]
        o += 4
        for _ in range(signers):
            o = skippers.skip_Signer(raw, o)
        buying = selling = 0
        if I32(raw, o)[0] == 1:
            buying, selling = _LIABILITIES(raw, o + 4)
            end = _account_extension_v1_end(raw, o + 20)
        else:
            end = o + 4
        return (
            AccountEntry(  # positional (field order): keywords cost ~2x the call on this hot path
                account,
                balance,
                seq_num,
                subentries,
                buying,
                selling,
                flags,
                home_domain,
                modified,
                inflation_dest,
            ),
            _account_key(account),
            end,
        )
    if kind == _TRUSTLINE:
        account = xdrconv.account_strkey(raw[o + 4 : o + 36])
        o += 36
        asset_type = I32(raw, o)[0]
        pool = None
        if asset_type == 0:
            asset = xdrconv.NATIVE
            o += 4
        elif asset_type == 1:
            asset = xdrconv._asset_string(raw[o + 4 : o + 8], raw[o + 12 : o + 44])
            o += 44
        elif asset_type == 2:
            asset = xdrconv._asset_string(raw[o + 4 : o + 16], raw[o + 20 : o + 52])
            o += 52
        else:
            pool = xdrconv.pool_strkey(raw[o + 4 : o + 36])
            asset = xdrconv.POOL_SHARE_PREFIX + pool
            o += 36
        balance, limit, flags = _TRUST_AMOUNTS(raw, o)
        o += 20
        buying = selling = 0
        line_end = o + 4
        if I32(raw, o)[0] == 1:
            buying, selling = _LIABILITIES(raw, o + 4)
            # After the liabilities, the v1 extension's own extension: void, or v2 (pool use count, ext).
            line_end = o + 24 if I32(raw, o + 20)[0] == 0 else o + 32
        return (
            TrustlineEntry(account, asset, balance, limit, flags, buying, selling, modified, pool),
            _trustline_key(account, asset, pool),
            line_end,
        )
    if kind == _CONTRACT_DATA:
        contract_start = o + 4  # after the ExtensionPoint
        contract, key_start = sc_address_at(raw, contract_start)
        key_end = skippers.skip_SCVal(raw, key_start)
        durability = _DURABILITY[I32(raw, key_end)[0]]
        value_end = skippers.skip_SCVal(raw, key_end + 4)
        # The key hash is the sha256 of LedgerKey{CONTRACT_DATA, {contract, key, durability}}: those three
        # fields lie in the entry's bytes in that order, so the key's XDR is the tag and that run of bytes.
        key_hash = hashlib.sha256(_CONTRACT_DATA_TAG + raw[contract_start : key_end + 4]).hexdigest()
        return (
            ContractDataEntry(
                contract_id=contract,
                key=ScValue.from_xdr_bytes(raw[key_start:key_end]),
                durability=durability,
                value=ScValue.from_xdr_bytes(raw[key_end + 4 : value_end]),
                key_hash=key_hash,
                last_modified_ledger=modified,
            ),
            EntryKey("contract_data", contract_id=contract, key_hash=key_hash, durability=durability),
            value_end,
        )
    if kind == _TTL:
        key_hash = raw[o : o + 32].hex()
        return TtlEntry(key_hash, U32(raw, o + 32)[0], modified), EntryKey("ttl", key_hash=key_hash), o + 36
    if kind == _OFFER:
        offer, end = offer_at(raw, o, modified)
        return offer, EntryKey("offer", account_id=offer.seller_id, offer_id=offer.offer_id), end
    if kind == _CLAIMABLE_BALANCE:
        balance = xdrconv.balance_strkey(raw[o + 4 : o + 36])
        claimants = []
        count = U32(raw, o + 36)[0]
        o += 40
        for _ in range(count):  # Claimant: type 0, destination, predicate
            claimants.append(account_at(raw, o + 4))
            o = skippers.skip_ClaimPredicate(raw, o + 40)
        asset, o = asset_at(raw, o)
        amount = I64(raw, o)[0]
        flags = U32(raw, o + 16)[0] if I32(raw, o + 8)[0] == 1 else 0  # ext v1: its own ext, then flags
        balance_entry = ClaimableBalanceEntry(balance, asset, amount, tuple(claimants), flags, modified)
        return balance_entry, EntryKey("claimable_balance", balance_id=balance), None
    if kind == _LIQUIDITY_POOL:
        pool = xdrconv.pool_strkey(raw[o : o + 32])
        asset_a, p = asset_at(raw, o + 36)  # after the pool id and the body's type (constant product)
        asset_b, p = asset_at(raw, p)
        fee = I32(raw, p)[0]
        reserve_a, reserve_b, shares, trustlines = _POOL_AMOUNTS(raw, p + 4)
        pool_entry = LiquidityPoolEntry(
            pool, asset_a, asset_b, reserve_a, reserve_b, shares, fee, trustlines, modified
        )
        return pool_entry, EntryKey("liquidity_pool", pool_id=pool), p + 36
    entry, key = convert_entry_and_key(unpack_at(x.LedgerEntry, raw, start))
    return entry, key, None


def _account_extension_v1_end(raw: bytes, o: int) -> int:
    """Where ``AccountEntryExtensionV1`` ends, from its inner extension at `o` (after the liabilities):
    void, or v2 (sponsorship counts, optional sponsoring ids per signer, then void or v3 of fixed size)."""
    if I32(raw, o)[0] != 2:
        return o + 4
    count = U32(raw, o + 12)[0]
    o += 16
    for _ in range(count):  # SponsorshipDescriptor: an optional AccountID
        o += 40 if U32(raw, o)[0] else 4
    # v3: ExtensionPoint, seqLedger, seqTime
    return o + 20 if I32(raw, o)[0] == 3 else o + 4


def offer_at(raw: bytes, o: int, modified: int) -> tuple[OfferEntry, int]:
    """The ``OfferEntry`` at `o` (in a ledger entry, or a manage offer result where `modified` is 0) and the
    offset after it."""
    seller = account_at(raw, o)
    offer_id = I64(raw, o + 36)[0]
    selling, o = asset_at(raw, o + 44)
    buying, o = asset_at(raw, o)
    offer = OfferEntry(
        seller, offer_id, selling, buying, I64(raw, o)[0], price_at(raw, o + 8), U32(raw, o + 16)[0], modified
    )
    return offer, o + 24  # flags, then the extension (only arm 0)
