"""REST route of token balances: an account's current balances, exact from ledger state (custom tokens summed
from transfers). It answers the path the token transfer processor serves as a fallback (sums of transfers)."""

from __future__ import annotations

from processors.rest_spec import RestRoute
from processors.token_balances.query import BALANCES
from processors.token_transfers.rest import ASSET, BALANCE_PAGING, HOLDER

routes = (
    RestRoute(
        path="/accounts/{account}/token-balances",
        processor="token_balances",
        listing=BALANCES,
        summary="Token balances of an account",
        description="Current balance per asset: exact from ledger state (native, trustlines, Stellar Asset "
        "Contract balances); custom tokens summed from transfers, `exact` when the tenant indexed the token's "
        "whole life.",
        path_params=(HOLDER,),
        params=(ASSET,),
        common=BALANCE_PAGING,
    ),
)
