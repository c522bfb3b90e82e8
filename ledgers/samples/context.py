"""What an operation sees while it is applied, and the balance moves every operation kind shares.

`OpContext.credit` is the one place a balance changes hands: an account's XLM, a trustline, a Stellar Asset
Contract ``["Balance", C…]`` entry or a pool reserve. Keeping it single is what makes the samples reconcile
(REFERENCE §3): every operation moves money through it and emits the matching event through `OpContext.move`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from stellar_sdk import Asset, StrKey
from stellar_sdk import xdr as x

from .entries import ContractDataRecord, TtlRecord
from .events import TokenEvents
from .keys import Cast
from .state import Changes, LedgerState, SampleError
from .xdrkit import address, boolean, i128, i128_value, sym, symbol_map, vec

# How long a new SAC balance entry lives (~30 days of ledgers) before someone must extend it.
BALANCE_TTL = 518_400


@dataclass
class OpContext:
    """One operation being applied: its scope of changes and events, and the shared state."""

    state: LedgerState
    changes: Changes
    tokens: TokenEvents
    cast: Cast
    source: str
    ledger_seq: int
    events: list[x.ContractEvent] = field(default_factory=list)
    return_value: x.SCVal | None = None  # set by contract invocations

    def credit(self, holder: str, asset: Asset, delta: int) -> None:
        """Add `delta` (negative to debit) of `asset` to `holder`'s balance, recording the entry change."""
        if not asset.is_native() and holder == asset.issuer:
            return  # an issuer holds no balance of its own asset: it mints and burns
        kind = holder[0]
        if kind == "G":
            if asset.is_native():
                self.changes.touch(self.state.account(holder)).balance += delta
            else:
                self.changes.touch(self.state.trustline(holder, asset)).balance += delta
        elif kind == "C":
            self._credit_contract(holder, asset, delta)
        elif kind == "L":
            pool_id = StrKey.decode_liquidity_pool(holder)
            self.changes.touch(self.state.pool(pool_id)).add_reserve(asset, delta)
        else:
            raise SampleError(f"cannot hold a balance: {holder}")

    def _credit_contract(self, holder: str, asset: Asset, delta: int) -> None:
        """A contract's balance of a SAC token: ContractData ``["Balance", C…]`` of the SAC, with its TTL."""
        sac = self.cast.sac(asset)
        key = sac_balance_key(holder)
        record = self.state.contract_data(sac, key)
        if record is None:
            record = self.changes.create(ContractDataRecord(sac, key, sac_balance(0)))
            self.changes.create(TtlRecord(record.key_hash, self.ledger_seq + BALANCE_TTL))
        else:
            self.changes.touch(record)
        record.value = sac_balance(sac_balance_amount(record.value) + delta)

    def move(self, asset: Asset, sender: str, receiver: str, amount: int) -> None:
        """Move `amount` of `asset` and emit its transfer/mint/burn event."""
        self.credit(sender, asset, -amount)
        self.credit(receiver, asset, amount)
        self.events.append(self.tokens.move(asset, sender, receiver, amount))


def sac_balance_key(holder: str) -> x.SCVal:
    """The storage key of `holder`'s balance in a Stellar Asset Contract: ``["Balance", address]``."""
    return vec(sym("Balance"), address(holder))


def sac_balance(amount: int) -> x.SCVal:
    """The value of a SAC balance entry: ``{amount, authorized, clawback}``."""
    return symbol_map({"amount": i128(amount), "authorized": boolean(True), "clawback": boolean(False)})


def sac_balance_amount(value: x.SCVal) -> int:
    """The ``amount`` of a SAC balance entry value."""
    assert value.map is not None
    for entry in value.map.sc_map:
        if entry.key.sym is not None and entry.key.sym.sc_symbol == b"amount":
            return i128_value(entry.val)
    raise SampleError("SAC balance entry without amount")


class OpSpec(Protocol):
    """An operation of the scenario: its envelope form, and how it changes the state when applied."""

    @property
    def source(self) -> str | None:
        """The operation's own source account, or None to use the transaction's."""

    def operation(self) -> x.Operation: ...

    def apply(self, ctx: OpContext) -> x.OperationResult: ...
