"""Token balance rows of one ledger: exact balances from ledger state, and the contracts created in it.

``token_balances``: every native, trustline and Stellar Asset Contract balance that changed in the ledger, read
from ledger state by the account balance processor's walk (`processors.account_balances.states`, shared per
ledger), written as the holder's current balance with ``exact: true``. Claimable balances (not held by an
account until claimed) and liquidity pool shares (not an asset string of their own) are left out.

``token_balances_tokens``: the contracts whose instance entry was created in the ledger. Custom SEP-41 token
balances are sums of the tenant's stored transfers (`after_write`); such a sum is complete only if the tenant
indexed the token's whole life. Ingestion runs forward from a tenant's first ledger, so the tenant has the
whole life of exactly those tokens whose creation its ingestion saw, which this table records; a token created
before the tenant's first indexed ledger has no row here, and its sums stay ``exact: false``.
"""

from __future__ import annotations

from typing import Any

from ledgers.model import gc_paused
from ledgers.view import LedgerView
from processors.account_balances.extract import ledger_balance_fields
from processors.account_balances.states import ledger_balances
from processors.token_balances.table import BALANCES, TOKENS

__all__ = ["EXACT_SOURCES", "extract"]

Row = dict[str, Any]
EXACT_SOURCES = frozenset({"account", "trustline", "contract"})
_POOL_SHARE = "pool_share:"


def extract(view: LedgerView) -> dict[str, list[Row]]:
    """``{"token_balances": exact balances, "token_balances_tokens": contracts created}`` of `view`."""
    with gc_paused():
        balances = ledger_balances(view)
        sequence = view.sequence
        closed_at = view.closed_at
        rows = []
        for change, fields in ledger_balance_fields(view):
            if change.source not in EXACT_SOURCES or change.asset.startswith(_POOL_SHARE):
                continue
            rows.append(
                {
                    "account_id": fields["account_id"],
                    "asset": fields["asset"],
                    "balance_raw": fields["balance_raw"],
                    "balance": fields["balance"],
                    "exact": True,
                    "source": fields["source"],
                    "deleted": fields["deleted"],
                    "last_modified_ledger": fields["last_modified_ledger"],
                    "ledger_sequence": sequence,
                    "closed_at": closed_at,
                }
            )
        tokens = [
            {
                "contract_id": contract,
                "created_ledger": sequence,
                "ledger_sequence": sequence,
                "closed_at": closed_at,
            }
            for contract in balances.created_contracts
        ]
    return {BALANCES: rows, TOKENS: tokens}
