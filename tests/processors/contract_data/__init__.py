# mypy: disable-error-code="union-attr"
# (stellar-sdk types every XDR union arm as Optional; the walk reads the arms the data holds.)
"""Tests of the ContractDataProcessor, and their shared corpus cache and direct XDR walk.

`walk_ledger` reads contract data and TTL changes straight from stellar-sdk's decoded ``LedgerCloseMeta``,
every change list of every transaction (fees, before, operations, after, post-apply fees), the upgrades and
the evicted keys, without `LedgerView`, on the ledger as stellar-sdk alone decodes it; key hashes are computed
by building the ``LedgerKey``. The tests compare it with the extractor's rows. Each corpus ledger is decoded once
per session for every processor package (tests/corpus.py) and only the rows and the walk are kept
(`corpus_ledgers`): a decoded mainnet ledger is ~1M Python objects.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select as sql_select
from sqlalchemy.ext.asyncio import AsyncEngine
from stellar_sdk import Address
from stellar_sdk import xdr as x

from ledgers.model import gc_paused
from processors.contract_data.extract import LEDGER_LEVEL
from processors.contract_data.table import contract_data, contract_data_current, contract_data_ttl_updates
from tests import corpus
from tests.corpus import MAINNET_20, MAINNET_OTHER, sdk_envelopes

__all__ = [
    "MAINNET_20",
    "CorpusLedger",
    "DataChange",
    "Walk",
    "as_walked",
    "corpus_ledgers",
    "decode",
    "snapshot",
]

OTHER_SOROBAN = (
    *MAINNET_OTHER,  # protocol 20 (LCM v1), protocol 22 (removals)
    "stellar-go/compressxdr/FCD285FF--53312000.xdr.zstd",  # protocol 21, meta v3
    "stellar-go/load-test/galexie-load-test-ledgers-v23-standalone.xdr.zstd",
    "stellar-go/load-test/load-test-ledgers-2025-07.xdr.zstd",
    "stellar-go/load-test/load-test-ledgers-v22.xdr.zstd",  # meta v3
    "stellar-go/load-test/load-test-ledgers-v23.xdr.zstd",
    "stellar-go/load-test/load-test-ledgers-v24.xdr.zstd",
    "stellar-rpc/load-test-ledgers-v25.xdr.zstd",  # restored entries
)
LEDGER_LEVEL_TX = 0  # the walk's transaction index for upgrades and evictions

_DATA = x.LedgerEntryType.CONTRACT_DATA
_TTL = x.LedgerEntryType.TTL
_C = x.LedgerEntryChangeType
_KINDS = {
    _C.LEDGER_ENTRY_CREATED: "created",
    _C.LEDGER_ENTRY_UPDATED: "updated",
    _C.LEDGER_ENTRY_REMOVED: "removed",
    _C.LEDGER_ENTRY_RESTORED: "restored",
}
_DURABILITY = {
    x.ContractDataDurability.PERSISTENT: "persistent",
    x.ContractDataDurability.TEMPORARY: "temporary",
}


@dataclass(frozen=True)
class DataChange:
    """One contract data change (or eviction) as the raw XDR shows it."""

    transaction_index: int  # 0 for ledger level
    operation_index: int  # 0 for transaction level
    change: str
    contract_id: str
    key_hash: str
    durability: str
    key_xdr: str | None
    value_xdr: str | None  # for a removal: the value before it (the list's `state`)
    live_until_ledger: int | None  # the key's TTL at the end of the change list
    wasm_hash: str | None


@dataclass(frozen=True)
class TtlMove:
    """A TTL change without a data change of the same key in the same change list."""

    transaction_index: int
    operation_index: int
    key_hash: str
    live_until_ledger: int


@dataclass(frozen=True)
class Walk:
    sequence: int
    changes: tuple[DataChange, ...]
    moves: tuple[TtlMove, ...]
    # key hash of a TTL move -> (contract id, key XDR) of the contract data key in a transaction's footprint
    # (the TTL entry names only the hash)
    moved_keys: dict[str, tuple[str, str]]


def _b64(value: Any) -> str:
    return base64.b64encode(value.to_xdr_bytes()).decode()


def data_key_hash(contract: x.SCAddress, key: x.SCVal, durability: x.ContractDataDurability) -> str:
    ledger_key = x.LedgerKey(_DATA, contract_data=x.LedgerKeyContractData(contract, key, durability))
    return hashlib.sha256(ledger_key.to_xdr_bytes()).hexdigest()


def _change_lists(meta: x.LedgerCloseMeta) -> list[tuple[int, int, list[x.LedgerEntryChange]]]:
    """Every change list of the ledger in application order: (tx index or 0, op index or 0, changes)."""
    lcm = meta.v0 or meta.v1 or meta.v2
    processing = lcm.tx_processing
    lists: list[tuple[int, int, list[x.LedgerEntryChange]]] = []
    for i, item in enumerate(processing):
        lists.append((i + 1, 0, item.fee_processing.ledger_entry_changes))
    for i, item in enumerate(processing):
        tx_meta = item.tx_apply_processing
        versioned = tx_meta.v4 or tx_meta.v3 or tx_meta.v2
        if versioned is not None:
            before, operations = versioned.tx_changes_before, versioned.operations
            after = versioned.tx_changes_after.ledger_entry_changes
        elif tx_meta.v1 is not None:
            before, operations, after = tx_meta.v1.tx_changes, tx_meta.v1.operations, []
        else:
            before, operations, after = None, tx_meta.operations or [], []
        lists.append((i + 1, 0, before.ledger_entry_changes if before is not None else []))
        for j, op_meta in enumerate(operations):
            lists.append((i + 1, j + 1, op_meta.changes.ledger_entry_changes))
        lists.append((i + 1, 0, after))
    for i, item in enumerate(processing):
        post = getattr(item, "post_tx_apply_fee_processing", None)
        if post is not None:
            lists.append((i + 1, 0, post.ledger_entry_changes))
    for upgrade in lcm.upgrades_processing:
        lists.append((LEDGER_LEVEL_TX, 0, upgrade.changes.ledger_entry_changes))
    return lists


def walk_ledger(meta: x.LedgerCloseMeta) -> Walk:
    """Contract data changes, evictions and TTL moves of a ledger, straight from the XDR."""
    lcm = meta.v0 or meta.v1 or meta.v2
    ttl: dict[str, int] = {}
    changes: list[DataChange] = []
    moves: list[TtlMove] = []
    for tx_index, op_index, items in _change_lists(meta):
        states: dict[str, Any] = {}  # key hash -> ContractDataEntry
        found: list[tuple[str, x.ContractDataEntry | None, str, x.LedgerKeyContractData | None]] = []
        ttl_here: dict[str, int] = {}
        for change in items:
            if change.type == _C.LEDGER_ENTRY_REMOVED:
                key = change.removed
                if key.type == _DATA:
                    cd = key.contract_data
                    key_hash = data_key_hash(cd.contract, cd.key, cd.durability)
                    found.append((key_hash, states.get(key_hash), "removed", cd))
                elif key.type == _TTL:
                    ttl.pop(key.ttl.key_hash.hash.hex(), None)
                continue
            entry = (change.state or change.created or change.updated or change.restored).data
            if entry.type == _DATA:
                cd_entry = entry.contract_data
                key_hash = data_key_hash(cd_entry.contract, cd_entry.key, cd_entry.durability)
                if change.type == _C.LEDGER_ENTRY_STATE:
                    states[key_hash] = cd_entry
                else:
                    found.append((key_hash, cd_entry, _KINDS[change.type], None))
            elif entry.type == _TTL and change.type != _C.LEDGER_ENTRY_STATE:
                key_hash = entry.ttl.key_hash.hash.hex()
                ttl[key_hash] = ttl_here[key_hash] = entry.ttl.live_until_ledger_seq.uint32
        data_hashes = {key_hash for key_hash, *_ in found}
        for key_hash, data_entry, kind, removed_key in found:
            source: Any = data_entry if data_entry is not None else removed_key
            wasm = None
            if data_entry is not None and data_entry.val.type == x.SCValType.SCV_CONTRACT_INSTANCE:
                executable = data_entry.val.instance.executable
                wasm = executable.wasm_hash.hash.hex() if executable.wasm_hash is not None else None
            changes.append(
                DataChange(
                    tx_index,
                    op_index,
                    kind,
                    Address.from_xdr_sc_address(source.contract).address,
                    key_hash,
                    _DURABILITY[source.durability],
                    _b64(source.key),
                    _b64(data_entry.val) if data_entry is not None else None,
                    None if kind == "removed" else ttl.get(key_hash),
                    wasm,
                )
            )
        moves.extend(
            TtlMove(tx_index, op_index, key_hash, value)
            for key_hash, value in ttl_here.items()
            if key_hash not in data_hashes
        )
    for key in getattr(lcm, "evicted_keys", None) or []:
        if key.type == _DATA:
            cd = key.contract_data
            key_hash = data_key_hash(cd.contract, cd.key, cd.durability)
            durability = _DURABILITY[cd.durability]
            contract = Address.from_xdr_sc_address(cd.contract).address
            changes.append(
                DataChange(
                    LEDGER_LEVEL_TX, 0, "evicted", contract, key_hash, durability, None, None, None, None
                )
            )
    sequence = lcm.ledger_header.header.ledger_seq.uint32
    return Walk(sequence, tuple(changes), tuple(moves), _footprint_keys(meta, {m.key_hash for m in moves}))


def _footprint_keys(meta: x.LedgerCloseMeta, hashes: set[str]) -> dict[str, tuple[str, str]]:
    """(contract id, key XDR) of the contract data keys of the transactions' footprints hashing to `hashes`."""
    found: dict[str, tuple[str, str]] = {}
    if not hashes:
        return found
    for envelope in sdk_envelopes(meta):
        if envelope.v0 is not None:
            continue  # no Soroban transaction in a v0 envelope
        tx = envelope.v1.tx if envelope.v1 is not None else envelope.fee_bump.tx.inner_tx.v1.tx
        if tx.ext.soroban_data is None:
            continue
        footprint = tx.ext.soroban_data.resources.footprint
        for key in footprint.read_only + footprint.read_write:
            key_hash = hashlib.sha256(key.to_xdr_bytes()).hexdigest()
            if key_hash in hashes and key.contract_data is not None:
                contract = Address.from_xdr_sc_address(key.contract_data.contract).address
                found[key_hash] = (contract, key.contract_data.key.to_xdr())
    return found


@dataclass(frozen=True)
class CorpusLedger:
    """One corpus ledger: where it is, its passphrase, the extracted rows and moves, and the direct walk."""

    file: str
    index: int
    passphrase: str
    rows: tuple[dict[str, Any], ...]
    moves: tuple[dict[str, Any], ...]
    walk: Walk


def decode(raw: bytes) -> x.LedgerCloseMeta:
    """A ledger built by the tests (builders.py), decoded by stellar-sdk alone for the walk."""
    with gc_paused():
        return x.LedgerCloseMeta.from_xdr_bytes(raw)


@corpus.facts("contract_data")
def _walk(decoded: corpus.Decoded) -> Walk:
    return walk_ledger(decoded.meta)


def corpus_ledgers(root: Path, file: str) -> tuple[CorpusLedger, ...]:
    """Every ledger of corpus `file`: the extracted rows and the walk (decoded once per session)."""
    return tuple(
        CorpusLedger(
            file,
            ledger.index,
            ledger.passphrase,
            tuple(ledger.rows("contract_data")),
            tuple(ledger.rows("contract_data", "contract_data_ttl_updates")),
            ledger.facts("contract_data"),
        )
        for ledger in corpus.ledgers(root, file)
    )


def as_walked(row: dict[str, Any]) -> DataChange:
    tx = LEDGER_LEVEL_TX if row["transaction_index"] == LEDGER_LEVEL else row["transaction_index"]
    return DataChange(
        tx,
        row["operation_index"],
        row["change"],
        row["contract_id"],
        row["key_hash"],
        row["durability"],
        row["key_xdr"],
        row["value_xdr"],
        row["live_until_ledger"],
        row["instance_wasm_hash"],
    )


async def table_rows(engine: AsyncEngine, table: Any) -> list[dict[str, Any]]:
    order = [column for column in table.primary_key.columns]
    async with engine.connect() as conn:
        return [dict(row) for row in (await conn.execute(sql_select(table).order_by(*order))).mappings()]


async def snapshot(engine: AsyncEngine) -> dict[str, list[dict[str, Any]]]:
    return {
        table.name: await table_rows(engine, table)
        for table in (contract_data, contract_data_current, contract_data_ttl_updates)
    }
