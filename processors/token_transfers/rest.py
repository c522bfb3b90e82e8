"""REST routes of token transfers: the transfer listing, and an account's token balances summed from transfers
(a fallback: a processor keeping exact balances answers that path in its place when the tenant enables it)."""

from __future__ import annotations

from processors.rest_spec import RestParam, RestReading, RestRoute, RowAnnotation
from processors.token_transfers.balances import BALANCE_FIELDS, read_balances
from processors.token_transfers.query import TRANSFERS, TokenTransferFilter
from storage.columns import ColumnKind, RowField
from storage.query import Row

NAME = "token_transfers"
_ACCOUNT = RestParam(
    "account", "accounts", "Movements where this address (G..., M... or C...) sends or receives."
)
ASSET = RestParam("asset", "assets", "`native`, `CODE:ISSUER` or a token contract id.")
HOLDER = RestParam("account", "accounts", "The holder (G..., M... or C...).")
BALANCE_PAGING = ("limit", "order", "cursor")
"""Balances are paged by asset: no ledger or time range."""


def relative_to_accounts(rows: list[Row], filters: TokenTransferFilter) -> None:
    """With `account` given, each row says `direction`: `sent` when one of the accounts is the sender (a transfer
    to oneself reads as sent), else `received`; and `counterparty`: the other side (null for a fee, a mint's
    missing sender or a burn's missing receiver)."""
    if not filters.accounts:
        return
    accounts = frozenset(filters.accounts)
    for row in rows:
        sent = row.get("from") in accounts
        row["direction"] = "sent" if sent else "received"
        row["counterparty"] = row.get("to") if sent else row.get("from")


RELATIVE = RowAnnotation(
    name="Relative",
    fields=(
        RowField(
            "direction",
            ColumnKind.TEXT,
            description="With `account`: whether it sent or received this movement.",
            choices=("sent", "received"),
        ),
        RowField("counterparty", ColumnKind.TEXT, nullable=True, description="The other side."),
    ),
    annotate=relative_to_accounts,
)

routes = (
    RestRoute(
        path="/token-transfers",
        processor=NAME,
        listing=TRANSFERS,
        summary="Token transfers",
        description="Transfers, mints, burns, clawbacks and fees of every asset and token, in ledger order. "
        "Filtered by `account`, each row also says `direction` (sent/received) and `counterparty`.",
        params=(
            _ACCOUNT,
            RestParam("sender", "senders", "Movements sent by this address."),
            RestParam("receiver", "receivers", "Movements received by this address."),
            ASSET,
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
        annotation=RELATIVE,
    ),
    RestRoute(
        path="/accounts/{account}/token-balances",
        processor=NAME,
        listing=TRANSFERS,
        summary="Token balances of an account",
        description="Current balance per asset, summed from the tenant's stored transfers (every row "
        "`exact: false`). With TokenBalanceProcessor enabled, exact from ledger state instead.",
        path_params=(HOLDER,),
        params=(ASSET,),
        common=BALANCE_PAGING,
        reading=RestReading(read=read_balances, fields=BALANCE_FIELDS, row_type="TokenBalancesRow"),
        fallback=True,
    ),
)
