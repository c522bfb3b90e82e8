"""Soroban operations of the samples: SAC transfers, a custom AMM contract, and a TTL extension.

The AMM (``amm``, not a Stellar Asset Contract) swaps USDC for EURC against its own SAC balances, emits a custom
``["swap", user]`` event with a map as data, and keeps a persistent ``["Position", user]`` entry (with its TTL
entry) that the first swap creates, later swaps update and ``close_position`` removes. Each spec also declares
its footprint, which goes into the envelope's ``SorobanTransactionData``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import stellar_sdk
from stellar_sdk import Asset
from stellar_sdk import xdr as x

from .classic import OP, op_result
from .context import OpContext, OpSpec, sac_balance_amount, sac_balance_key
from .entries import AccountRecord, ContractDataRecord, TrustlineRecord, TtlRecord, instance_key
from .events import contract_event
from .keys import Cast
from .state import SampleError
from .xdrkit import address, hash32, i128, i128_value, sc_address, sha256, sym, symbol_map, u32_val, vec

POSITION_TTL = 120_960  # stellar-core's minimum persistent TTL: 7 days of ledgers
_SWAP_FEE = (997, 1000)  # the AMM keeps 0.3% of the input


@runtime_checkable
class SorobanSpec(OpSpec, Protocol):
    """A Soroban operation: one per transaction, with the ledger keys it reads and writes."""

    def footprint(self) -> x.LedgerFootprint: ...


def holder_key(holder: str, asset: Asset, cast: Cast) -> x.LedgerKey:
    """The ledger key holding `holder`'s balance of `asset`: account, trustline or SAC balance entry."""
    if holder.startswith("C"):
        return ContractDataRecord(cast.sac(asset), sac_balance_key(holder), i128(0)).key()
    if asset.is_native():
        return AccountRecord(holder, 0, 0).key()
    return TrustlineRecord(holder, asset).key()


def _args(contract: str, function: str, args: list[x.SCVal]) -> x.InvokeContractArgs:
    return x.InvokeContractArgs(sc_address(contract), x.SCSymbol(function.encode()), args)


def _invocation(call: x.InvokeContractArgs, *subs: x.InvokeContractArgs) -> x.SorobanAuthorizedInvocation:
    function = x.SorobanAuthorizedFunction(
        x.SorobanAuthorizedFunctionType.SOROBAN_AUTHORIZED_FUNCTION_TYPE_CONTRACT_FN, contract_fn=call
    )
    return x.SorobanAuthorizedInvocation(function, [_invocation(sub) for sub in subs])


def _invoke(
    call: x.InvokeContractArgs, subs: tuple[x.InvokeContractArgs, ...], source: str | None
) -> x.Operation:
    """An InvokeHostFunction whose authorization comes from the transaction's source account signature."""
    auth = x.SorobanAuthorizationEntry(
        x.SorobanCredentials(x.SorobanCredentialsType.SOROBAN_CREDENTIALS_SOURCE_ACCOUNT),
        _invocation(call, *subs),
    )
    host_function = x.HostFunction(
        x.HostFunctionType.HOST_FUNCTION_TYPE_INVOKE_CONTRACT, invoke_contract=call
    )
    return stellar_sdk.InvokeHostFunction(host_function, [auth], source=source).to_xdr_object()


def invoke_success(ctx: OpContext) -> x.OperationResult:
    """InvokeHostFunction success: the hash commits to the return value and the contract events."""
    value = ctx.return_value or x.SCVal(x.SCValType.SCV_VOID)
    preimage = x.InvokeHostFunctionSuccessPreImage(value, ctx.events)
    result = x.InvokeHostFunctionResult(
        x.InvokeHostFunctionResultCode.INVOKE_HOST_FUNCTION_SUCCESS,
        success=hash32(sha256(preimage.to_xdr_bytes())),
    )
    return op_result(OP.INVOKE_HOST_FUNCTION, invoke_host_function_result=result)


@dataclass(frozen=True)
class SacTransfer:
    """``transfer(from, to, amount)`` on an asset's Stellar Asset Contract, signed by `sender`."""

    cast: Cast = field(repr=False)
    asset: Asset
    sender: str
    receiver: str
    amount: int
    source: str | None = None

    def _call(self) -> x.InvokeContractArgs:
        args = [address(self.sender), address(self.receiver), i128(self.amount)]
        return _args(self.cast.sac(self.asset), "transfer", args)

    def operation(self) -> x.Operation:
        return _invoke(self._call(), (), self.source)

    def footprint(self) -> x.LedgerFootprint:
        writes = [holder_key(h, self.asset, self.cast) for h in (self.sender, self.receiver)]
        return x.LedgerFootprint([instance_key(self.cast.sac(self.asset))], writes)

    def apply(self, ctx: OpContext) -> x.OperationResult:
        ctx.move(self.asset, self.sender, self.receiver, self.amount)
        return invoke_success(ctx)


def _position_key(user: str) -> x.SCVal:
    return vec(sym("Position"), address(user))


def _position(swaps: int, volume: int) -> x.SCVal:
    return symbol_map({"swaps": u32_val(swaps), "volume": i128(volume)})


def _position_fields(value: x.SCVal) -> tuple[int, int]:
    swaps = volume = 0
    for entry in value.map.sc_map if value.map is not None else []:
        name = entry.key.sym.sc_symbol if entry.key.sym is not None else b""
        if name == b"swaps" and entry.val.u32 is not None:
            swaps = entry.val.u32.uint32
        elif name == b"volume":
            volume = i128_value(entry.val)
    return swaps, volume


@dataclass(frozen=True)
class AmmSwap:
    """``swap(user, amount_in, min_out)`` on the custom AMM: `token_in` → `token_out` at its balances' ratio."""

    cast: Cast = field(repr=False)
    user: str
    token_in: Asset
    token_out: Asset
    amount_in: int
    min_out: int
    source: str | None = None

    @property
    def amm(self) -> str:
        return self.cast.contract("amm")

    def _call(self) -> x.InvokeContractArgs:
        args = [address(self.user), i128(self.amount_in), i128(self.min_out)]
        return _args(self.amm, "swap", args)

    def operation(self) -> x.Operation:
        # The user authorizes the swap and, beneath it, the AMM pulling `amount_in` from them.
        pull = _args(
            self.cast.sac(self.token_in),
            "transfer",
            [address(self.user), address(self.amm), i128(self.amount_in)],
        )
        return _invoke(self._call(), (pull,), self.source)

    def footprint(self) -> x.LedgerFootprint:
        reads = [
            instance_key(c) for c in (self.amm, self.cast.sac(self.token_in), self.cast.sac(self.token_out))
        ]
        writes = [
            holder_key(holder, token, self.cast)
            for token in (self.token_in, self.token_out)
            for holder in (self.user, self.amm)
        ]
        writes.append(ContractDataRecord(self.amm, _position_key(self.user), i128(0)).key())
        return x.LedgerFootprint(reads, writes)

    def apply(self, ctx: OpContext) -> x.OperationResult:
        reserve_in = self._reserve(ctx, self.token_in)
        reserve_out = self._reserve(ctx, self.token_out)
        kept, scale = _SWAP_FEE
        out = reserve_out * self.amount_in * kept // (reserve_in * scale + self.amount_in * kept)
        if out < self.min_out:
            raise SampleError(f"AMM swap would return {out}, under its minimum {self.min_out}")
        ctx.move(self.token_in, self.user, self.amm, self.amount_in)
        ctx.move(self.token_out, self.amm, self.user, out)
        self._record_position(ctx)
        data = {
            "amount_in": i128(self.amount_in),
            "amount_out": i128(out),
            "token_in": address(self.cast.sac(self.token_in)),
            "token_out": address(self.cast.sac(self.token_out)),
        }
        ctx.events.append(contract_event(self.amm, [sym("swap"), address(self.user)], symbol_map(data)))
        ctx.return_value = i128(out)
        return invoke_success(ctx)

    def _reserve(self, ctx: OpContext, token: Asset) -> int:
        record = ctx.state.contract_data(self.cast.sac(token), sac_balance_key(self.amm))
        if record is None:
            raise SampleError(f"the AMM holds no {token.code}")
        return sac_balance_amount(record.value)

    def _record_position(self, ctx: OpContext) -> None:
        key = _position_key(self.user)
        record = ctx.state.contract_data(self.amm, key)
        if record is None:
            record = ctx.changes.create(ContractDataRecord(self.amm, key, _position(0, 0)))
            ctx.changes.create(TtlRecord(record.key_hash, ctx.ledger_seq + POSITION_TTL))
        else:
            ctx.changes.touch(record)
        swaps, volume = _position_fields(record.value)
        record.value = _position(swaps + 1, volume + self.amount_in)


@dataclass(frozen=True)
class AmmClosePosition:
    """``close_position(user)``: the AMM deletes the user's position entry (and so its TTL entry)."""

    cast: Cast = field(repr=False)
    user: str
    source: str | None = None

    @property
    def amm(self) -> str:
        return self.cast.contract("amm")

    def _call(self) -> x.InvokeContractArgs:
        return _args(self.amm, "close_position", [address(self.user)])

    def operation(self) -> x.Operation:
        return _invoke(self._call(), (), self.source)

    def footprint(self) -> x.LedgerFootprint:
        position = ContractDataRecord(self.amm, _position_key(self.user), i128(0)).key()
        return x.LedgerFootprint([instance_key(self.amm)], [position])

    def apply(self, ctx: OpContext) -> x.OperationResult:
        record = ctx.state.contract_data(self.amm, _position_key(self.user))
        if record is None:
            raise SampleError("no position to close")
        ctx.changes.remove(record)
        ctx.changes.remove(ctx.state.ttl(record.key_hash))
        ctx.events.append(
            contract_event(self.amm, [sym("position_closed"), address(self.user)], record.value)
        )
        return invoke_success(ctx)


@dataclass(frozen=True)
class ExtendTtl:
    """ExtendFootprintTTL of read-only entries: only their TTL entries change."""

    keys: tuple[x.LedgerKey, ...]
    extend_to: int
    source: str | None = None

    def operation(self) -> x.Operation:
        return stellar_sdk.ExtendFootprintTTL(self.extend_to, source=self.source).to_xdr_object()

    def footprint(self) -> x.LedgerFootprint:
        return x.LedgerFootprint(list(self.keys), [])

    def apply(self, ctx: OpContext) -> x.OperationResult:
        for key in self.keys:
            ttl = ctx.changes.touch(ctx.state.ttl(sha256(key.to_xdr_bytes())))
            ttl.live_until = max(ttl.live_until, ctx.ledger_seq + self.extend_to)
        code = x.ExtendFootprintTTLResultCode.EXTEND_FOOTPRINT_TTL_SUCCESS
        return op_result(
            OP.EXTEND_FOOTPRINT_TTL, extend_footprint_ttl_result=x.ExtendFootprintTTLResult(code)
        )
