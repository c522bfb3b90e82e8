"""Tests of the AccountBalanceProcessor on the real ledger corpus, and the facts they check of each ledger.

The ledgers are decoded once per session for every processor package (tests/corpus.py). The facts hold this
processor's rows, the token transfer rows of the same view, and each holder's balance BEFORE the ledger read
straight from the first entry change of each entry (`_before`, written here independently of the processor's
walk).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ledgers.model import (
    AccountEntry,
    ClaimableBalanceEntry,
    ContractDataEntry,
    EntryChange,
    TrustlineEntry,
)
from tests import corpus
from tests.corpus import MAINNET_20, MAINNET_OTHER, raw_ledger, unified_files

__all__ = [
    "MAINNET_20",
    "MAINNET_OTHER",
    "BalanceFacts",
    "Key",
    "balance_facts",
    "raw_ledger",
    "unified_files",
]

Key = tuple[str, str]  # (holder, asset)


@dataclass(frozen=True)
class BalanceFacts:
    """What the balance tests need from one ledger."""

    file: str
    sequence: int
    has_unified_events: bool
    history: list[dict[str, Any]]
    current: list[dict[str, Any]]
    transfers: list[dict[str, Any]]
    before: dict[Key, int | None]  # balance before the ledger of every entry it touched (None: did not exist)
    contract_balance_keys: int  # ["Balance", C…] entries touched, SAC or not


@corpus.facts("account_balances")
def _before(decoded: corpus.Decoded) -> tuple[dict[Key, int | None], int]:
    """(balance before the ledger of every entry it touched, ["Balance", C…] entries touched)."""
    before: dict[Key, int | None] = {}
    contract_keys = 0
    for _tx, _op, change in decoded.view.ledger_changes_in_order():
        found = _holder_balance(change)
        if found is None:
            continue
        key, balance = found
        if key not in before:
            contract_keys += change.entry_type == "contract_data"
            before[key] = balance if change.kind in ("state", "restored") else None
    return before, contract_keys


def balance_facts(root: Path, relative: str) -> BalanceFacts:
    """The facts of the single ledger of `relative`."""
    (ledger,) = corpus.ledgers(root, relative)
    before, contract_keys = ledger.facts("account_balances")
    return BalanceFacts(
        file=relative,
        sequence=ledger.sequence,
        has_unified_events=ledger.has_unified_events,
        history=ledger.rows("account_balances"),
        current=ledger.rows("account_balances", "account_balances_current"),
        transfers=ledger.rows("token_transfers"),
        before=before,
        contract_balance_keys=contract_keys,
    )


def _holder_balance(change: EntryChange) -> tuple[Key, int] | None:
    """((holder, asset), balance) of an entry change; None for entries that hold no balance, and removals
    (every removal follows a `state` change of the same entry, which already told its holder)."""
    entry = change.entry
    if isinstance(entry, AccountEntry):
        return (entry.account_id, "native"), entry.balance
    if isinstance(entry, TrustlineEntry):
        return (entry.account_id, entry.asset), entry.balance
    if isinstance(entry, ClaimableBalanceEntry):
        return (entry.balance_id, entry.asset), entry.amount
    if isinstance(entry, ContractDataEntry):
        parts = entry.key.vec
        if parts is None or len(parts) != 2 or parts[0].symbol != "Balance":
            return None
        holder = parts[1].address
        amount = entry.value.map_get("amount")
        if holder is None or amount is None or amount.int is None:
            return None
        # The asset is not in the entry: key SAC balances by contract id; tests map it through the events.
        return (holder, f"sac:{entry.contract_id}"), amount.int
    return None


# -- ingestion through the engine ---------------------------------------------------------------------------------
USDC = "USDC:GA5ZSEJYB37JRC5AVCIA5MOP4RHTM335X2KGX3IHOJAPP5RE34K4KZVN"


def tenant_configs() -> tuple[Any, ...]:
    """Two tenants: one keeping everything (with claimable balances), one keeping large USDC balances only."""
    from core.tenant_config import parse_tenant_config
    from processors.registry import default_registry

    def tenant(tenant_id: str, configs: dict[str, dict[str, Any]]) -> Any:
        processors = [{"type": kind, "enabled": True, "config": config} for kind, config in configs.items()]
        document = {
            "customer": {"id": tenant_id, "name": tenant_id, "network": "pubnet", "processors": processors}
        }
        return parse_tenant_config(document, default_registry().catalogue())

    return (
        tenant(
            "everything",
            {
                "TokenTransferProcessor": {},
                "AccountBalanceProcessor": {"include_claimable_balances": True},
                "TokenBalanceProcessor": {},
            },
        ),
        tenant(
            "usdc-whales",
            {
                "TokenTransferProcessor": {"assets": [USDC]},
                "AccountBalanceProcessor": {"assets": [USDC], "min_balance": "10000000000"},
                "TokenBalanceProcessor": {"assets": [USDC]},
            },
        ),
    )


def plans() -> list[Any]:
    from core.settings import Network
    from ingest.engine import plan_tenants
    from processors.registry import default_registry

    return plan_tenants(tenant_configs(), default_registry().catalogue(), Network.pubnet)


def mainnet_results(root: Path) -> list[Any]:
    """`process_ledger` of the 20 consecutive mainnet ledgers for `plans()` (from the session's decoding)."""
    return corpus.tenant_results(root, MAINNET_20, plans())
