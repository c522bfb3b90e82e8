"""Entry changes: conversion, keys and the before/after pairing, on real ledgers and hand-built entries."""

from __future__ import annotations

import hashlib
from typing import Any

from stellar_sdk import Asset, Keypair, StrKey
from stellar_sdk import xdr as x

from ledgers.entries import convert_change, convert_key
from ledgers.model import (
    AccountEntry,
    ContractDataEntry,
    EntryChange,
    EntryKey,
    TrustlineEntry,
    TtlEntry,
    pair_changes,
)

A = Keypair.from_raw_ed25519_seed(b"\x01" * 32).public_key
USD = Asset("USD", A)


def _account_entry(balance: int, modified: int = 10) -> x.LedgerEntry:
    account = x.AccountEntry(
        account_id=Keypair.from_public_key(A).xdr_account_id(),
        balance=x.Int64(balance),
        seq_num=x.SequenceNumber(x.Int64(5)),
        num_sub_entries=x.Uint32(1),
        inflation_dest=None,
        flags=x.Uint32(0),
        home_domain=x.String32(b"example.com"),
        thresholds=x.Thresholds(b"\x01\x00\x00\x00"),
        signers=[],
        ext=x.AccountEntryExt(
            1,
            v1=x.AccountEntryExtensionV1(
                x.Liabilities(x.Int64(3), x.Int64(4)), x.AccountEntryExtensionV1Ext(0)
            ),
        ),
    )
    return x.LedgerEntry(
        x.Uint32(modified), x.LedgerEntryData(x.LedgerEntryType.ACCOUNT, account=account), x.LedgerEntryExt(0)
    )


def _change(kind: x.LedgerEntryChangeType, **arm: Any) -> EntryChange:
    return convert_change(x.LedgerEntryChange(kind, **arm))


def test_account_change_and_pairing() -> None:
    state = _change(x.LedgerEntryChangeType.LEDGER_ENTRY_STATE, state=_account_entry(100))
    updated = _change(x.LedgerEntryChangeType.LEDGER_ENTRY_UPDATED, updated=_account_entry(70, 11))
    assert updated.entry == AccountEntry(A, 70, 5, 1, 3, 4, 0, "example.com", 11)
    assert updated.key == EntryKey("account", account_id=A) and updated.key.id == f"account:{A}"
    removed = _change(
        x.LedgerEntryChangeType.LEDGER_ENTRY_REMOVED,
        removed=x.LedgerKey(
            x.LedgerEntryType.ACCOUNT, account=x.LedgerKeyAccount(Keypair.from_public_key(A).xdr_account_id())
        ),
    )
    assert (removed.kind, removed.entry, removed.key.id) == ("removed", None, f"account:{A}")
    created = _change(x.LedgerEntryChangeType.LEDGER_ENTRY_CREATED, created=_account_entry(1))
    diffs = pair_changes([state, updated, state, removed, created])
    assert [(d.before and d.before.balance, d.after and d.after.balance) for d in diffs] == [  # type: ignore[union-attr]
        (100, 70),
        (100, None),
        (None, 1),
    ]


def test_trustline_keys() -> None:
    pool_hex = "dd7b1ab831c273310ddbec6f97870aa83c2fbd78ce22aded37ecbf4f3380fac7"
    pool = StrKey.encode_liquidity_pool(bytes.fromhex(pool_hex))
    account_id = Keypair.from_public_key(A).xdr_account_id()
    shares = x.LedgerKey(
        x.LedgerEntryType.TRUSTLINE,
        trust_line=x.LedgerKeyTrustLine(
            account_id,
            x.TrustLineAsset(
                x.AssetType.ASSET_TYPE_POOL_SHARE, liquidity_pool_id=x.PoolID(x.Hash(bytes.fromhex(pool_hex)))
            ),
        ),
    )
    key = convert_key(shares)
    assert (key.asset, key.pool_id, key.id) == (
        f"pool_share:{pool}",
        pool,
        f"trustline:{A}:pool_share:{pool}",
    )
    plain = x.LedgerKey(
        x.LedgerEntryType.TRUSTLINE,
        trust_line=x.LedgerKeyTrustLine(account_id, USD.to_trust_line_asset_xdr_object()),
    )
    assert convert_key(plain).id == f"trustline:{A}:USD:{A}"


def test_contract_data_key_hash_is_sha256_of_the_ledger_key(open_views: Any) -> None:
    (view,) = open_views("wallet-backend/ledger-57500008.xdr.gz")
    checked = 0
    for _, _, change in view.ledger_changes_in_order():
        entry = change.entry
        if isinstance(entry, ContractDataEntry):
            ledger_key = x.LedgerKey(
                x.LedgerEntryType.CONTRACT_DATA,
                contract_data=x.LedgerKeyContractData(
                    x.SCAddress.from_xdr_bytes(_address_xdr(entry.contract_id)),
                    x.SCVal.from_xdr_bytes(entry.key.xdr),
                    x.ContractDataDurability.PERSISTENT
                    if entry.durability == "persistent"
                    else x.ContractDataDurability.TEMPORARY,
                ),
            )
            assert entry.key_hash == hashlib.sha256(ledger_key.to_xdr_bytes()).hexdigest()
            assert change.key.id == f"contract_data:{entry.contract_id}:{entry.key_hash}"
            checked += 1
        elif isinstance(entry, TtlEntry):
            assert change.key.id == f"ttl:{entry.key_hash}"
        elif isinstance(entry, TrustlineEntry):
            assert entry.asset.count(":") == 1 or entry.asset == "native" or entry.pool_id
    assert checked > 50


def _address_xdr(strkey: str) -> bytes:
    from stellar_sdk import Address

    return Address(strkey).to_xdr_sc_address().to_xdr_bytes()


def test_removed_contract_data_key_hash_matches_its_entry() -> None:
    contract = x.SCAddress(
        x.SCAddressType.SC_ADDRESS_TYPE_CONTRACT, contract_id=x.ContractID(x.Hash(b"\x05" * 32))
    )
    key = x.SCVal(x.SCValType.SCV_SYMBOL, sym=x.SCSymbol(b"Admin"))
    data = x.ContractDataEntry(
        x.ExtensionPoint(0), contract, key, x.ContractDataDurability.TEMPORARY, x.SCVal(x.SCValType.SCV_VOID)
    )
    entry = x.LedgerEntry(
        x.Uint32(1),
        x.LedgerEntryData(x.LedgerEntryType.CONTRACT_DATA, contract_data=data),
        x.LedgerEntryExt(0),
    )
    created = _change(x.LedgerEntryChangeType.LEDGER_ENTRY_CREATED, created=entry)
    removed = _change(
        x.LedgerEntryChangeType.LEDGER_ENTRY_REMOVED,
        removed=x.LedgerKey(
            x.LedgerEntryType.CONTRACT_DATA,
            contract_data=x.LedgerKeyContractData(contract, key, x.ContractDataDurability.TEMPORARY),
        ),
    )
    assert created.key == removed.key and created.key.durability == "temporary"
