"""What happens in the sample ledgers: the state before the first one, and each ledger's transactions.

Before the first ledger the network already holds a funded ``treasury``, the ``issuer`` of USDC and EURC
(``AUTH_REVOCABLE``), a ``market_maker`` with two resting offers (USDC for XLM and XLM for USDC) and all shares
of the EURC/USDC pool, and the custom ``amm`` contract holding USDC and EURC in their asset contracts. Then:

1. treasury creates alice, bob and carol; market_maker pays treasury XLM; issuer mints USDC to market_maker.
2. alice, bob and carol open trustlines; issuer mints USDC to alice and bob.
3. alice pays bob USDC (text memo) and carol XLM; bob's sell offer crosses market_maker's offer; alice swaps
   USDC for EURC on the AMM (her position entry is created).
4. alice's strict-send path payment XLM → USDC (an offer) → EURC (the pool) to carol; bob burns USDC by paying
   the issuer; alice swaps again (position updated); bob extends the AMM instance's TTL (a TTL-only change).
5. issuer limits carol's EURC trustline to maintaining liabilities; carol's payment fails (underfunded);
   bob sends USDC to the ``vault`` contract through the SAC (its balance entry is created).
6. treasury pays alice; bob sends more USDC to the vault (balance updated); alice closes her AMM position
   (the entry and its TTL are removed).
7. and later: filler payments, so any number of ledgers can be asked for.

Within a ledger, classic transactions apply before Soroban ones (stellar-core's phase order); each ledger's
list is written in that order.
"""

from __future__ import annotations

from collections.abc import Callable
from math import isqrt

from .classic import ChangeTrust, CreateAccount, Payment, SetTrustLineFlags
from .context import BALANCE_TTL, sac_balance, sac_balance_key
from .dex import ManageSellOffer, PathPaymentStrictSend
from .entries import (
    AUTH_REVOCABLE,
    AUTHORIZED,
    AUTHORIZED_TO_MAINTAIN_LIABILITIES,
    AccountRecord,
    ContractDataRecord,
    OfferRecord,
    PoolRecord,
    TrustlineRecord,
    TtlRecord,
    instance_key,
)
from .keys import POOL_FEE_BP, Cast
from .soroban import AmmClosePosition, AmmSwap, ExtendTtl, SacTransfer
from .state import LedgerState
from .transactions import TxSpec
from .xdrkit import UNIT, sha256

ISSUER_HOME_DOMAIN = "demo.obsrvr.example"
CONTRACT_TTL = 200_000  # how long the AMM instance lives past the genesis before it needs extending


def genesis(cast: Cast, ledger: int) -> LedgerState:
    """The state as of ledger `ledger` (the one before the first sample ledger)."""
    state = LedgerState()
    a = cast.account
    usdc, eurc, native = cast.usdc, cast.eurc, cast.native
    seq = ledger << 32
    # market_maker: offer 1 sells 10,000 USDC at 4 XLM each; offer 2 sells 400,000 XLM at 0.2 USDC each.
    offers = [
        OfferRecord(a("market_maker"), 1, usdc, native, 10_000 * UNIT, 4, 1),
        OfferRecord(a("market_maker"), 2, native, usdc, 400_000 * UNIT, 1, 5),
    ]
    records = [
        AccountRecord(a("treasury"), 50_000_000 * UNIT, seq),
        AccountRecord(a("issuer"), 10_000 * UNIT, seq, flags=AUTH_REVOCABLE, home_domain=ISSUER_HOME_DOMAIN),
        # Subentries: 2 trustlines, 2 offers, and the pool-share trustline (which counts twice).
        AccountRecord(
            a("market_maker"),
            2_000_000 * UNIT,
            seq,
            num_sub_entries=6,
            buying_liabilities=offers[0].buying_liability,
            selling_liabilities=offers[1].amount,
        ),
        TrustlineRecord(
            a("market_maker"),
            usdc,
            100_000 * UNIT,
            selling_liabilities=offers[0].amount,
            buying_liabilities=offers[1].buying_liability,
        ),
        TrustlineRecord(a("market_maker"), eurc, 100_000 * UNIT),
        *offers,
        _pool(cast, reserve_eurc=20_000 * UNIT, reserve_usdc=22_000 * UNIT),
    ]
    amm = cast.contract("amm")
    for asset, amount in ((usdc, 50_000 * UNIT), (eurc, 45_000 * UNIT)):
        balance = ContractDataRecord(cast.sac(asset), sac_balance_key(amm), sac_balance(amount))
        records += [balance, TtlRecord(balance.key_hash, ledger + BALANCE_TTL)]
    records.append(TtlRecord(sha256(instance_key(amm).to_xdr_bytes()), ledger + CONTRACT_TTL))
    for record in records:
        record.last_modified = ledger
        state.add(record)
    state.id_pool = len(offers)
    return state


def _pool(cast: Cast, *, reserve_eurc: int, reserve_usdc: int) -> PoolRecord:
    return PoolRecord(
        cast.pool_id,
        cast.eurc,
        cast.usdc,
        POOL_FEE_BP,
        reserve_eurc,
        reserve_usdc,
        total_shares=isqrt(reserve_eurc * reserve_usdc),
        trustline_count=1,
    )


Script = Callable[[Cast], list[TxSpec]]


def _ledger_1(cast: Cast) -> list[TxSpec]:
    a = cast.account
    create = tuple(
        CreateAccount(a(name), balance * UNIT)
        for name, balance in (("alice", 10_000), ("bob", 10_000), ("carol", 5_000))
    )
    return [
        TxSpec(a("treasury"), create, memo="welcome to the demo"),
        TxSpec(a("market_maker"), (Payment(a("treasury"), cast.native, 25 * UNIT),)),
        TxSpec(a("issuer"), (Payment(a("market_maker"), cast.usdc, 1_000 * UNIT),)),
    ]


def _ledger_2(cast: Cast) -> list[TxSpec]:
    a = cast.account
    both = (ChangeTrust(cast.usdc), ChangeTrust(cast.eurc))
    mints = (Payment(a("alice"), cast.usdc, 500 * UNIT), Payment(a("bob"), cast.usdc, 1_000 * UNIT))
    return [
        TxSpec(a("alice"), both),
        TxSpec(a("bob"), both),
        TxSpec(a("carol"), (ChangeTrust(cast.eurc),)),
        TxSpec(a("issuer"), mints),
    ]


def _ledger_3(cast: Cast) -> list[TxSpec]:
    a = cast.account
    return [
        TxSpec(a("alice"), (Payment(a("bob"), cast.usdc, 100 * UNIT),), memo="invoice 1042"),
        TxSpec(a("alice"), (Payment(a("carol"), cast.native, 10 * UNIT),)),
        # Sells 100 USDC for at least 4 XLM each; market_maker's offer 2 pays 5.
        TxSpec(a("bob"), (ManageSellOffer(cast.usdc, cast.native, 100 * UNIT, 4, 1),)),
        TxSpec(a("alice"), (AmmSwap(cast, a("alice"), cast.usdc, cast.eurc, 200 * UNIT, 1),)),
    ]


def _ledger_4(cast: Cast) -> list[TxSpec]:
    a = cast.account
    path = PathPaymentStrictSend(a("carol"), cast.native, 200 * UNIT, cast.eurc, 1, (cast.usdc,))
    extend = ExtendTtl((instance_key(cast.contract("amm")),), 500_000)
    return [
        TxSpec(a("alice"), (path,)),
        TxSpec(a("bob"), (Payment(a("issuer"), cast.usdc, 50 * UNIT),)),
        TxSpec(a("alice"), (AmmSwap(cast, a("alice"), cast.usdc, cast.eurc, 50 * UNIT, 1),)),
        TxSpec(a("bob"), (extend,)),
    ]


def _ledger_5(cast: Cast) -> list[TxSpec]:
    a = cast.account
    freeze = SetTrustLineFlags(
        a("carol"), cast.eurc, clear_flags=AUTHORIZED, set_flags=AUTHORIZED_TO_MAINTAIN_LIABILITIES
    )
    return [
        TxSpec(a("issuer"), (freeze,)),
        TxSpec(a("carol"), (Payment(a("alice"), cast.native, 1_000_000 * UNIT),)),  # carol holds ~5,000 XLM
        TxSpec(a("bob"), (SacTransfer(cast, cast.usdc, a("bob"), cast.contract("vault"), 25 * UNIT),)),
    ]


def _ledger_6(cast: Cast) -> list[TxSpec]:
    a = cast.account
    return [
        TxSpec(a("treasury"), (Payment(a("alice"), cast.native, 1 * UNIT),)),
        TxSpec(a("bob"), (SacTransfer(cast, cast.usdc, a("bob"), cast.contract("vault"), 10 * UNIT),)),
        TxSpec(a("alice"), (AmmClosePosition(cast, a("alice")),)),
    ]


def _filler(cast: Cast, index: int) -> list[TxSpec]:
    """Later ledgers: a little XLM from the treasury, and 1 USDC back and forth between alice and bob."""
    a = cast.account
    sender, receiver = ("alice", "bob") if index % 2 == 0 else ("bob", "alice")
    return [
        TxSpec(a("treasury"), (Payment(a("alice"), cast.native, 1 * UNIT),)),
        TxSpec(a(sender), (Payment(a(receiver), cast.usdc, 1 * UNIT),)),
    ]


SCRIPTS: tuple[Script, ...] = (_ledger_1, _ledger_2, _ledger_3, _ledger_4, _ledger_5, _ledger_6)


def transactions_for(index: int, cast: Cast) -> list[TxSpec]:
    """The transactions of the `index`-th sample ledger (0-based), in apply order."""
    specs = SCRIPTS[index](cast) if index < len(SCRIPTS) else _filler(cast, index)
    # stellar-core applies the classic phase before the Soroban phase.
    return [s for s in specs if s.soroban is None] + [s for s in specs if s.soroban is not None]
