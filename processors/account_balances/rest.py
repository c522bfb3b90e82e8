"""REST routes of account balances: an account's balance history and its current balances."""

from __future__ import annotations

from processors.account_balances.query import CURRENT_BALANCES, HISTORY_BALANCES
from processors.rest_spec import RestParam, RestRoute

_ACCOUNT = (RestParam("account", "accounts", "The holder (G..., M..., C... or B...)."),)
_FILTERS = (
    RestParam("asset", "assets", "`native`, `CODE:ISSUER` or a token contract id."),
    RestParam("source", "sources", "account, trustline, claimable_balance or contract."),
    RestParam("min_balance", "min_balance", "Smallest balance, in stroops."),
    RestParam("include_deleted", "include_deleted", "Also rows of removed entries (a closed trustline)."),
)

routes = (
    RestRoute(
        path="/accounts/{account}/balance-history",
        processor="account_balances",
        listing=HISTORY_BALANCES,
        summary="Balance history of an account",
        description="Every change of the account's balances (one row per asset per ledger that changed it).",
        path_params=_ACCOUNT,
        params=_FILTERS,
    ),
    RestRoute(
        path="/accounts/{account}/current-balance",
        processor="account_balances",
        listing=CURRENT_BALANCES,
        summary="Current balances of an account",
        description="The account's current balances, one row per asset.",
        path_params=_ACCOUNT,
        params=_FILTERS,
    ),
)
