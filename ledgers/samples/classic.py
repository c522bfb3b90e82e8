"""Classic operations of the samples: create account, payment, change trust, set trustline flags.

Each is a frozen spec with `operation()` (the envelope form, built with stellar-sdk's operation builders) and
`apply(ctx)` (the state change, events and XDR result, as stellar-core would produce them).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import stellar_sdk
from stellar_sdk import Asset
from stellar_sdk import xdr as x
from stellar_sdk.operation.set_trust_line_flags import TrustLineFlags

from .context import OpContext
from .entries import AccountRecord, TrustlineRecord
from .xdrkit import MAX_INT64, amount_string

OP = x.OperationType


def op_result(op_type: x.OperationType, **arm: Any) -> x.OperationResult:
    """A run operation's result (``opINNER``) with its type-specific arm, e.g. ``payment_result=``."""
    return x.OperationResult(x.OperationResultCode.opINNER, x.OperationResultTr(op_type, **arm))


@dataclass(frozen=True)
class CreateAccount:
    destination: str
    starting_balance: int
    source: str | None = None

    def operation(self) -> x.Operation:
        return stellar_sdk.CreateAccount(
            self.destination, amount_string(self.starting_balance), source=self.source
        ).to_xdr_object()

    def apply(self, ctx: OpContext) -> x.OperationResult:
        # A new account's sequence number starts at the ledger's sequence shifted into the high 32 bits.
        ctx.changes.create(AccountRecord(self.destination, 0, ctx.ledger_seq << 32))
        ctx.move(Asset.native(), ctx.source, self.destination, self.starting_balance)
        code = x.CreateAccountResultCode.CREATE_ACCOUNT_SUCCESS
        return op_result(OP.CREATE_ACCOUNT, create_account_result=x.CreateAccountResult(code))


@dataclass(frozen=True)
class Payment:
    destination: str
    asset: Asset
    amount: int
    source: str | None = None

    def operation(self) -> x.Operation:
        return stellar_sdk.Payment(
            self.destination, self.asset, amount_string(self.amount), source=self.source
        ).to_xdr_object()

    def apply(self, ctx: OpContext) -> x.OperationResult:
        codes = x.PaymentResultCode
        if self._available(ctx) < self.amount:
            return op_result(OP.PAYMENT, payment_result=x.PaymentResult(codes.PAYMENT_UNDERFUNDED))
        ctx.move(self.asset, ctx.source, self.destination, self.amount)
        return op_result(OP.PAYMENT, payment_result=x.PaymentResult(codes.PAYMENT_SUCCESS))

    def _available(self, ctx: OpContext) -> int:
        if self.asset.is_native():
            return ctx.state.account(ctx.source).available(ctx.state.base_reserve)
        if ctx.source == self.asset.issuer:
            return MAX_INT64  # the issuer mints without limit
        trustline = ctx.state.trustline(ctx.source, self.asset)
        return trustline.balance - trustline.selling_liabilities


@dataclass(frozen=True)
class ChangeTrust:
    """Opens a trustline (the samples never change limits or close trustlines)."""

    asset: Asset
    source: str | None = None

    def operation(self) -> x.Operation:
        return stellar_sdk.ChangeTrust(self.asset, source=self.source).to_xdr_object()

    def apply(self, ctx: OpContext) -> x.OperationResult:
        # A trustline is a subentry: it raises the account's minimum balance by one base reserve.
        ctx.changes.touch(ctx.state.account(ctx.source)).num_sub_entries += 1
        ctx.changes.create(TrustlineRecord(ctx.source, self.asset))
        code = x.ChangeTrustResultCode.CHANGE_TRUST_SUCCESS
        return op_result(OP.CHANGE_TRUST, change_trust_result=x.ChangeTrustResult(code))


@dataclass(frozen=True)
class SetTrustLineFlags:
    """The issuer changes the authorization of a holder's trustline (no token moves, so no event)."""

    trustor: str
    asset: Asset
    clear_flags: int = 0
    set_flags: int = 0
    source: str | None = None

    def operation(self) -> x.Operation:
        return stellar_sdk.SetTrustLineFlags(
            self.trustor,
            self.asset,
            clear_flags=TrustLineFlags(self.clear_flags),
            set_flags=TrustLineFlags(self.set_flags),
            source=self.source,
        ).to_xdr_object()

    def apply(self, ctx: OpContext) -> x.OperationResult:
        trustline = ctx.changes.touch(ctx.state.trustline(self.trustor, self.asset))
        trustline.flags = (trustline.flags & ~self.clear_flags) | self.set_flags
        code = x.SetTrustLineFlagsResultCode.SET_TRUST_LINE_FLAGS_SUCCESS
        return op_result(OP.SET_TRUST_LINE_FLAGS, set_trust_line_flags_result=x.SetTrustLineFlagsResult(code))
