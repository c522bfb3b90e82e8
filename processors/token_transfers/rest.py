"""REST routes of token transfers: the transfer listing and an account's token balances."""

from __future__ import annotations

from processors.rest_spec import RestParam, RestRoute

_ACCOUNT = RestParam(
    "account", "accounts", "Movements where this address (G..., M... or C...) sends or receives."
)

routes = (
    RestRoute(
        path="/token-transfers",
        processor="token_transfers",
        listing="token_transfers",
        summary="Token transfers",
        description="Transfers, mints, burns, clawbacks and fees of every asset and token, in ledger order. "
        "Filtered by `account`, each row also says `direction` (sent/received) and `counterparty`.",
        params=(
            _ACCOUNT,
            RestParam("sender", "senders", "Movements sent by this address."),
            RestParam("receiver", "receivers", "Movements received by this address."),
            RestParam("asset", "assets", "`native`, `CODE:ISSUER` or a token contract id."),
            RestParam("asset_code", "asset_code", "Asset code (e.g. `USDC`)."),
            RestParam("asset_issuer", "asset_issuer", "Asset issuer account (G...)."),
            RestParam("event_type", "event_types", "transfer, mint, burn, clawback or fee."),
            RestParam("contract_id", "contracts", "Movements of tokens emitted by this contract (C...)."),
            RestParam(
                "min_amount",
                "min_amount",
                "Smallest amount, in the token's raw units (fee refunds are negative).",
            ),
            RestParam(
                "successful", "successful", "Only rows of successful (true) or failed (false) transactions."
            ),
        ),
        relative_to="account",
    ),
    RestRoute(
        path="/accounts/{account}/token-balances",
        processor="token_transfers",
        listing="token_balances",
        kind="token_balances",
        summary="Token balances of an account",
        description="Current balance per asset. With TokenBalanceProcessor enabled: exact from ledger state "
        "(custom tokens summed from transfers); otherwise summed from the tenant's stored transfers, every row "
        "`exact: false`.",
        path_params=(RestParam("account", "accounts", "The holder (G..., M... or C...)."),),
        params=(RestParam("asset", "assets", "`native`, `CODE:ISSUER` or a token contract id."),),
    ),
)
