"""Token balances summed from a tenant's stored transfers: the answer for a tenant that runs the token transfer
processor but not one keeping balances from ledger state (REFERENCE §4). Such a balance only covers what was
indexed, so every row says ``exact: false`` and ``source: "transfers"``.

Offered as fallbacks (`processors.rest_spec`, `resolvers.parts`): ``Account.balances`` in GraphQL and
``/accounts/{account}/token-balances`` in REST. A processor that keeps exact balances answers both in their place
when the tenant enables it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from core.ids import decode_cursor, encode_cursor, filters_fingerprint
from processors.rest_spec import RestCall, RestPage
from processors.token_transfers.assets import CLASSIC_DECIMALS, NATIVE, format_amount
from processors.token_transfers.query import TokenTransferFilter
from processors.token_transfers.table import token_transfers
from storage.columns import ColumnKind, RowField
from storage.query import Filter

if TYPE_CHECKING:  # a type only: the router imports DuckDB and pyarrow (see processors.rest_spec)
    from storage.router import QueryRouter

COUNTED = (Filter.either(Filter.eq("in_successful_tx", True), Filter.eq("event_type", "fee")),)
"""The movements a balance counts: those of successful transactions, and fees (charged, and refunded, whatever
the outcome)."""

BALANCE_FIELDS = (
    RowField("account_id", ColumnKind.TEXT),
    RowField("asset", ColumnKind.ASSET),
    RowField("balance_raw", ColumnKind.AMOUNT),
    RowField("balance", ColumnKind.TEXT),
    RowField("exact", ColumnKind.BOOLEAN),
    RowField("source", ColumnKind.TEXT),
    RowField("deleted", ColumnKind.BOOLEAN),
    RowField("last_modified_ledger", ColumnKind.INTEGER),
)
"""The fields of a balance summed from transfers: those every token balance row has, however it is computed."""


async def balances_from_transfers(
    router: QueryRouter, tenant_id: str, accounts: Sequence[str]
) -> dict[str, list[dict[str, Any]]]:
    """`{account: rows}`, rows with the `BALANCE_FIELDS`, ordered by asset."""
    flows = await router.net_flows(token_transfers, tenant_id, accounts, COUNTED)
    out: dict[str, list[dict[str, Any]]] = {}
    for account in accounts:
        rows = []
        for asset, flow in sorted(flows.get(account, {}).items()):
            decimals = flow.decimals if flow.decimals is not None else _default_decimals(asset)
            rows.append(
                {
                    "account_id": account,
                    "asset": asset,
                    "balance_raw": flow.amount,
                    "balance": format_amount(flow.amount, decimals),
                    "exact": False,
                    "source": "transfers",
                    "deleted": False,
                    "last_modified_ledger": flow.last_ledger,
                }
            )
        out[account] = rows
    return out


def _default_decimals(asset: str) -> int | None:
    # Classic assets (native, CODE:ISSUER) have 7 decimals; a custom token's are its own, unknown here.
    return CLASSIC_DECIMALS if asset == NATIVE or ":" in asset else None


async def read_balances(call: RestCall[TokenTransferFilter]) -> RestPage:
    """An account's balances summed from transfers, paged by asset with a cursor of their own."""
    account = call.filters.accounts[0]
    assets = set(call.filters.assets)
    fingerprint = filters_fingerprint(
        {"route": "transfer_balances", "account": account, "assets": sorted(assets)}
    )
    router = call.router.recording()  # the tiers summed go to `data_sources`
    rows = (await balances_from_transfers(router, call.tenant_id, [account]))[account]
    if assets:
        rows = [row for row in rows if row["asset"] in assets]
    rows.sort(key=lambda row: row["asset"], reverse=call.descending)
    total = len(rows)
    if call.cursor:
        position = decode_cursor(call.cursor, fingerprint)
        rows = [r for r in rows if (r["asset"] < position if call.descending else r["asset"] > position)]
    page, has_more = rows[: call.limit], len(rows) > call.limit
    following = encode_cursor(page[-1]["asset"], fingerprint) if has_more and page else None
    return RestPage(page, total=total, exact=True, sources=router.answered, next_cursor=following)
