"""Dataloader: current classic balances per holder (accounts, trustlines, claimable balances, SAC balances),
from ``account_balances_current``. One `QueryRouter.lookup` per batch, results in key order, removed entries
left out."""

from __future__ import annotations

from typing import Any

from strawberry.dataloader import DataLoader

from resolvers.context import RequestContext
from resolvers.lookup_loader import lookup_loader
from storage.query import Filter

# A holder's balances in one list: an account has at most 1,000 subentries (trustlines and offers), so this
# never cuts a real account short, and bounds what one nested field can read for any holder.
MAX_BALANCES_PER_HOLDER = 1000

KEY = "account_balances"


def account_balances_loader(ctx: RequestContext) -> DataLoader[str, list[dict[str, Any]]]:
    live = (Filter.eq("deleted", False),)
    return lookup_loader(ctx, "account_balances_current", "account_id", live, MAX_BALANCES_PER_HOLDER)
