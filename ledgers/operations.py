# mypy: disable-error-code="union-attr,arg-type"
# (stellar-sdk types every XDR union arm as Optional; the discriminant checked beside each access guarantees it.)
"""XDR operations and operation results → `ledgers.opbodies` bodies and `ledgers.model.OperationResult`."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from stellar_sdk import xdr as x

from ledgers import opbodies as b
from ledgers import xdrconv
from ledgers.entries import convert_key, convert_offer
from ledgers.model import ClaimAtom, OperationResult, PaymentLast
from ledgers.scval import ScValue

__all__ = ["convert_body", "convert_result", "operation_type_name"]

OP = x.OperationType


def operation_type_name(op: x.Operation) -> str:
    """The XDR enum name of the operation type: ``PAYMENT``, ``INVOKE_HOST_FUNCTION`` …"""
    return str(op.body.type.name)


def _price(price: x.Price) -> tuple[int, int]:
    return price.n.int32, price.d.int32


def _optional_u32(value: x.Uint32 | None) -> int | None:
    return None if value is None else int(value.uint32)


# -- bodies -----------------------------------------------------------------------------------------------------
def _create_account(body: x.OperationBody, _src: str, _net: bytes) -> b.CreateAccount:
    op = body.create_account_op
    return b.CreateAccount(xdrconv.account_id(op.destination), op.starting_balance.int64)


def _payment(body: x.OperationBody, _src: str, _net: bytes) -> b.Payment:
    op = body.payment_op
    dest, dest_muxed = xdrconv.muxed_account(op.destination)
    return b.Payment(dest, dest_muxed, xdrconv.asset(op.asset), op.amount.int64)


def _path_receive(body: x.OperationBody, _src: str, _net: bytes) -> b.PathPaymentStrictReceive:
    op = body.path_payment_strict_receive_op
    dest, dest_muxed = xdrconv.muxed_account(op.destination)
    return b.PathPaymentStrictReceive(
        send_asset=xdrconv.asset(op.send_asset),
        send_max=op.send_max.int64,
        destination=dest,
        destination_muxed=dest_muxed,
        dest_asset=xdrconv.asset(op.dest_asset),
        dest_amount=op.dest_amount.int64,
        path=tuple(xdrconv.asset(a) for a in op.path),
    )


def _path_send(body: x.OperationBody, _src: str, _net: bytes) -> b.PathPaymentStrictSend:
    op = body.path_payment_strict_send_op
    dest, dest_muxed = xdrconv.muxed_account(op.destination)
    return b.PathPaymentStrictSend(
        send_asset=xdrconv.asset(op.send_asset),
        send_amount=op.send_amount.int64,
        destination=dest,
        destination_muxed=dest_muxed,
        dest_asset=xdrconv.asset(op.dest_asset),
        dest_min=op.dest_min.int64,
        path=tuple(xdrconv.asset(a) for a in op.path),
    )


def _manage_sell(body: x.OperationBody, _src: str, _net: bytes) -> b.ManageSellOffer:
    op = body.manage_sell_offer_op
    return b.ManageSellOffer(
        xdrconv.asset(op.selling),
        xdrconv.asset(op.buying),
        op.amount.int64,
        _price(op.price),
        op.offer_id.int64,
    )


def _manage_buy(body: x.OperationBody, _src: str, _net: bytes) -> b.ManageBuyOffer:
    op = body.manage_buy_offer_op
    return b.ManageBuyOffer(
        xdrconv.asset(op.selling),
        xdrconv.asset(op.buying),
        op.buy_amount.int64,
        _price(op.price),
        op.offer_id.int64,
    )


def _passive_sell(body: x.OperationBody, _src: str, _net: bytes) -> b.CreatePassiveSellOffer:
    op = body.create_passive_sell_offer_op
    return b.CreatePassiveSellOffer(
        xdrconv.asset(op.selling), xdrconv.asset(op.buying), op.amount.int64, _price(op.price)
    )


def _set_options(body: x.OperationBody, _src: str, _net: bytes) -> b.SetOptions:
    op = body.set_options_op
    signer = op.signer
    return b.SetOptions(
        inflation_dest=None if op.inflation_dest is None else xdrconv.account_id(op.inflation_dest),
        clear_flags=_optional_u32(op.clear_flags),
        set_flags=_optional_u32(op.set_flags),
        master_weight=_optional_u32(op.master_weight),
        low_threshold=_optional_u32(op.low_threshold),
        med_threshold=_optional_u32(op.med_threshold),
        high_threshold=_optional_u32(op.high_threshold),
        home_domain=None if op.home_domain is None else op.home_domain.string32.decode("utf-8", "replace"),
        signer_key=None if signer is None else xdrconv.signer_key(signer.key),
        signer_weight=None if signer is None else int(signer.weight.uint32),
    )


def _change_trust(body: x.OperationBody, _src: str, _net: bytes) -> b.ChangeTrust:
    op = body.change_trust_op
    line = op.line
    if line.liquidity_pool is not None:
        params = line.liquidity_pool.constant_product
        pool = xdrconv.liquidity_pool_id_from_params(line.liquidity_pool)
        return b.ChangeTrust(
            asset=xdrconv.POOL_SHARE_PREFIX + pool,
            limit=op.limit.int64,
            pool_id=pool,
            pool_asset_a=xdrconv.asset(params.asset_a),
            pool_asset_b=xdrconv.asset(params.asset_b),
            pool_fee_bp=params.fee.int32,
        )
    return b.ChangeTrust(xdrconv.asset(line), op.limit.int64)


def _allow_trust(body: x.OperationBody, source: str, _net: bytes) -> b.AllowTrust:
    op = body.allow_trust_op
    code = op.asset.asset_code4 or op.asset.asset_code12
    raw = code.asset_code4 if isinstance(code, x.AssetCode4) else code.asset_code12
    return b.AllowTrust(
        xdrconv.account_id(op.trustor), f"{xdrconv.asset_code(raw)}:{source}", op.authorize.uint32
    )


def _account_merge(body: x.OperationBody, _src: str, _net: bytes) -> b.AccountMerge:
    dest, dest_muxed = xdrconv.muxed_account(body.destination)
    return b.AccountMerge(dest, dest_muxed)


def _manage_data(body: x.OperationBody, _src: str, _net: bytes) -> b.ManageData:
    op = body.manage_data_op
    value = None if op.data_value is None else op.data_value.data_value
    return b.ManageData(op.data_name.string64.decode("utf-8", "replace"), value)


def _create_balance(body: x.OperationBody, _src: str, _net: bytes) -> b.CreateClaimableBalance:
    op = body.create_claimable_balance_op
    return b.CreateClaimableBalance(
        xdrconv.asset(op.asset),
        op.amount.int64,
        tuple(xdrconv.account_id(c.v0.destination) for c in op.claimants),
    )


def _revoke_sponsorship(body: x.OperationBody, _src: str, _net: bytes) -> b.RevokeSponsorship:
    op = body.revoke_sponsorship_op
    if op.ledger_key is not None:
        return b.RevokeSponsorship("ledger_entry", convert_key(op.ledger_key), None, None)
    signer = op.signer
    return b.RevokeSponsorship(
        "signer", None, xdrconv.account_id(signer.account_id), xdrconv.signer_key(signer.signer_key)
    )


def _clawback(body: x.OperationBody, _src: str, _net: bytes) -> b.Clawback:
    op = body.clawback_op
    account, muxed = xdrconv.muxed_account(op.from_)
    return b.Clawback(xdrconv.asset(op.asset), account, muxed, op.amount.int64)


def _set_trustline_flags(body: x.OperationBody, _src: str, _net: bytes) -> b.SetTrustLineFlags:
    op = body.set_trust_line_flags_op
    return b.SetTrustLineFlags(
        xdrconv.account_id(op.trustor), xdrconv.asset(op.asset), op.clear_flags.uint32, op.set_flags.uint32
    )


def _pool_deposit(body: x.OperationBody, _src: str, _net: bytes) -> b.LiquidityPoolDeposit:
    op = body.liquidity_pool_deposit_op
    return b.LiquidityPoolDeposit(
        xdrconv.pool_id(op.liquidity_pool_id),
        op.max_amount_a.int64,
        op.max_amount_b.int64,
        _price(op.min_price),
        _price(op.max_price),
    )


def _pool_withdraw(body: x.OperationBody, _src: str, _net: bytes) -> b.LiquidityPoolWithdraw:
    op = body.liquidity_pool_withdraw_op
    return b.LiquidityPoolWithdraw(
        xdrconv.pool_id(op.liquidity_pool_id), op.amount.int64, op.min_amount_a.int64, op.min_amount_b.int64
    )


_HOST_FUNCTIONS = {
    x.HostFunctionType.HOST_FUNCTION_TYPE_INVOKE_CONTRACT: "invoke_contract",
    x.HostFunctionType.HOST_FUNCTION_TYPE_CREATE_CONTRACT: "create_contract",
    x.HostFunctionType.HOST_FUNCTION_TYPE_UPLOAD_CONTRACT_WASM: "upload_wasm",
    x.HostFunctionType.HOST_FUNCTION_TYPE_CREATE_CONTRACT_V2: "create_contract_v2",
}


def _invoke_host_function(body: x.OperationBody, _src: str, network: bytes) -> b.InvokeHostFunction:
    fn = body.invoke_host_function_op.host_function
    kind = _HOST_FUNCTIONS[fn.type]
    if fn.invoke_contract is not None:
        call = fn.invoke_contract
        return b.InvokeHostFunction(
            kind,
            xdrconv.sc_address(call.contract_address),
            call.function_name.sc_symbol.decode("utf-8", "replace"),
            tuple(ScValue(arg) for arg in call.args),
        )
    create = fn.create_contract or fn.create_contract_v2
    if create is not None:
        preimage = create.contract_id_preimage
        executable = create.executable
        args = getattr(create, "constructor_args", None) or []
        return b.InvokeHostFunction(
            kind,
            xdrconv.contract_id_from_preimage(network, preimage),
            None,
            tuple(ScValue(arg) for arg in args),
            asset=None if preimage.from_asset is None else xdrconv.asset(preimage.from_asset),
            wasm_hash=None if executable.wasm_hash is None else executable.wasm_hash.hash.hex(),
        )
    return b.InvokeHostFunction(kind, None, None, (), wasm_hash=hashlib.sha256(fn.wasm or b"").hexdigest())


_BODIES: dict[x.OperationType, Callable[[x.OperationBody, str, bytes], Any]] = {
    OP.CREATE_ACCOUNT: _create_account,
    OP.PAYMENT: _payment,
    OP.PATH_PAYMENT_STRICT_RECEIVE: _path_receive,
    OP.MANAGE_SELL_OFFER: _manage_sell,
    OP.CREATE_PASSIVE_SELL_OFFER: _passive_sell,
    OP.SET_OPTIONS: _set_options,
    OP.CHANGE_TRUST: _change_trust,
    OP.ALLOW_TRUST: _allow_trust,
    OP.ACCOUNT_MERGE: _account_merge,
    OP.INFLATION: lambda body, src, net: b.Inflation(),
    OP.MANAGE_DATA: _manage_data,
    OP.BUMP_SEQUENCE: lambda body, src, net: b.BumpSequence(
        body.bump_sequence_op.bump_to.sequence_number.int64
    ),
    OP.MANAGE_BUY_OFFER: _manage_buy,
    OP.PATH_PAYMENT_STRICT_SEND: _path_send,
    OP.CREATE_CLAIMABLE_BALANCE: _create_balance,
    OP.CLAIM_CLAIMABLE_BALANCE: lambda body, src, net: b.ClaimClaimableBalance(
        xdrconv.balance_id(body.claim_claimable_balance_op.balance_id)
    ),
    OP.BEGIN_SPONSORING_FUTURE_RESERVES: lambda body, src, net: b.BeginSponsoringFutureReserves(
        xdrconv.account_id(body.begin_sponsoring_future_reserves_op.sponsored_id)
    ),
    OP.END_SPONSORING_FUTURE_RESERVES: lambda body, src, net: b.EndSponsoringFutureReserves(),
    OP.REVOKE_SPONSORSHIP: _revoke_sponsorship,
    OP.CLAWBACK: _clawback,
    OP.CLAWBACK_CLAIMABLE_BALANCE: lambda body, src, net: b.ClawbackClaimableBalance(
        xdrconv.balance_id(body.clawback_claimable_balance_op.balance_id)
    ),
    OP.SET_TRUST_LINE_FLAGS: _set_trustline_flags,
    OP.LIQUIDITY_POOL_DEPOSIT: _pool_deposit,
    OP.LIQUIDITY_POOL_WITHDRAW: _pool_withdraw,
    OP.INVOKE_HOST_FUNCTION: _invoke_host_function,
    OP.EXTEND_FOOTPRINT_TTL: lambda body, src, net: b.ExtendFootprintTtl(
        body.extend_footprint_ttl_op.extend_to.uint32
    ),
    OP.RESTORE_FOOTPRINT: lambda body, src, net: b.RestoreFootprint(),
}


def convert_body(op: x.Operation, source_account: str, network: bytes) -> b.OperationBody:
    """The body of `op`; `source_account` (the effective source) is needed by AllowTrust's asset issuer,
    `network` (the network id) by the contract id of CreateContract."""
    body = op.body
    return _BODIES[body.type](body, source_account, network)


# -- results ----------------------------------------------------------------------------------------------------
_RESULT_ATTRS = {
    member: ("bump_seq_result" if member is OP.BUMP_SEQUENCE else member.name.lower() + "_result")
    for member in OP
}
_CLAIM_KINDS = {
    x.ClaimAtomType.CLAIM_ATOM_TYPE_V0: "order_book_v0",
    x.ClaimAtomType.CLAIM_ATOM_TYPE_ORDER_BOOK: "order_book",
    x.ClaimAtomType.CLAIM_ATOM_TYPE_LIQUIDITY_POOL: "liquidity_pool",
}
_OFFER_EFFECTS = {
    x.ManageOfferEffect.MANAGE_OFFER_CREATED: "created",
    x.ManageOfferEffect.MANAGE_OFFER_UPDATED: "updated",
    x.ManageOfferEffect.MANAGE_OFFER_DELETED: "deleted",
}
_OP_INNER = x.OperationResultCode.opINNER


def convert_claim_atom(atom: x.ClaimAtom) -> ClaimAtom:
    """One XDR ``ClaimAtom`` of any of its three kinds."""
    kind = _CLAIM_KINDS[atom.type]
    if atom.order_book is not None:
        ob = atom.order_book
        seller: str | None = xdrconv.account_id(ob.seller_id)
        offer_id: int | None = ob.offer_id.int64
        pool = None
        body: Any = ob
    elif atom.v0 is not None:
        body = atom.v0
        seller = xdrconv.account_strkey(body.seller_ed25519.uint256)
        offer_id = body.offer_id.int64
        pool = None
    else:
        body = atom.liquidity_pool
        seller = offer_id = None
        pool = xdrconv.pool_id(body.liquidity_pool_id)
    return ClaimAtom(
        kind=kind,
        seller=seller,
        offer_id=offer_id,
        pool_id=pool,
        asset_sold=xdrconv.asset(body.asset_sold),
        amount_sold=body.amount_sold.int64,
        asset_bought=xdrconv.asset(body.asset_bought),
        amount_bought=body.amount_bought.int64,
    )


def convert_result(result: x.OperationResult) -> OperationResult:
    """The `OperationResult` of an XDR operation result."""
    if result.code is not _OP_INNER:
        return OperationResult(code=str(result.code.name), successful=False)
    tr = result.tr
    op_type = tr.type
    inner = getattr(tr, _RESULT_ATTRS[op_type])
    code = inner.code
    successful = code.value == 0  # every operation's *_SUCCESS code is 0
    name = str(code.name)
    if not successful:
        return OperationResult(code=name, successful=False)
    if op_type in (OP.MANAGE_SELL_OFFER, OP.MANAGE_BUY_OFFER, OP.CREATE_PASSIVE_SELL_OFFER):
        success = inner.success
        offer = success.offer
        return OperationResult(
            code=name,
            successful=True,
            claim_atoms=tuple(convert_claim_atom(atom) for atom in success.offers_claimed),
            offer_effect=_OFFER_EFFECTS[offer.effect],
            offer=None if offer.offer is None else convert_offer(offer.offer, 0),
        )
    if op_type in (OP.PATH_PAYMENT_STRICT_RECEIVE, OP.PATH_PAYMENT_STRICT_SEND):
        success = inner.success
        last = success.last
        return OperationResult(
            code=name,
            successful=True,
            claim_atoms=tuple(convert_claim_atom(atom) for atom in success.offers),
            last=PaymentLast(
                xdrconv.account_id(last.destination), xdrconv.asset(last.asset), last.amount.int64
            ),
        )
    if op_type is OP.ACCOUNT_MERGE:
        balance = inner.source_account_balance
        return OperationResult(
            code=name, successful=True, source_account_balance=None if balance is None else balance.int64
        )
    if op_type is OP.CREATE_CLAIMABLE_BALANCE:
        return OperationResult(code=name, successful=True, balance_id=xdrconv.balance_id(inner.balance_id))
    if op_type is OP.INFLATION:
        payouts = tuple((xdrconv.account_id(p.destination), p.amount.int64) for p in inner.payouts or ())
        return OperationResult(code=name, successful=True, inflation_payouts=payouts)
    if op_type is OP.INVOKE_HOST_FUNCTION:
        return OperationResult(code=name, successful=True, invoke_result_hash=inner.success.hash.hex())
    return OperationResult(code=name, successful=True)
