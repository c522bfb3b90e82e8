"""`tenant_rows`: each plan's rows stamped with its tenant id; with fresh rows the last plan's are not copied."""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any

from core.settings import NETWORK_PASSPHRASES, Network
from core.tenant_config import parse_tenant_config
from ingest.engine import TenantPlan, plan_tenants, process_ledger, tenant_rows
from ledgers.view import LedgerView
from processors.base import Processor
from processors.registry import default_registry

LEDGER = (
    Path(__file__).resolve().parents[2].parent
    / "shared"
    / "ledgers"
    / "wallet-backend"
    / "ledger-63092982.xdr.gz"
)
PASSPHRASE = NETWORK_PASSPHRASES[Network.pubnet]


def _plans(*tenants: str) -> list[TenantPlan]:
    catalogue = default_registry().catalogue()
    documents = [
        {
            "customer": {
                "id": tenant,
                "name": tenant,
                "network": "pubnet",
                "processors": [{"type": p.type_name, "config": {}} for p in catalogue.values()],
            }
        }
        for tenant in tenants
    ]
    return plan_tenants([parse_tenant_config(d, catalogue) for d in documents], catalogue, Network.pubnet)


def _raw() -> bytes:
    return gzip.decompress(LEDGER.read_bytes())


def test_every_tenant_gets_its_own_stamped_rows() -> None:
    result = process_ledger(_raw(), PASSPHRASE, _plans("first", "second"))
    first, second = result.rows["first"], result.rows["second"]
    assert first.keys() == second.keys()
    count = 0
    for name, tables in first.items():
        for table, rows in tables.items():
            others = second[name][table]
            assert len(rows) == len(others)
            for row, other in zip(rows, others, strict=True):
                assert row is not other and row["tenant_id"] == "first" and other["tenant_id"] == "second"
                assert {**row, "tenant_id": "second"} == other
                count += 1
    assert count > 1000  # the ledger has rows in most tables


def test_the_last_plan_stamps_fresh_rows_in_place_and_earlier_plans_copy() -> None:
    view = LedgerView.from_xdr(_raw(), PASSPHRASE)
    extracted: dict[str, Any] = {}

    def extract(processor: Processor[Any]) -> Any:
        rows = processor.extract(view) if processor.extract is not None else {}
        extracted[processor.name] = rows
        return rows

    plans = _plans("first", "second")
    result = tenant_rows(view.sequence, view.closed_at, extract, plans, fresh=True)
    events = extracted["contract_events"]["contract_events"]
    selected = result.rows["second"]["contract_events"]["contract_events"]
    assert selected and {id(row) for row in selected} <= {id(row) for row in events}  # the same dicts
    assert all(row["tenant_id"] == "second" for row in selected)
    assert all(
        row["tenant_id"] == "first" for row in result.rows["first"]["contract_events"]["contract_events"]
    )
    # Rows extracted once and used again (as tests/corpus.py does) are never changed without `fresh`.
    again = tenant_rows(view.sequence, view.closed_at, lambda p: extracted[p.name], _plans("third"))
    assert all(row["tenant_id"] == "second" for row in selected)
    assert all(
        row["tenant_id"] == "third" for row in again.rows["third"]["contract_events"]["contract_events"]
    )
