"""`SampleInfo`: what a sample datastore holds, so tests and the demo can describe it without decoding it.

It round-trips through JSON (`to_json` / `from_json`) because `ensure_sample_datastore` keeps it in the
folder's marker file and answers from there when the folder is already up to date.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class LedgerCounts:
    """What one sample ledger holds: transactions, operations by type, events by first topic."""

    sequence: int
    close_time: int
    ledger_hash: str
    transactions: int
    failed_transactions: int
    operations_by_type: Mapping[str, int]
    events_by_topic: Mapping[str, int]

    @property
    def operations(self) -> int:
        return sum(self.operations_by_type.values())

    @property
    def events(self) -> int:
        return sum(self.events_by_topic.values())


@dataclass(frozen=True)
class SampleInfo:
    """A written sample datastore: where it is, its ledgers, and the names behind its keys.

    ``accounts`` and ``contracts`` map names (``alice``, ``amm`` …) to strkeys; ``assets`` maps codes
    (``USDC``, ``EURC``, ``native``) to SEP-11 strings (``USDC:G…``); ``asset_contracts`` maps those strings to
    their Stellar Asset Contract ids on the datastore's network; ``pools`` maps pool names to ``L…``.
    """

    version: str
    folder: Path
    network_passphrase: str
    first_ledger: int
    last_ledger: int
    accounts: Mapping[str, str]
    contracts: Mapping[str, str]
    assets: Mapping[str, str]
    asset_contracts: Mapping[str, str]
    pools: Mapping[str, str]
    ledgers: tuple[LedgerCounts, ...]

    @property
    def transactions(self) -> int:
        return sum(ledger.transactions for ledger in self.ledgers)

    @property
    def operations_by_type(self) -> dict[str, int]:
        total: Counter[str] = Counter()
        for ledger in self.ledgers:
            total.update(ledger.operations_by_type)
        return dict(total)

    @property
    def events_by_topic(self) -> dict[str, int]:
        total: Counter[str] = Counter()
        for ledger in self.ledgers:
            total.update(ledger.events_by_topic)
        return dict(total)

    def to_json(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "network_passphrase": self.network_passphrase,
            "first_ledger": self.first_ledger,
            "last_ledger": self.last_ledger,
            "accounts": dict(self.accounts),
            "contracts": dict(self.contracts),
            "assets": dict(self.assets),
            "asset_contracts": dict(self.asset_contracts),
            "pools": dict(self.pools),
            "ledgers": [
                {
                    "sequence": c.sequence,
                    "close_time": c.close_time,
                    "ledger_hash": c.ledger_hash,
                    "transactions": c.transactions,
                    "failed_transactions": c.failed_transactions,
                    "operations_by_type": dict(c.operations_by_type),
                    "events_by_topic": dict(c.events_by_topic),
                }
                for c in self.ledgers
            ],
        }

    @classmethod
    def from_json(cls, folder: Path, doc: Mapping[str, Any]) -> SampleInfo:
        """Rebuild from `to_json` output; raises KeyError/TypeError on a document of another shape."""
        return cls(
            version=str(doc["version"]),
            folder=folder,
            network_passphrase=str(doc["network_passphrase"]),
            first_ledger=int(doc["first_ledger"]),
            last_ledger=int(doc["last_ledger"]),
            accounts=dict(doc["accounts"]),
            contracts=dict(doc["contracts"]),
            assets=dict(doc["assets"]),
            asset_contracts=dict(doc["asset_contracts"]),
            pools=dict(doc["pools"]),
            ledgers=tuple(LedgerCounts(**ledger) for ledger in doc["ledgers"]),
        )
