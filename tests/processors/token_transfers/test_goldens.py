"""Token transfers equal stellar-etl's on the reconstructed 2020 ledgers: none missing, none extra.

stellar-etl's goldens (``golden/token_transfers/*.golden``, NDJSON) write the asset as
``<asset_type>:<CODE>:<ISSUER>`` (``native`` alone), the event type as ``event_topic`` and the amount both as a
float (``amount``) and exactly (``amount_raw``, a string): the comparison uses the exact one.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tests.processors.token_transfers.conftest import RECONSTRUCTED_DIR, ledger_facts

GOLDEN_DIR = "stellar-etl/golden/token_transfers"
CASES = {
    "one_ledger_token_transfers.golden": (30820015,),
    "10_ledgers_token_transfers.golden": tuple(range(30822015, 30822026)),
}

Key = tuple[str, str | None, str | None, str, str, str]


def golden_key(row: dict[str, Any]) -> Key:
    asset = row["asset"]
    if asset != "native":
        asset = asset.split(":", 1)[1]  # drop stellar-etl's asset type prefix: CODE:ISSUER
    return (row["event_topic"], row["from"], row["to"], asset, row["amount_raw"], row["transaction_hash"])


def our_key(row: dict[str, Any]) -> Key:
    return (row["event_type"], row["from"], row["to"], row["asset"], str(row["amount_raw"]), row["tx_hash"])


def reconstructed_file(root: Path, sequence: int) -> str:
    (path,) = (root / RECONSTRUCTED_DIR).glob(f"*--{sequence}.xdr.zstd")
    return path.relative_to(root).as_posix()


@pytest.mark.parametrize(("golden", "sequences"), CASES.items(), ids=list(CASES))
def test_every_transfer_matches_stellar_etl(
    shared_ledgers: Path, golden: str, sequences: tuple[int, ...]
) -> None:
    lines = (shared_ledgers / GOLDEN_DIR / golden).read_text().splitlines()
    expected = Counter(golden_key(json.loads(line)) for line in lines if line.strip())
    ours: Counter[Key] = Counter()
    for sequence in sequences:
        facts = ledger_facts(shared_ledgers, reconstructed_file(shared_ledgers, sequence))
        assert facts.sequence == sequence
        ours.update(our_key(row) for row in facts.rows)
    missing, extra = expected - ours, ours - expected
    assert not missing and not extra, f"missing {sorted(missing)[:5]}, extra {sorted(extra)[:5]}"
    assert sum(ours.values()) == len(lines)


def test_golden_counts_are_the_documented_ones(shared_ledgers: Path) -> None:
    # Guards the test above against a truncated or swapped golden file.
    counts = {
        name: Counter(json.loads(line)["event_topic"] for line in (shared_ledgers / GOLDEN_DIR / name).open())
        for name in CASES
    }
    assert counts["one_ledger_token_transfers.golden"] == {"fee": 59, "transfer": 1}
    assert counts["10_ledgers_token_transfers.golden"] == {"fee": 650, "transfer": 18}
