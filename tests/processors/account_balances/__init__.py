"""Tests of the AccountBalanceProcessor on the real ledger corpus, and their shared per-ledger cache.

A mainnet ledger costs ~0.3 s to decode and ~100 MB decoded, so each ledger is decoded once per test run
(`balance_facts`), reduced to the facts the tests check, and dropped. The facts hold this processor's rows, the
token transfer rows of the same view, and each holder's balance BEFORE the ledger read straight from the first
entry change of each entry (written here, independently of the processor's walk).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from ledgers.corpus import iter_file, network_passphrase_for
from ledgers.model import (
    AccountEntry,
    ClaimableBalanceEntry,
    ContractDataEntry,
    EntryChange,
    TrustlineEntry,
    gc_paused,
)
from ledgers.view import LedgerView
from processors.account_balances import processor
from processors.token_transfers import processor as transfers_processor

MAINNET_20 = tuple(f"wallet-backend/ledger-{seq}.xdr.gz" for seq in range(63092982, 63093002))
MAINNET_OTHER = ("wallet-backend/ledger-51000294.xdr.gz", "wallet-backend/ledger-57500008.xdr.gz")
RECONSTRUCTED_DIR = "stellar-etl/reconstructed"

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


def unified_files(root: Path) -> tuple[str, ...]:
    """Every corpus file whose ledgers carry unified events: the reconciliation set."""
    reconstructed = tuple(
        p.relative_to(root).as_posix() for p in sorted((root / RECONSTRUCTED_DIR).glob("*.xdr.zstd"))
    )
    return MAINNET_20 + MAINNET_OTHER + reconstructed


def raw_ledger(root: Path, relative: str) -> bytes:
    (raw,) = list(iter_file(root / relative))
    return raw


@cache
def balance_facts(root: Path, relative: str) -> BalanceFacts:
    """Decode the single ledger of `relative` once and keep only its facts."""
    with gc_paused():
        view = LedgerView.from_xdr(raw_ledger(root, relative), network_passphrase_for(relative))
        assert processor.extract is not None and transfers_processor.extract is not None
        rows = processor.extract(view)
        transfers = transfers_processor.extract(view)["token_transfers"]
        before: dict[Key, int | None] = {}
        contract_keys = 0
        for _tx, _op, change in view.ledger_changes_in_order():
            found = _holder_balance(change)
            if found is None:
                continue
            key, balance = found
            if key not in before:
                contract_keys += change.entry_type == "contract_data"
                before[key] = balance if change.kind in ("state", "restored") else None
        facts = BalanceFacts(
            file=relative,
            sequence=view.sequence,
            has_unified_events=view.has_unified_events,
            history=rows["account_balances"],
            current=rows["account_balances_current"],
            transfers=transfers,
            before=before,
            contract_balance_keys=contract_keys,
        )
        del view
    return facts


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


@cache
def mainnet_results(root: Path) -> tuple[Any, ...]:
    """`process_ledger` of the 20 consecutive mainnet ledgers for `plans()`, computed once per test run."""
    from ingest.engine import process_ledger

    tenant_plans = plans()
    out = []
    for relative in MAINNET_20:
        with gc_paused():
            out.append(
                process_ledger(raw_ledger(root, relative), network_passphrase_for(relative), tenant_plans)
            )
    return tuple(out)
