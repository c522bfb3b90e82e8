# mypy: disable-error-code="union-attr"
"""Built ledgers for what the corpus lacks: evictions, Stellar Asset Contract instances, removals, TTL moves.

They start from the embedded demo's sample ledgers (`ledgers.samples`: valid protocol-26 ledgers, LCM v2, meta
v4) and edit the meta of a copy: extra entry changes in a Soroban operation, a TTL move pointed at another
key, evicted keys. Envelopes are untouched, so transaction hashes still match; nothing reads the header hash.

Scenario (sample ledgers 1002-1004, the last a copy of 1003 renumbered):

- 1002, as sampled: two SAC balances updated; the amm's ``Position`` entry created with its TTL.
- 1003: instances created (the USDC and native SACs, a forged SAC: the amm claiming USDC, the vault's Wasm);
  a temporary ``["Allowance", vault]`` entry created; the sampled ``ExtendFootprintTTL`` now extends
  ``Position``.
- 1004: the ``Allowance`` entry removed; an ``ExtendFootprintTTL`` of the USDC balance (no data change); the
  EURC balance evicted (with its TTL key).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cache

from stellar_sdk import StrKey
from stellar_sdk import xdr as x

from ledgers.samples import PUBNET_PASSPHRASE, build_sample_ledgers
from ledgers.samples.xdrkit import address, sc_address, string, sym, symbol_map, u32, vec

PASSPHRASE = PUBNET_PASSPHRASE
FIRST = 1000
USDC_SAC = "CCKXBRPOJUWG4XHER3NLEMY3O4C4YS3LAEI725L6H63U5KEJ7KSRKE4A"
EURC_SAC = "CACVNHRN23TAJLES4L4BBHHE24IIVDBPRBQA3WFFIXCIB62GWJZ3FMDR"
NATIVE_SAC = "CAS3J7GYLGXMF6TDJBBYYSE3HQ6BBSMLNUQ34T6TZMYMW2EVH34XOWMA"
AMM = "CDTMHPC6J2NXQK4O2NDJ7OYS3F6QTOLIEMUHUKUL44VH4CUTJZ7EU7XD"
VAULT = "CBRA6P5ALIHIHKTMVBLFHZUS5UXT5EEEV74VRUFBEXDZW5W7MWIRGDMT"
ISSUER = "GC7X3I3JTFKBG2S6K46VUBVLFKQDFMLSOWOJJTE7I7Z7IEAC7NUWDVXY"
POSITION_OWNER = "GCJCTZINMJCJNVOLE7KQJ36MCWPR4ZYR5I62HHFDMSJKJQPHF327JXI4"
VAULT_WASM = "5a" * 32
PERSISTENT = x.ContractDataDurability.PERSISTENT
TEMPORARY = x.ContractDataDurability.TEMPORARY
POSITION_TTL_1003 = 501_003  # the sampled ExtendFootprintTTL's new TTL
USDC_BALANCE_TTL_1004 = 777_777
ALLOWANCE_TTL = 2_000
INSTANCE_TTL = 600_000
_C = x.LedgerEntryChangeType


@dataclass(frozen=True)
class Key:
    contract: str
    key: x.SCVal
    durability: x.ContractDataDurability = PERSISTENT

    def ledger_key(self) -> x.LedgerKey:
        return x.LedgerKey(
            x.LedgerEntryType.CONTRACT_DATA,
            contract_data=x.LedgerKeyContractData(sc_address(self.contract), self.key, self.durability),
        )

    @property
    def hash(self) -> bytes:
        return hashlib.sha256(self.ledger_key().to_xdr_bytes()).digest()

    def entry(self, value: x.SCVal, ledger: int) -> x.LedgerEntry:
        data = x.ContractDataEntry(
            x.ExtensionPoint(0), sc_address(self.contract), self.key, self.durability, value
        )
        return _entry(x.LedgerEntryData(x.LedgerEntryType.CONTRACT_DATA, contract_data=data), ledger)

    def ttl_key(self) -> x.LedgerKey:
        return x.LedgerKey(x.LedgerEntryType.TTL, ttl=x.LedgerKeyTtl(x.Hash(self.hash)))

    def ttl(self, live_until: int, ledger: int) -> x.LedgerEntry:
        data = x.LedgerEntryData(x.LedgerEntryType.TTL, ttl=x.TTLEntry(x.Hash(self.hash), u32(live_until)))
        return _entry(data, ledger)


INSTANCE = x.SCVal(x.SCValType.SCV_LEDGER_KEY_CONTRACT_INSTANCE)
POSITION = Key(AMM, vec(sym("Position"), address(POSITION_OWNER)))
USDC_BALANCE = Key(USDC_SAC, vec(sym("Balance"), address(AMM)))
EURC_BALANCE = Key(EURC_SAC, vec(sym("Balance"), address(AMM)))
ALLOWANCE = Key(VAULT, vec(sym("Allowance"), address(VAULT)), TEMPORARY)
ALLOWANCE_VALUE = symbol_map({"amount": x.SCVal(x.SCValType.SCV_U32, u32=u32(5))})


def _entry(data: x.LedgerEntryData, ledger: int) -> x.LedgerEntry:
    return x.LedgerEntry(u32(ledger), data, x.LedgerEntryExt(0))


def created(entry: x.LedgerEntry) -> x.LedgerEntryChange:
    return x.LedgerEntryChange(_C.LEDGER_ENTRY_CREATED, created=entry)


def state(entry: x.LedgerEntry) -> x.LedgerEntryChange:
    return x.LedgerEntryChange(_C.LEDGER_ENTRY_STATE, state=entry)


def updated(entry: x.LedgerEntry) -> x.LedgerEntryChange:
    return x.LedgerEntryChange(_C.LEDGER_ENTRY_UPDATED, updated=entry)


def removed(key: x.LedgerKey) -> x.LedgerEntryChange:
    return x.LedgerEntryChange(_C.LEDGER_ENTRY_REMOVED, removed=key)


def sac_instance(asset_info: x.SCVal) -> x.SCVal:
    """The instance value of a Stellar Asset Contract whose storage holds `asset_info` under ``["AssetInfo"]``."""
    storage = x.SCMap([x.SCMapEntry(vec(sym("AssetInfo")), asset_info)])
    executable = x.ContractExecutable(x.ContractExecutableType.CONTRACT_EXECUTABLE_STELLAR_ASSET)
    return x.SCVal(x.SCValType.SCV_CONTRACT_INSTANCE, instance=x.SCContractInstance(executable, storage))


def alphanum4(code: str, issuer: str) -> x.SCVal:
    issuer_bytes = x.SCVal(x.SCValType.SCV_BYTES, bytes=x.SCBytes(StrKey.decode_ed25519_public_key(issuer)))
    return vec(sym("AlphaNum4"), symbol_map({"asset_code": string(code), "issuer": issuer_bytes}))


def wasm_instance(wasm_hex: str) -> x.SCVal:
    executable = x.ContractExecutable(
        x.ContractExecutableType.CONTRACT_EXECUTABLE_WASM, wasm_hash=x.Hash(bytes.fromhex(wasm_hex))
    )
    return x.SCVal(x.SCValType.SCV_CONTRACT_INSTANCE, instance=x.SCContractInstance(executable, None))


INSTANCES = {  # contract -> (instance value, expected instance_wasm_hash, expected instance_asset)
    USDC_SAC: (sac_instance(alphanum4("USDC", ISSUER)), None, f"USDC:{ISSUER}"),
    NATIVE_SAC: (sac_instance(vec(sym("Native"))), None, "native"),
    AMM: (sac_instance(alphanum4("USDC", ISSUER)), None, None),  # forged: not USDC's SAC id
    VAULT: (wasm_instance(VAULT_WASM), VAULT_WASM, None),
}


def _op_changes(meta: x.LedgerCloseMeta, tx_index: int) -> list[x.LedgerEntryChange]:
    """The (mutable) change list of the single operation of transaction `tx_index` (1-based)."""
    return (
        meta.v2.tx_processing[tx_index - 1].tx_apply_processing.v4.operations[0].changes.ledger_entry_changes
    )


def _retarget_ttl(changes: list[x.LedgerEntryChange], key: Key, live_until: int) -> None:
    """Point the TTL state/updated pair of an ExtendFootprintTTL at `key`, extended to `live_until`."""
    for change in changes:
        entry = change.state or change.updated
        entry.data.ttl.key_hash = x.Hash(key.hash)
        if change.updated is not None:
            entry.data.ttl.live_until_ledger_seq = u32(live_until)


def _copy(meta: x.LedgerCloseMeta) -> x.LedgerCloseMeta:
    return x.LedgerCloseMeta.from_xdr_bytes(meta.to_xdr_bytes())


@cache
def scenario() -> tuple[bytes, bytes, bytes]:
    """The raw XDR of ledgers 1002, 1003 and 1004 (see the module docstring)."""
    built = build_sample_ledgers(PASSPHRASE, FIRST, 4)
    first, sample = built.ledgers[2].meta, built.ledgers[3].meta

    second = _copy(sample)
    invoke = _op_changes(second, 3)
    for contract, (value, _, _) in INSTANCES.items():
        key = Key(contract, INSTANCE)
        invoke += [created(key.entry(value, 1003)), created(key.ttl(INSTANCE_TTL, 1003))]
    invoke += [created(ALLOWANCE.entry(ALLOWANCE_VALUE, 1003)), created(ALLOWANCE.ttl(ALLOWANCE_TTL, 1003))]
    _retarget_ttl(_op_changes(second, 4), POSITION, POSITION_TTL_1003)

    third = _copy(sample)
    third.v2.ledger_header.header.ledger_seq = u32(1004)
    invoke = _op_changes(third, 3)
    invoke[:] = [  # the sampled balance updates are dropped: only the removal stays
        state(ALLOWANCE.entry(ALLOWANCE_VALUE, 1003)),
        removed(ALLOWANCE.ledger_key()),
        state(ALLOWANCE.ttl(ALLOWANCE_TTL, 1003)),
        removed(ALLOWANCE.ttl_key()),
    ]
    _retarget_ttl(_op_changes(third, 4), USDC_BALANCE, USDC_BALANCE_TTL_1004)
    third.v2.evicted_keys = [EURC_BALANCE.ledger_key(), EURC_BALANCE.ttl_key()]
    return first.to_xdr_bytes(), second.to_xdr_bytes(), third.to_xdr_bytes()
