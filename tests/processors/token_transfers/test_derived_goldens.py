"""Derived token transfers equal stellar/go's token transfer processor (TTP) on its own example ledgers.

The goldens (``stellar-go/ttp-example/*-events``, generated 2025-03) list each event as
``### Event Type: <type>`` and a JSON object (``meta`` with the ledger, transaction hash and index, operation
index (1-based, absent for fees) and contract address; then the event's ``from``/``to``/``asset``/``amount``),
and end with ``Processed ledger … num events: N, verification: success``. These ledgers carry transaction meta
v2/v3, so every row comes from the derivation path.

Every event matches on (type, from, to, asset, amount, transaction hash), and also on transaction index,
operation index and contract address, with one documented exception: the two Soroban transactions of
56065483. The TTP version that wrote the goldens reported a Soroban transaction's fee as one event of the
net ``fee_charged``; later TTP versions (and CAP-67 itself, see the unified ledgers) report what happened: the
full fee charged before the transaction ran, then the refund as a negative fee. We follow the latter, so each
of those transactions has two fee rows where the golden has one (charge - refund = the golden's amount).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tests.processors.token_transfers.derived_facts import TTP_LEDGERS, file_facts, ttp_file

Key = tuple[Any, ...]
_EVENT = re.compile(r"^### Event Type: (\w+)\n(.*?)\n###$", re.MULTILINE | re.DOTALL)
_VERDICT = re.compile(r"Processed ledger Seq: (\d+),.* num events: (\d+), verification: (\w+)")

# The README's counts per golden (a guard against a truncated or swapped file).
GOLDEN_COUNTS = {
    56065483: {"fee": 359, "transfer": 189},
    7762802: {"fee": 1, "burn": 1},
    7320888: {"fee": 1, "mint": 1},
    9722383: {"fee": 2, "transfer": 1, "burn": 1},
    9652679: {"fee": 2, "mint": 2, "transfer": 5},
    9652698: None,  # 7 events; the README gives no breakdown
    9710976: None,  # 5 events
}

SOROBAN_358 = "bcdf35f27a1be842972d781cc1fb306a8afe80b165faf33c2467de7e7f95b948"  # a plain Soroban tx
SOROBAN_359 = "4e9c36afcf4a33d550220aeb65fff1d07a9784b06ad2f443cb58f5872223af7d"  # a fee-bumped one
PAYER_358 = "GDSTCS3R3SIPXAQ3NFSX4PBJHUTXHFYWNKVK2B2DEXGQ3ZOOPMVUBZUY"
PAYER_359 = "GBGWQFSJSOMJ2BTOH5RLZUTZPV544YR2DF5CGYL7WDZ2Y6OSRHR6TUBE"
NATIVE_SAC = "CAS3J7GYLGXMF6TDJBBYYSE3HQ6BBSMLNUQ34T6TZMYMW2EVH34XOWMA"


def _fee(tx_hash: str, payer: str, amount: int, tx_index: int) -> Key:
    return ("fee", payer, None, "native", amount, tx_hash, tx_index, 0, NATIVE_SAC)


# 56065483: the golden's net fee of each Soroban transaction …
EXPECTED_MISSING = {
    _fee(SOROBAN_358, PAYER_358, 135213, 358),
    _fee(SOROBAN_359, PAYER_359, 157203, 359),
}
# … is our charge and refund: 192397 - 57184 = 135213 and 217508 - 60305 = 157203.
EXPECTED_EXTRA = {
    _fee(SOROBAN_358, PAYER_358, 192397, 358),
    _fee(SOROBAN_358, PAYER_358, -57184, 358),
    _fee(SOROBAN_359, PAYER_359, 217508, 359),
    _fee(SOROBAN_359, PAYER_359, -60305, 359),
}


def golden_events(path: Path) -> tuple[Counter[Key], tuple[int, int, str]]:
    """The golden's events as comparable keys, and its verdict (ledger, count, verification)."""
    text = path.read_text()
    keys: Counter[Key] = Counter()
    for event_type, body in _EVENT.findall(text):
        event = json.loads(body)
        meta, fields = event["meta"], event[event_type]
        asset = fields["asset"]
        if asset.get("native"):
            name = "native"
        else:
            issued = asset["issuedAsset"]
            name = f"{issued['assetCode']}:{issued['issuer']}"
        keys[
            (
                event_type,
                fields.get("from"),
                fields.get("to"),
                name,
                int(fields["amount"]),
                meta["txHash"],
                meta["transactionIndex"],
                meta.get("operationIndex", 0),
                meta["contractAddress"],
            )
        ] += 1
    match = _VERDICT.search(text)
    assert match, f"{path.name}: no verdict line"
    return keys, (int(match[1]), int(match[2]), match[3])


def our_key(row: dict[str, Any]) -> Key:
    return (
        row["event_type"],
        row["from"],
        row["to"],
        row["asset"],
        row["amount_raw"],
        row["tx_hash"],
        row["transaction_index"],
        row["operation_index"],
        row["contract_id"],
    )


@pytest.mark.parametrize("sequence", list(TTP_LEDGERS))
def test_every_event_matches_the_ttp_golden(shared_ledgers: Path, sequence: int) -> None:
    golden_path = shared_ledgers / f"{ttp_file(sequence)}-events"
    expected, verdict = golden_events(golden_path)
    assert verdict == (sequence, sum(expected.values()), "success")
    if GOLDEN_COUNTS[sequence] is not None:
        assert Counter(key[0] for key in expected.elements()) == GOLDEN_COUNTS[sequence]

    (facts,) = file_facts(shared_ledgers, ttp_file(sequence))
    assert facts.sequence == sequence
    assert not facts.has_unified_events and facts.meta_versions <= {2, 3}
    ours = Counter(our_key(row) for row in facts.derived)
    missing, extra = expected - ours, ours - expected
    if sequence == 56065483:
        # Exactly the Soroban fee split, nothing else (the test fails if the difference changes).
        assert set(missing.elements()) == EXPECTED_MISSING and sum(missing.values()) == 2
        assert set(extra.elements()) == EXPECTED_EXTRA and sum(extra.values()) == 4
        assert facts.soroban == {SOROBAN_358, SOROBAN_359}
    else:
        assert not missing and not extra, f"missing {sorted(missing)}, extra {sorted(extra)}"


def test_the_golden_covers_revocations_into_claimable_balances(shared_ledgers: Path) -> None:
    # 56065483 is the "revoke-trustline" example: SetTrustLineFlags pulled positions out of pools into
    # claimable balances. Matching those transfers proves the recomputed CAP-38 balance ids.
    (facts,) = file_facts(shared_ledgers, ttp_file(56065483))
    pool_to_balance = [
        r for r in facts.derived if (r["from"] or "").startswith("L") and (r["to"] or "").startswith("B")
    ]
    assert len(pool_to_balance) == 4
