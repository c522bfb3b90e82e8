"""What happens in the simulated network's ledgers after the scripted samples: a little of everything, forever.

Each ledger's transactions are drawn from a `random.Random` seeded with ``(seed, sequence)``, so a given seed
always gives the same ledgers, and a chain resumed from its datastore (`ledgers.samples.network`) continues
exactly as it would have. Every ledger has, in apply order:

1. top-ups where a balance ran low (the issuer mints USDC/EURC, the treasury pays XLM), so nothing ever runs dry;
2. an XLM payment from the treasury, and a USDC payment between alice and bob (sometimes with a text memo);
3. an order-book trade against the market maker's resting offers while they last (bob sells USDC, or alice
   sells XLM), and a path payment through the EURC/USDC pool (a liquidity-pool trade);
4. Soroban: a swap on the custom AMM (a ``swap`` event, the user's position entry) and, every other ledger or
   so, a USDC transfer from bob to the vault through the Stellar Asset Contract.

So every demo processor gets rows in every ledger: transfers, contract events, balances, trades (and so candles),
contract data.
"""

from __future__ import annotations

import random

from stellar_sdk import Asset

from .classic import Payment
from .dex import ManageSellOffer, PathPaymentStrictSend
from .keys import Cast
from .soroban import AmmSwap, SacTransfer
from .state import LedgerState
from .transactions import TxSpec
from .xdrkit import UNIT

TOKEN_FLOOR = 200 * UNIT  # below this a trader's USDC or EURC is topped up ...
TOKEN_TOP_UP = 2_000 * UNIT  # ... by this much, minted by the issuer
XLM_FLOOR = 500 * UNIT  # spendable XLM below this is topped up by the treasury ...
XLM_TOP_UP = 5_000 * UNIT
TRADERS = ("alice", "bob")
MEMOS = ("coffee", "rent", "invoice", "refund", "payroll")


def live_transactions(seed: int, sequence: int, cast: Cast, state: LedgerState) -> list[TxSpec]:
    """The transactions of simulated ledger `sequence` (after the scripted ones), in apply order."""
    rng = random.Random(f"obsrvr-live:{seed}:{sequence}")  # noqa: S311 - reproducible demo data, not secrets
    a = cast.account
    specs = _top_ups(cast, state)
    receiver = rng.choice(("alice", "bob", "carol"))
    specs.append(TxSpec(a("treasury"), (Payment(a(receiver), cast.native, rng.randint(1, 20) * UNIT),)))
    sender, other = rng.sample(TRADERS, 2)
    memo = f"{rng.choice(MEMOS)} {rng.randint(100, 999)}" if rng.random() < 0.5 else None
    specs.append(TxSpec(a(sender), (Payment(a(other), cast.usdc, rng.randint(1, 50) * UNIT),), memo=memo))
    trade = _book_trade(rng, cast, state)
    if trade is not None:
        specs.append(trade)
    give, get = (cast.usdc, cast.eurc) if rng.random() < 0.5 else (cast.eurc, cast.usdc)
    sender, other = rng.sample(TRADERS, 2)
    hop = PathPaymentStrictSend(a(other), give, rng.randint(1, 20) * UNIT, get, 1)
    specs.append(TxSpec(a(sender), (hop,)))
    # Soroban transactions apply after the classic ones (stellar-core's phase order).
    user = rng.choice(TRADERS)
    token_in, token_out = (cast.usdc, cast.eurc) if rng.random() < 0.5 else (cast.eurc, cast.usdc)
    specs.append(
        TxSpec(a(user), (AmmSwap(cast, a(user), token_in, token_out, rng.randint(1, 30) * UNIT, 1),))
    )
    if rng.random() < 0.5:
        vault = cast.contract("vault")
        specs.append(
            TxSpec(a("bob"), (SacTransfer(cast, cast.usdc, a("bob"), vault, rng.randint(1, 10) * UNIT),))
        )
    return specs


def _top_ups(cast: Cast, state: LedgerState) -> list[TxSpec]:
    a = cast.account
    mints = tuple(
        Payment(a(name), asset, TOKEN_TOP_UP)
        for name in TRADERS
        for asset in (cast.usdc, cast.eurc)
        if state.trustline(a(name), asset).balance < TOKEN_FLOOR
    )
    grants = tuple(
        Payment(a(name), cast.native, XLM_TOP_UP)
        for name in (*TRADERS, "carol")
        if state.account(a(name)).available(state.base_reserve) < XLM_FLOOR
    )
    specs = []
    if mints:
        specs.append(TxSpec(a("issuer"), mints, memo="top-up"))
    if grants:
        specs.append(TxSpec(a("treasury"), grants, memo="top-up"))
    return specs


def _book_trade(rng: random.Random, cast: Cast, state: LedgerState) -> TxSpec | None:
    """A sell offer that the market maker's resting offer fills entirely (amounts chosen so the fill is exact and
    nothing rests), or None once the offer on that side is used up."""
    a = cast.account
    if rng.random() < 0.5:
        # bob sells 1-5 USDC at 4 XLM or better; the XLM offer pays 5 XLM per USDC.
        amount = rng.randint(1, 5) * UNIT
        if _offered(state, cast.native, cast.usdc) >= 5 * amount:
            return TxSpec(a("bob"), (ManageSellOffer(cast.usdc, cast.native, amount, 4, 1),))
    else:
        # alice sells a multiple of 4 XLM for at least 0.2 USDC each; the USDC offer asks 4 XLM per USDC.
        amount = 4 * rng.randint(1, 10) * UNIT
        if _offered(state, cast.usdc, cast.native) >= amount // 4:
            return TxSpec(a("alice"), (ManageSellOffer(cast.native, cast.usdc, amount, 1, 5),))
    return None


def _offered(state: LedgerState, selling: Asset, buying: Asset) -> int:
    return sum(offer.amount for offer in state.offers(selling, buying))
