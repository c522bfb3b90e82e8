"""Operation bodies: one small frozen dataclass per operation type, with the fields processors read.

Accounts are ``G…`` (``*_muxed`` keeps the ``M…`` form when the XDR had one), assets canonical strings,
amounts ints, prices ``(n, d)`` exact rationals, claimable balances ``B…``, pools ``L…``. Minimal bodies
(`SetOptions`, `RevokeSponsorship`) carry what an indexer shows, not every knob.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ledgers.model import EntryKey
    from ledgers.scval import ScValue


@dataclass(frozen=True, slots=True)
class CreateAccount:
    """Create and fund ``destination`` with ``starting_balance`` stroops."""

    destination: str
    starting_balance: int


@dataclass(frozen=True, slots=True)
class Payment:
    """Send ``amount`` of ``asset`` to ``destination``."""

    destination: str
    destination_muxed: str | None
    asset: str
    amount: int


@dataclass(frozen=True, slots=True)
class PathPaymentStrictReceive:
    """Send at most ``send_max`` of ``send_asset`` so that the destination receives exactly ``dest_amount``."""

    send_asset: str
    send_max: int
    destination: str
    destination_muxed: str | None
    dest_asset: str
    dest_amount: int
    path: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class PathPaymentStrictSend:
    """Send exactly ``send_amount`` of ``send_asset``; the destination receives at least ``dest_min``."""

    send_asset: str
    send_amount: int
    destination: str
    destination_muxed: str | None
    dest_asset: str
    dest_min: int
    path: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ManageSellOffer:
    """``offer_id`` 0 creates an offer; ``amount`` 0 deletes one. ``price`` is buying per selling."""

    selling: str
    buying: str
    amount: int
    price: tuple[int, int]
    offer_id: int


@dataclass(frozen=True, slots=True)
class ManageBuyOffer:
    """``price`` is selling per buying (the inverse orientation of `ManageSellOffer`)."""

    selling: str
    buying: str
    buy_amount: int
    price: tuple[int, int]
    offer_id: int


@dataclass(frozen=True, slots=True)
class CreatePassiveSellOffer:
    """A sell offer that does not cross offers at the same price."""

    selling: str
    buying: str
    amount: int
    price: tuple[int, int]


@dataclass(frozen=True, slots=True)
class SetOptions:
    """Account options; ``signer_key`` is a strkey (``G…``, ``T…``, ``X…``, ``P…``), weight 0 removes it."""

    inflation_dest: str | None
    clear_flags: int | None
    set_flags: int | None
    master_weight: int | None
    low_threshold: int | None
    med_threshold: int | None
    high_threshold: int | None
    home_domain: str | None
    signer_key: str | None
    signer_weight: int | None


@dataclass(frozen=True, slots=True)
class ChangeTrust:
    """``limit`` 0 removes the trustline. For pool shares ``asset`` is ``pool_share:L…`` and the pool's assets
    and fee are given."""

    asset: str
    limit: int
    pool_id: str | None = None
    pool_asset_a: str | None = None
    pool_asset_b: str | None = None
    pool_fee_bp: int | None = None


@dataclass(frozen=True, slots=True)
class AllowTrust:
    """``asset`` is ``CODE:ISSUER`` with the operation's source as issuer (the XDR carries only the code)."""

    trustor: str
    asset: str
    authorize: int


@dataclass(frozen=True, slots=True)
class AccountMerge:
    """Merge the source account into ``destination`` (its balance moves there; see the result)."""

    destination: str
    destination_muxed: str | None


@dataclass(frozen=True, slots=True)
class Inflation:
    """Run inflation (historical; payouts are in the result)."""


@dataclass(frozen=True, slots=True)
class ManageData:
    """``value`` None deletes the entry."""

    name: str
    value: bytes | None


@dataclass(frozen=True, slots=True)
class BumpSequence:
    """Raise the source account's sequence number to ``bump_to``."""

    bump_to: int


@dataclass(frozen=True, slots=True)
class CreateClaimableBalance:
    """Lock ``amount`` of ``asset`` for ``claimants`` (the new id is in the result)."""

    asset: str
    amount: int
    claimants: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ClaimClaimableBalance:
    """Claim the balance ``balance_id`` (``B…``)."""

    balance_id: str


@dataclass(frozen=True, slots=True)
class BeginSponsoringFutureReserves:
    """Start paying the reserves of ``sponsored_id``'s new entries."""

    sponsored_id: str


@dataclass(frozen=True, slots=True)
class EndSponsoringFutureReserves:
    """End the sponsorship begun earlier in the transaction."""


@dataclass(frozen=True, slots=True)
class RevokeSponsorship:
    """``kind`` ledger_entry (``key`` set) or signer (``signer_account`` and ``signer_key`` set)."""

    kind: str
    key: EntryKey | None
    signer_account: str | None
    signer_key: str | None


@dataclass(frozen=True, slots=True)
class Clawback:
    """Claw ``amount`` of ``asset`` back from ``from_account`` (issuer only)."""

    asset: str
    from_account: str
    from_muxed: str | None
    amount: int


@dataclass(frozen=True, slots=True)
class ClawbackClaimableBalance:
    """Claw back the claimable balance ``balance_id``."""

    balance_id: str


@dataclass(frozen=True, slots=True)
class SetTrustLineFlags:
    """Set/clear authorization flags on ``trustor``'s trustline of ``asset`` (issuer only)."""

    trustor: str
    asset: str
    clear_flags: int
    set_flags: int


@dataclass(frozen=True, slots=True)
class LiquidityPoolDeposit:
    """Deposit at most ``max_amount_a``/``max_amount_b`` into pool ``pool_id`` within the price bounds."""

    pool_id: str
    max_amount_a: int
    max_amount_b: int
    min_price: tuple[int, int]
    max_price: tuple[int, int]


@dataclass(frozen=True, slots=True)
class LiquidityPoolWithdraw:
    """Redeem ``amount`` pool shares for at least ``min_amount_a``/``min_amount_b``."""

    pool_id: str
    amount: int
    min_amount_a: int
    min_amount_b: int


@dataclass(frozen=True, slots=True)
class InvokeHostFunction:
    """``function_type`` invoke_contract|create_contract|create_contract_v2|upload_wasm.

    invoke_contract: ``contract_id`` the called contract, ``function_name`` and ``args``.
    create_contract(_v2): ``contract_id`` the new contract's id (derived from the preimage and the network),
    ``asset`` when it deploys a Stellar Asset Contract, ``wasm_hash`` for a Wasm executable, ``args`` the
    constructor arguments (v2). upload_wasm: ``wasm_hash`` the sha256 of the uploaded code.
    """

    function_type: str
    contract_id: str | None
    function_name: str | None
    args: tuple[ScValue, ...]
    asset: str | None = None
    wasm_hash: str | None = None


@dataclass(frozen=True, slots=True)
class ExtendFootprintTtl:
    """Extend the TTL of the transaction footprint's entries to ``extend_to`` ledgers."""

    extend_to: int


@dataclass(frozen=True, slots=True)
class RestoreFootprint:
    """Restore the archived entries of the transaction footprint."""


OperationBody = (
    CreateAccount
    | Payment
    | PathPaymentStrictReceive
    | PathPaymentStrictSend
    | ManageSellOffer
    | ManageBuyOffer
    | CreatePassiveSellOffer
    | SetOptions
    | ChangeTrust
    | AllowTrust
    | AccountMerge
    | Inflation
    | ManageData
    | BumpSequence
    | CreateClaimableBalance
    | ClaimClaimableBalance
    | BeginSponsoringFutureReserves
    | EndSponsoringFutureReserves
    | RevokeSponsorship
    | Clawback
    | ClawbackClaimableBalance
    | SetTrustLineFlags
    | LiquidityPoolDeposit
    | LiquidityPoolWithdraw
    | InvokeHostFunction
    | ExtendFootprintTtl
    | RestoreFootprint
)
