"""Dataloader: current token balances per holder, from the token balance processor's table.

One `QueryRouter.lookup` per batch of holders (a page of transfers asking for both parties' balances is one
statement), results in key order. Removed entries are left out, as in the ``tokenBalances`` default.
"""

from __future__ import annotations

from typing import Any

from strawberry.dataloader import DataLoader

from resolvers.account_balances_loader import MAX_BALANCES_PER_HOLDER
from resolvers.context import RequestContext
from resolvers.lookup_loader import lookup_loader
from storage.query import Filter

KEY = "token_balances"


def token_balances_loader(ctx: RequestContext) -> DataLoader[str, list[dict[str, Any]]]:
    live = (Filter.eq("deleted", False),)
    return lookup_loader(ctx, "token_balances", "account_id", live, MAX_BALANCES_PER_HOLDER)
