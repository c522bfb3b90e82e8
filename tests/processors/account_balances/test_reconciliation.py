"""Reconciliation (REFERENCE §3) checked against this processor's rows, on every corpus ledger with unified events.

For every balance the processor reports as changed, the change (its row's balance after the ledger minus the
balance before the ledger, read independently from the ledger's first change of the entry) equals the net of the
token transfer events moving that holder's asset: native for accounts, issued assets per trustline (issuer legs
excluded: an issuer holds no trustline for its own asset), Stellar Asset Contract assets for contract holders,
and claimable balances (``B…``). Conversely every holder whose events net to non-zero has a row.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
from stellar_sdk import Asset

from ledgers.corpus import network_passphrase_for
from tests.conftest import SHARED_LEDGERS
from tests.processors.account_balances import (
    MAINNET_20,
    MAINNET_OTHER,
    Key,
    balance_facts,
    unified_files,
)

# Liquidity pools (L…) hold reserves in their own entries, which are not balances of this processor.
SKIPPED_HOLDERS = ("L",)


def files() -> list[str]:
    """The reconciliation set (without the corpus: the mainnet names, and every test skips)."""
    if not SHARED_LEDGERS.is_dir():
        return [*MAINNET_20, *MAINNET_OTHER]
    return list(unified_files(SHARED_LEDGERS))


def sac_id(asset: str, passphrase: str) -> str:
    code, _, issuer = asset.partition(":")
    return (Asset.native() if asset == "native" else Asset(code, issuer)).contract_id(passphrase)


def net_events(rows: list[dict[str, Any]]) -> dict[Key, int]:
    """Net amount per (holder, asset) of classic and SAC movements (custom tokens have no ledger entries)."""
    net: dict[Key, int] = defaultdict(int)
    for row in rows:
        if row["asset_type"] == "contract":
            continue
        for holder, sign in ((row["from"], -1), (row["to"], 1)):
            if holder is None or holder.startswith(SKIPPED_HOLDERS) or holder == row["asset_issuer"]:
                continue
            net[(holder, row["asset"])] += sign * row["amount_raw"]
    return net


@pytest.mark.parametrize("relative", files())
def test_balance_changes_equal_net_token_events(shared_ledgers: Path, relative: str) -> None:
    facts = balance_facts(shared_ledgers, relative)
    passphrase = network_passphrase_for(relative)
    assert facts.has_unified_events
    assert facts.history, "fee payers' balances change in every ledger"
    net = net_events(facts.transfers)
    errors = {}
    seen: set[Key] = set()
    for row in facts.history:
        key = (row["account_id"], row["asset"])
        if row["asset"].startswith("pool_share:"):
            continue  # pool shares are minted and burned without events
        if row["source"] == "contract":  # the entry names its contract, not its asset
            before = facts.before[(row["account_id"], f"sac:{sac_id(row['asset'], passphrase)}")]
        else:
            before = facts.before[key]
        assert row["previous_balance_raw"] == before, key
        change = row["balance_raw"] - (before or 0)
        if change != net.get(key, 0):
            errors[key] = (row["source"], change, net.get(key, 0))
        seen.add(key)
    assert not errors, f"{len(errors)} balances off (source, balance change, net events): {errors}"
    unseen = {key: amount for key, amount in net.items() if amount and key not in seen}
    assert not unseen, f"events move balances the processor has no row for: {unseen}"


@pytest.mark.parametrize("relative", files())
def test_every_source_reconciles_somewhere(shared_ledgers: Path, relative: str) -> None:
    """The checks above are not vacuous: accounts and trustlines change in every ledger of the set."""
    facts = balance_facts(shared_ledgers, relative)
    sources = {row["source"] for row in facts.history}
    assert {"account", "trustline"} <= sources
