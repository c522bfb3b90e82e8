"""Tenant plans travel to the decoding processes with every ledger: registered processors go by name."""

from __future__ import annotations

import dataclasses
import pickle

from core.settings import Network
from core.tenant_config import parse_tenant_config
from ingest.engine import TenantPlan, plan_tenants
from processors.registry import default_registry


def _plans() -> list[TenantPlan]:
    document = {
        "customer": {
            "id": "tenant-1",
            "name": "tenant 1",
            "network": "pubnet",
            "processors": [
                {"type": p.type_name, "config": {}} for p in default_registry().catalogue().values()
            ],
        }
    }
    return plan_tenants(
        [parse_tenant_config(document, default_registry().catalogue())],
        default_registry().catalogue(),
        Network.pubnet,
    )


def test_registered_processors_pickle_by_name() -> None:
    plans = _plans()
    blob = pickle.dumps(plans)
    assert len(blob) < 10_000  # not the processors' tables and listings
    back = pickle.loads(blob)  # noqa: S301 (our own bytes)
    assert back == plans
    for (restored, config), (original, original_config) in zip(
        back[0].processors, plans[0].processors, strict=True
    ):
        assert restored is original and config == original_config


def test_other_processors_pickle_as_themselves() -> None:
    processor, config = _plans()[0].processors[0]
    copy = dataclasses.replace(processor, description="a test double")
    back = pickle.loads(pickle.dumps(TenantPlan("t", ((copy, config),))))  # noqa: S301 (our own bytes)
    restored = back.processors[0][0]
    assert restored is not processor and (restored.name, restored.description) == (copy.name, "a test double")
