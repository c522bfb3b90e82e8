"""Mutable records of the sample ledger state, each able to write itself as an XDR ``LedgerEntry`` and key.

The builders mutate these plain records (``account.balance -= fee``) and `state.Changes` turns the before and
after of each record into meta entry changes, so no builder edits nested XDR objects by hand.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from stellar_sdk import Asset
from stellar_sdk import xdr as x

from .xdrkit import (
    MAX_INT64,
    account_id,
    asset_string,
    asset_xdr,
    hash32,
    i64,
    sc_address,
    sha256,
    u32,
)

Ident = tuple[str, ...]  # a record's identity in the state: ("account", "G…"), ("offer", "7") …

AUTHORIZED = x.TrustLineFlags.AUTHORIZED_FLAG.value
AUTHORIZED_TO_MAINTAIN_LIABILITIES = x.TrustLineFlags.AUTHORIZED_TO_MAINTAIN_LIABILITIES_FLAG.value
AUTH_REVOCABLE = x.AccountFlags.AUTH_REVOCABLE_FLAG.value
_THRESHOLDS = x.Thresholds(bytes([1, 0, 0, 0]))  # master weight 1, all thresholds 0: a fresh account


def _liabilities(buying: int, selling: int) -> x.Liabilities:
    return x.Liabilities(i64(buying), i64(selling))


@dataclass
class Record:
    """Base of every record: ``last_modified`` is the ledger that last changed it (set by `state.Changes`)."""

    kind: ClassVar[x.LedgerEntryType]
    last_modified: int = field(default=0, kw_only=True)

    @property
    def ident(self) -> Ident:
        raise NotImplementedError

    def key(self) -> x.LedgerKey:
        raise NotImplementedError

    def data(self) -> x.LedgerEntryData:
        raise NotImplementedError

    def entry(self) -> x.LedgerEntry:
        return x.LedgerEntry(u32(self.last_modified), self.data(), x.LedgerEntryExt(0))


@dataclass
class AccountRecord(Record):
    kind: ClassVar[x.LedgerEntryType] = x.LedgerEntryType.ACCOUNT
    account_id: str
    balance: int
    seq_num: int
    num_sub_entries: int = 0
    flags: int = 0
    home_domain: str = ""
    buying_liabilities: int = 0
    selling_liabilities: int = 0

    @property
    def ident(self) -> Ident:
        return ("account", self.account_id)

    def key(self) -> x.LedgerKey:
        return x.LedgerKey(self.kind, account=x.LedgerKeyAccount(account_id(self.account_id)))

    def data(self) -> x.LedgerEntryData:
        ext = x.AccountEntryExt(
            1,
            v1=x.AccountEntryExtensionV1(
                _liabilities(self.buying_liabilities, self.selling_liabilities),
                x.AccountEntryExtensionV1Ext(0),
            ),
        )
        entry = x.AccountEntry(
            account_id=account_id(self.account_id),
            balance=i64(self.balance),
            seq_num=x.SequenceNumber(i64(self.seq_num)),
            num_sub_entries=u32(self.num_sub_entries),
            inflation_dest=None,
            flags=u32(self.flags),
            home_domain=x.String32(self.home_domain.encode()),
            thresholds=_THRESHOLDS,
            signers=[],
            ext=ext,
        )
        return x.LedgerEntryData(self.kind, account=entry)

    def available(self, base_reserve: int) -> int:
        """Spendable native balance: above the minimum balance and what open offers may sell."""
        minimum = (2 + self.num_sub_entries) * base_reserve
        return self.balance - minimum - self.selling_liabilities


@dataclass
class TrustlineRecord(Record):
    kind: ClassVar[x.LedgerEntryType] = x.LedgerEntryType.TRUSTLINE
    account_id: str
    asset: Asset
    balance: int = 0
    limit: int = MAX_INT64
    flags: int = AUTHORIZED
    buying_liabilities: int = 0
    selling_liabilities: int = 0

    @property
    def ident(self) -> Ident:
        return ("trustline", self.account_id, asset_string(self.asset))

    def _asset(self) -> x.TrustLineAsset:
        return x.TrustLineAsset.from_xdr_bytes(asset_xdr(self.asset).to_xdr_bytes())

    def key(self) -> x.LedgerKey:
        return x.LedgerKey(
            self.kind, trust_line=x.LedgerKeyTrustLine(account_id(self.account_id), self._asset())
        )

    def data(self) -> x.LedgerEntryData:
        ext = x.TrustLineEntryExt(
            1,
            v1=x.TrustLineEntryV1(
                _liabilities(self.buying_liabilities, self.selling_liabilities), x.TrustLineEntryV1Ext(0)
            ),
        )
        entry = x.TrustLineEntry(
            account_id(self.account_id),
            self._asset(),
            i64(self.balance),
            i64(self.limit),
            u32(self.flags),
            ext,
        )
        return x.LedgerEntryData(self.kind, trust_line=entry)


@dataclass
class OfferRecord(Record):
    """A resting order-book offer: sells ``amount`` of ``selling`` at ``price_n/price_d`` ``buying`` per unit."""

    kind: ClassVar[x.LedgerEntryType] = x.LedgerEntryType.OFFER
    seller_id: str
    offer_id: int
    selling: Asset
    buying: Asset
    amount: int
    price_n: int
    price_d: int

    @property
    def ident(self) -> Ident:
        return ("offer", str(self.offer_id))

    def key(self) -> x.LedgerKey:
        return x.LedgerKey(self.kind, offer=x.LedgerKeyOffer(account_id(self.seller_id), i64(self.offer_id)))

    def data(self) -> x.LedgerEntryData:
        entry = x.OfferEntry(
            account_id(self.seller_id),
            i64(self.offer_id),
            asset_xdr(self.selling),
            asset_xdr(self.buying),
            i64(self.amount),
            x.Price(x.Int32(self.price_n), x.Int32(self.price_d)),
            u32(0),
            x.OfferEntryExt(0),
        )
        return x.LedgerEntryData(self.kind, offer=entry)

    @property
    def buying_liability(self) -> int:
        """What the offer would receive if taken in full (rounded up, as stellar-core reserves it)."""
        return -(-self.amount * self.price_n // self.price_d)


@dataclass
class PoolRecord(Record):
    """A constant-product liquidity pool (``asset_a`` < ``asset_b`` in the protocol's order)."""

    kind: ClassVar[x.LedgerEntryType] = x.LedgerEntryType.LIQUIDITY_POOL
    pool_id: bytes
    asset_a: Asset
    asset_b: Asset
    fee_bp: int
    reserve_a: int
    reserve_b: int
    total_shares: int
    trustline_count: int

    @property
    def ident(self) -> Ident:
        return ("pool", self.pool_id.hex())

    def key(self) -> x.LedgerKey:
        return x.LedgerKey(self.kind, liquidity_pool=x.LedgerKeyLiquidityPool(x.PoolID(hash32(self.pool_id))))

    def data(self) -> x.LedgerEntryData:
        params = x.LiquidityPoolConstantProductParameters(
            asset_xdr(self.asset_a), asset_xdr(self.asset_b), x.Int32(self.fee_bp)
        )
        body = x.LiquidityPoolEntryBody(
            x.LiquidityPoolType.LIQUIDITY_POOL_CONSTANT_PRODUCT,
            constant_product=x.LiquidityPoolEntryConstantProduct(
                params,
                i64(self.reserve_a),
                i64(self.reserve_b),
                i64(self.total_shares),
                i64(self.trustline_count),
            ),
        )
        entry = x.LiquidityPoolEntry(x.PoolID(hash32(self.pool_id)), body)
        return x.LedgerEntryData(self.kind, liquidity_pool=entry)

    def reserve(self, asset: Asset) -> int:
        return self.reserve_a if asset == self.asset_a else self.reserve_b

    def add_reserve(self, asset: Asset, delta: int) -> None:
        if asset == self.asset_a:
            self.reserve_a += delta
        else:
            self.reserve_b += delta


@dataclass
class ContractDataRecord(Record):
    """Persistent contract storage: ``key``/``value`` are ``SCVal``s of contract ``contract`` (``C…``)."""

    kind: ClassVar[x.LedgerEntryType] = x.LedgerEntryType.CONTRACT_DATA
    contract: str
    key_val: x.SCVal
    value: x.SCVal
    durability: x.ContractDataDurability = x.ContractDataDurability.PERSISTENT

    @property
    def ident(self) -> Ident:
        return ("contract_data", self.contract, self.key_val.to_xdr())

    def key(self) -> x.LedgerKey:
        return x.LedgerKey(
            self.kind,
            contract_data=x.LedgerKeyContractData(sc_address(self.contract), self.key_val, self.durability),
        )

    def data(self) -> x.LedgerEntryData:
        entry = x.ContractDataEntry(
            x.ExtensionPoint(0), sc_address(self.contract), self.key_val, self.durability, self.value
        )
        return x.LedgerEntryData(self.kind, contract_data=entry)

    @property
    def key_hash(self) -> bytes:
        """sha256 of the ``LedgerKey`` XDR: what the entry's TTL entry is keyed by."""
        return sha256(self.key().to_xdr_bytes())


def instance_key(contract: str) -> x.LedgerKey:
    """The ``LedgerKey`` of a contract's instance entry (read by every call to it)."""
    return x.LedgerKey(
        x.LedgerEntryType.CONTRACT_DATA,
        contract_data=x.LedgerKeyContractData(
            sc_address(contract),
            x.SCVal(x.SCValType.SCV_LEDGER_KEY_CONTRACT_INSTANCE),
            x.ContractDataDurability.PERSISTENT,
        ),
    )


@dataclass
class TtlRecord(Record):
    """The time-to-live of a contract data (or code) entry, keyed by the hash of that entry's key."""

    kind: ClassVar[x.LedgerEntryType] = x.LedgerEntryType.TTL
    key_hash: bytes
    live_until: int

    @property
    def ident(self) -> Ident:
        return ("ttl", self.key_hash.hex())

    def key(self) -> x.LedgerKey:
        return x.LedgerKey(self.kind, ttl=x.LedgerKeyTtl(hash32(self.key_hash)))

    def data(self) -> x.LedgerEntryData:
        return x.LedgerEntryData(self.kind, ttl=x.TTLEntry(hash32(self.key_hash), u32(self.live_until)))
