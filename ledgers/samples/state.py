"""The sample ledger state and the recorder that turns record edits into meta ``LedgerEntryChanges``.

stellar-core's meta lists, per scope (fee processing of one transaction, one operation, …), a ``STATE`` (the
entry before) followed by ``UPDATED`` or ``REMOVED``, or a lone ``CREATED``. `Changes` reproduces that shape:
a builder calls `Changes.touch` before editing a record, and `Changes.finish` emits each touched record once,
in first-touch order, stamped with the ledger sequence as stellar-core stamps ``lastModifiedLedgerSeq``.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import TypeVar

from stellar_sdk import Asset
from stellar_sdk import xdr as x

from .entries import (
    AccountRecord,
    ContractDataRecord,
    Ident,
    OfferRecord,
    PoolRecord,
    Record,
    TrustlineRecord,
    TtlRecord,
)
from .xdrkit import asset_string

R = TypeVar("R", bound=Record)

BASE_RESERVE = 5_000_000  # stroops per subentry (LedgerHeader.baseReserve): 0.5 XLM, as on pubnet


class SampleError(RuntimeError):
    """The sample scenario asked for something the state cannot do (a bug in the scenario, not in input)."""


@dataclass
class LedgerState:
    """Every live entry of the sample network, plus the header counters the builders advance."""

    records: dict[Ident, Record] = field(default_factory=dict)
    id_pool: int = 0  # last offer id handed out (LedgerHeader.idPool)
    base_reserve: int = BASE_RESERVE

    def add(self, record: Record) -> None:
        self.records[record.ident] = record

    def drop(self, record: Record) -> None:
        del self.records[record.ident]

    def find(self, ident: Ident) -> Record | None:
        return self.records.get(ident)

    def _get(self, ident: Ident, kind: type[R]) -> R:
        record = self.records.get(ident)
        if not isinstance(record, kind):
            raise SampleError(f"no {kind.__name__} {ident!r} in the sample state")
        return record

    def account(self, account_id: str) -> AccountRecord:
        return self._get(("account", account_id), AccountRecord)

    def trustline(self, account_id: str, asset: Asset) -> TrustlineRecord:
        return self._get(("trustline", account_id, asset_string(asset)), TrustlineRecord)

    def pool(self, pool_id: bytes) -> PoolRecord:
        return self._get(("pool", pool_id.hex()), PoolRecord)

    def contract_data(self, contract: str, key: x.SCVal) -> ContractDataRecord | None:
        record = self.records.get(("contract_data", contract, key.to_xdr()))
        return record if isinstance(record, ContractDataRecord) else None

    def ttl(self, key_hash: bytes) -> TtlRecord:
        return self._get(("ttl", key_hash.hex()), TtlRecord)

    def offers(self, selling: Asset, buying: Asset) -> list[OfferRecord]:
        """Offers selling `selling` for `buying`, best price first (then oldest), as the order book matches."""
        found = [
            r
            for r in self.records.values()
            if isinstance(r, OfferRecord) and r.selling == selling and r.buying == buying
        ]
        return sorted(found, key=lambda o: (o.price_n / o.price_d, o.offer_id))

    def next_offer_id(self) -> int:
        self.id_pool += 1
        return self.id_pool

    def snapshot(self) -> LedgerState:
        """A copy restored with `restore` when a transaction fails and its operations roll back.

        Each record is copied, not deeply: builders change a record only by assigning its fields (the values they
        hold, assets and ScVals, are replaced, never edited in place), so a record's own copy is enough, and it
        is what makes closing a ledger cheap (a deep copy of the state per transaction took half the time)."""
        records = {ident: copy.copy(record) for ident, record in self.records.items()}
        return LedgerState(records=records, id_pool=self.id_pool, base_reserve=self.base_reserve)

    def restore(self, snapshot: LedgerState) -> None:
        self.records = snapshot.records
        self.id_pool = snapshot.id_pool


class Changes:
    """Records the entry changes of one meta scope; see the module docstring."""

    def __init__(self, state: LedgerState, ledger_seq: int) -> None:
        self._state = state
        self._seq = ledger_seq
        self._order: list[Ident] = []
        self._before: dict[Ident, x.LedgerEntry | None] = {}  # None: created in this scope
        self._records: dict[Ident, Record] = {}
        self._removed: set[Ident] = set()

    def touch(self, record: R) -> R:
        """Mark `record` as about to change (call before editing it) and return it."""
        ident = record.ident
        if ident not in self._before:
            self._order.append(ident)
            self._before[ident] = record.entry()
            self._records[ident] = record
        return record

    def create(self, record: R) -> R:
        if self._state.find(record.ident) is not None:
            raise SampleError(f"{record.ident!r} already exists")
        self._state.add(record)
        ident = record.ident
        self._order.append(ident)
        self._before[ident] = None
        self._records[ident] = record
        return record

    def remove(self, record: Record) -> None:
        self.touch(record)
        self._state.drop(record)
        self._removed.add(record.ident)

    def finish(self) -> x.LedgerEntryChanges:
        """The scope's changes in stellar-core's shape (call once, after the last edit)."""
        out: list[x.LedgerEntryChange] = []
        for ident in self._order:
            before = self._before[ident]
            record = self._records[ident]
            if ident in self._removed:
                if before is not None:  # created and removed in one scope: no trace, as in core
                    out.append(x.LedgerEntryChange(x.LedgerEntryChangeType.LEDGER_ENTRY_STATE, state=before))
                    out.append(
                        x.LedgerEntryChange(
                            x.LedgerEntryChangeType.LEDGER_ENTRY_REMOVED, removed=record.key()
                        )
                    )
                continue
            record.last_modified = self._seq
            if before is None:
                out.append(
                    x.LedgerEntryChange(x.LedgerEntryChangeType.LEDGER_ENTRY_CREATED, created=record.entry())
                )
            else:
                out.append(x.LedgerEntryChange(x.LedgerEntryChangeType.LEDGER_ENTRY_STATE, state=before))
                out.append(
                    x.LedgerEntryChange(x.LedgerEntryChangeType.LEDGER_ENTRY_UPDATED, updated=record.entry())
                )
        return x.LedgerEntryChanges(out)
