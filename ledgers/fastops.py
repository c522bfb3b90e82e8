"""Operation bodies and operation results straight from the bytes, for the fast decoder (`ledgers.fast`).

They build the same `ledgers.opbodies` bodies and `ledgers.model.OperationResult` values that
`ledgers.operations` converts from stellar-sdk's objects (the corpus equivalence test in
tests/ledgers/test_fast_decoder.py compares every one, tests/ledgers/test_fastops.py the shapes the corpus
lacks). Rare bodies whose fields nest deeply (revoke sponsorship, contract creation and Wasm upload) are decoded
by stellar-sdk at their offset and converted by `ledgers.operations`: one implementation of those is enough.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from stellar_sdk import StrKey
from stellar_sdk import xdr as x

from ledgers import opbodies as b
from ledgers import skippers, xdrconv
from ledgers.fastentries import offer_at, sc_address_at, unpack_at
from ledgers.fastread import I32, I64, U32, account_at, asset_at, items_at, muxed_at, price_at, string_at
from ledgers.model import ClaimAtom, OperationResult, PaymentLast
from ledgers.operations import convert_body
from ledgers.scval import ScValue

__all__ = ["operation_at", "results_at"]

_OPERATION_TYPES = {member.value: str(member.name) for member in x.OperationType}


# -- bodies -----------------------------------------------------------------------------------------------------
# Each reader gets the bytes, the offset of the body's arm (after the operation type), the effective source
# account and the network id, like `ledgers.operations`' converters get the decoded body.
def _create_account(raw: bytes, o: int, _src: str, _net: bytes) -> b.CreateAccount:
    return b.CreateAccount(account_at(raw, o), I64(raw, o + 36)[0])


def _payment(raw: bytes, o: int, _src: str, _net: bytes) -> b.Payment:
    dest, muxed, o = muxed_at(raw, o)
    asset, o = asset_at(raw, o)
    return b.Payment(dest, muxed, asset, I64(raw, o)[0])


def _path(raw: bytes, o: int) -> tuple[str, int, str, str | None, str, int, tuple[str, ...]]:
    """The fields both path payments share, in their XDR order (the two amounts differ in meaning only)."""
    send_asset, o = asset_at(raw, o)
    send = I64(raw, o)[0]
    dest, muxed, o = muxed_at(raw, o + 8)
    dest_asset, o = asset_at(raw, o)
    received = I64(raw, o)[0]
    path, _ = items_at(raw, o + 8, asset_at)
    return send_asset, send, dest, muxed, dest_asset, received, tuple(path)


def _path_receive(raw: bytes, o: int, _src: str, _net: bytes) -> b.PathPaymentStrictReceive:
    return b.PathPaymentStrictReceive(*_path(raw, o))


def _path_send(raw: bytes, o: int, _src: str, _net: bytes) -> b.PathPaymentStrictSend:
    return b.PathPaymentStrictSend(*_path(raw, o))


def _offer_fields(raw: bytes, o: int) -> tuple[str, str, int, tuple[int, int], int]:
    """selling, buying, amount, price and the offer id that follows (manage sell/buy, passive)."""
    selling, o = asset_at(raw, o)
    buying, o = asset_at(raw, o)
    return selling, buying, I64(raw, o)[0], price_at(raw, o + 8), o + 16


def _manage_sell(raw: bytes, o: int, _src: str, _net: bytes) -> b.ManageSellOffer:
    selling, buying, amount, price, o = _offer_fields(raw, o)
    return b.ManageSellOffer(selling, buying, amount, price, I64(raw, o)[0])


def _manage_buy(raw: bytes, o: int, _src: str, _net: bytes) -> b.ManageBuyOffer:
    selling, buying, amount, price, o = _offer_fields(raw, o)
    return b.ManageBuyOffer(selling, buying, amount, price, I64(raw, o)[0])


def _passive_sell(raw: bytes, o: int, _src: str, _net: bytes) -> b.CreatePassiveSellOffer:
    selling, buying, amount, price, _ = _offer_fields(raw, o)
    return b.CreatePassiveSellOffer(selling, buying, amount, price)


def _optional_u32(raw: bytes, o: int) -> tuple[int | None, int]:
    if U32(raw, o)[0]:
        return U32(raw, o + 4)[0], o + 8
    return None, o + 4


def _signer_key(raw: bytes, o: int) -> str:
    """Strkey of the ``SignerKey`` at `o` (see `xdrconv.signer_key`)."""
    kind = I32(raw, o)[0]
    key = raw[o + 4 : o + 36]
    if kind == 0:
        return xdrconv.account_strkey(key)
    if kind == 1:
        return StrKey.encode_pre_auth_tx(key)
    if kind == 2:
        return StrKey.encode_sha256_hash(key)
    # Signed payload: the strkey payload is the XDR of ``{ed25519, opaque payload<64>}``.
    return StrKey.encode_ed25519_signed_payload(raw[o + 4 : string_at(raw, o + 36)[1]])


def _set_options(raw: bytes, o: int, _src: str, _net: bytes) -> b.SetOptions:
    inflation_dest = None
    if U32(raw, o)[0]:
        inflation_dest = account_at(raw, o + 4)
        o += 40
    else:
        o += 4
    clear_flags, o = _optional_u32(raw, o)
    set_flags, o = _optional_u32(raw, o)
    master, o = _optional_u32(raw, o)
    low, o = _optional_u32(raw, o)
    med, o = _optional_u32(raw, o)
    high, o = _optional_u32(raw, o)
    home_domain = None
    if U32(raw, o)[0]:
        text, o = string_at(raw, o + 4)
        home_domain = text.decode("utf-8", "replace")
    else:
        o += 4
    signer_key = signer_weight = None
    if U32(raw, o)[0]:
        signer_key = _signer_key(raw, o + 4)
        signer_weight = U32(raw, skippers.skip_SignerKey(raw, o + 4))[0]
    return b.SetOptions(
        inflation_dest, clear_flags, set_flags, master, low, med, high, home_domain, signer_key, signer_weight
    )


_ASSET_POOL_SHARE = 3


def _change_trust(raw: bytes, o: int, _src: str, _net: bytes) -> b.ChangeTrust:
    if I32(raw, o)[0] != _ASSET_POOL_SHARE:
        asset, o = asset_at(raw, o)
        return b.ChangeTrust(asset, I64(raw, o)[0])
    params = o + 4  # LiquidityPoolParameters: its type (constant product), then the assets and the fee
    asset_a, o = asset_at(raw, params + 4)
    asset_b, o = asset_at(raw, o)
    fee = I32(raw, o)[0]
    o += 4
    # The pool id is the sha256 of the parameters' XDR, which is this run of bytes.
    pool = xdrconv.pool_strkey(hashlib.sha256(raw[params:o]).digest())
    return b.ChangeTrust(xdrconv.POOL_SHARE_PREFIX + pool, I64(raw, o)[0], pool, asset_a, asset_b, fee)


def _allow_trust(raw: bytes, o: int, source: str, _net: bytes) -> b.AllowTrust:
    trustor = account_at(raw, o)
    width = 4 if I32(raw, o + 36)[0] == 1 else 12  # AssetCode4 or AssetCode12
    code = raw[o + 40 : o + 40 + width]
    return b.AllowTrust(trustor, f"{xdrconv.asset_code(code)}:{source}", U32(raw, o + 40 + width)[0])


def _account_merge(raw: bytes, o: int, _src: str, _net: bytes) -> b.AccountMerge:
    dest, muxed, _ = muxed_at(raw, o)
    return b.AccountMerge(dest, muxed)


def _manage_data(raw: bytes, o: int, _src: str, _net: bytes) -> b.ManageData:
    name, o = string_at(raw, o)
    value = string_at(raw, o + 4)[0] if U32(raw, o)[0] else None
    return b.ManageData(name.decode("utf-8", "replace"), value)


def _create_balance(raw: bytes, o: int, _src: str, _net: bytes) -> b.CreateClaimableBalance:
    asset, o = asset_at(raw, o)
    amount = I64(raw, o)[0]
    return b.CreateClaimableBalance(asset, amount, claimants_at(raw, o + 8)[0])


def claimants_at(raw: bytes, o: int) -> tuple[tuple[str, ...], int]:
    """The destinations of the ``Claimant<>`` list at `o` (each: type 0, destination, predicate)."""
    out = []
    count = U32(raw, o)[0]
    o += 4
    for _ in range(count):
        out.append(account_at(raw, o + 4))
        o = skippers.skip_ClaimPredicate(raw, o + 40)
    return tuple(out), o


def _balance_id(raw: bytes, o: int) -> str:
    return xdrconv.balance_strkey(raw[o + 4 : o + 36])  # ClaimableBalanceID: type 0, then the hash


def _set_trustline_flags(raw: bytes, o: int, _src: str, _net: bytes) -> b.SetTrustLineFlags:
    asset, end = asset_at(raw, o + 36)
    return b.SetTrustLineFlags(account_at(raw, o), asset, U32(raw, end)[0], U32(raw, end + 4)[0])


def _clawback(raw: bytes, o: int, _src: str, _net: bytes) -> b.Clawback:
    asset, o = asset_at(raw, o)
    account, muxed, o = muxed_at(raw, o)
    return b.Clawback(asset, account, muxed, I64(raw, o)[0])


def _pool_deposit(raw: bytes, o: int, _src: str, _net: bytes) -> b.LiquidityPoolDeposit:
    return b.LiquidityPoolDeposit(
        xdrconv.pool_strkey(raw[o : o + 32]),
        I64(raw, o + 32)[0],
        I64(raw, o + 40)[0],
        price_at(raw, o + 48),
        price_at(raw, o + 56),
    )


def _pool_withdraw(raw: bytes, o: int, _src: str, _net: bytes) -> b.LiquidityPoolWithdraw:
    return b.LiquidityPoolWithdraw(
        xdrconv.pool_strkey(raw[o : o + 32]), I64(raw, o + 32)[0], I64(raw, o + 40)[0], I64(raw, o + 48)[0]
    )


_HOST_INVOKE_CONTRACT = 0


def _invoke_host_function(raw: bytes, o: int, src: str, net: bytes) -> b.InvokeHostFunction | None:
    if I32(raw, o)[0] != _HOST_INVOKE_CONTRACT:
        return None  # contract creation and Wasm upload: rare, left to stellar-sdk (see `body_at`)
    contract, o = sc_address_at(raw, o + 4)
    name, o = string_at(raw, o)
    args = []
    count = U32(raw, o)[0]
    o += 4
    for _ in range(count):
        end = skippers.skip_SCVal(raw, o)
        args.append(ScValue.from_xdr_bytes(raw[o:end]))
        o = end
    return b.InvokeHostFunction("invoke_contract", contract, name.decode("utf-8", "replace"), tuple(args))


_INFLATION = b.Inflation()
_END_SPONSORING = b.EndSponsoringFutureReserves()
_RESTORE = b.RestoreFootprint()

_BODIES: dict[int, Callable[[bytes, int, str, bytes], Any]] = {
    0: _create_account,
    1: _payment,
    2: _path_receive,
    3: _manage_sell,
    4: _passive_sell,
    5: _set_options,
    6: _change_trust,
    7: _allow_trust,
    8: _account_merge,
    9: lambda raw, o, src, net: _INFLATION,
    10: _manage_data,
    11: lambda raw, o, src, net: b.BumpSequence(I64(raw, o)[0]),
    12: _manage_buy,
    13: _path_send,
    14: _create_balance,
    15: lambda raw, o, src, net: b.ClaimClaimableBalance(_balance_id(raw, o)),
    16: lambda raw, o, src, net: b.BeginSponsoringFutureReserves(account_at(raw, o)),
    17: lambda raw, o, src, net: _END_SPONSORING,
    # 18 REVOKE_SPONSORSHIP: stellar-sdk (a ledger key or a signer, rare)
    19: _clawback,
    20: lambda raw, o, src, net: b.ClawbackClaimableBalance(_balance_id(raw, o)),
    21: _set_trustline_flags,
    22: _pool_deposit,
    23: _pool_withdraw,
    24: _invoke_host_function,
    25: lambda raw, o, src, net: b.ExtendFootprintTtl(U32(raw, o + 4)[0]),  # after the ExtensionPoint
    26: lambda raw, o, src, net: _RESTORE,
}


def operation_at(
    raw: bytes, start: int, tx_source: str, tx_muxed: str | None, network: bytes
) -> tuple[str, str, str | None, Any]:
    """The ``Operation`` at `start`: its type name, effective source (``G…``, ``M…`` or None: the operation's
    own, else the transaction's) and its `ledgers.opbodies` body. `network` (the network id) is needed by the
    contract id of a contract creation. The caller finds where the operation ends only if another follows
    (a Soroban transaction's single operation carries authorization trees that are costly to walk)."""
    o = start
    if U32(raw, o)[0]:  # the operation's own source account
        account, muxed, o = muxed_at(raw, o + 4)
    else:
        account, muxed = tx_source, tx_muxed
        o += 4
    kind = I32(raw, o)[0]
    read = _BODIES.get(kind)
    body = None if read is None else read(raw, o + 4, account, network)
    if body is None:
        body = convert_body(unpack_at(x.Operation, raw, start), account, network)
    return _OPERATION_TYPES[kind], account, muxed, body


# -- results ----------------------------------------------------------------------------------------------------
def _result_code_names() -> dict[int, dict[int, str]]:
    """Per operation type, its result code enum's ``{value: name}`` (``PAYMENT_SUCCESS`` …)."""
    out = {}
    for member in x.OperationType:
        name = "".join(word.capitalize() for word in member.name.split("_"))
        enum = (
            {
                "CreatePassiveSellOffer": x.ManageSellOfferResultCode,  # passive offers share the sell offer result
                "ExtendFootprintTtl": x.ExtendFootprintTTLResultCode,
            }.get(name)
            or getattr(x, name + "ResultCode")
        )
        out[member.value] = {code.value: str(code.name) for code in enum}
    return out


_RESULT_CODES = _result_code_names()
_OUTER_CODES = {member.value: str(member.name) for member in x.OperationResultCode}
# A result with nothing but its code is a frozen value shared by every operation that has it (building a
# 10-field frozen dataclass per operation cost more than reading the result); success codes are value 0.
_PLAIN_RESULTS = {
    name: OperationResult(code=name, successful=value == 0 and not name.startswith("op"))
    for codes in (*_RESULT_CODES.values(), _OUTER_CODES)
    for value, name in codes.items()
}
_CLAIM_KINDS = ("order_book_v0", "order_book", "liquidity_pool")
_OFFER_EFFECTS = ("created", "updated", "deleted")
_TX_SUCCESS, _TX_FAILED = 0, -1
_TX_FEE_BUMP_INNER_SUCCESS, _TX_FEE_BUMP_INNER_FAILED = 1, -13
_OFFER_TYPES = frozenset({3, 4, 12})
_PATH_TYPES = frozenset({2, 13})
_ACCOUNT_MERGE, _INFLATION_TYPE, _CREATE_BALANCE, _INVOKE = 8, 9, 14, 24


def results_at(raw: bytes, o: int, fee_bump: bool) -> list[OperationResult] | None:
    """The operation results of the ``TransactionResult`` at `o` (after the transaction hash): None when the
    transaction failed before applying its operations (as `ledgers.view` gives for the sdk path)."""
    code = I32(raw, o + 8)[0]
    o += 12
    if fee_bump:
        if code not in (_TX_FEE_BUMP_INNER_SUCCESS, _TX_FEE_BUMP_INNER_FAILED):
            return None
        code = I32(raw, o + 40)[0]  # the inner pair: hash, fee charged, then the inner result's code
        o += 44
    if code not in (_TX_SUCCESS, _TX_FAILED):
        return None
    return items_at(raw, o, _result_at)[0]


def _result_at(raw: bytes, o: int) -> tuple[OperationResult, int]:
    """The ``OperationResult`` at `o` and the offset after it."""
    outer = I32(raw, o)[0]
    if outer != 0:  # not opINNER: the operation was not run, and the result carries nothing else
        return _PLAIN_RESULTS[_OUTER_CODES[outer]], o + 4
    kind = I32(raw, o + 4)[0]
    code = I32(raw, o + 8)[0]
    name = _RESULT_CODES[kind][code]
    if code != 0:  # every operation's *_SUCCESS code is 0; a failure's payload (if any) is not exposed
        return _PLAIN_RESULTS[name], skippers.skip_OperationResult(raw, o)
    p = o + 12
    if kind in _OFFER_TYPES:
        atoms, p = _claim_atoms(raw, p)
        effect = I32(raw, p)[0]
        offer = None
        p += 4
        if effect != 2:  # created or updated: the resting offer follows
            offer, p = offer_at(raw, p, 0)
        result = OperationResult(
            code=name, successful=True, claim_atoms=atoms, offer_effect=_OFFER_EFFECTS[effect], offer=offer
        )
        return result, p
    if kind in _PATH_TYPES:
        atoms, p = _claim_atoms(raw, p)
        asset, end = asset_at(raw, p + 36)
        last = PaymentLast(account_at(raw, p), asset, I64(raw, end)[0])
        return OperationResult(code=name, successful=True, claim_atoms=atoms, last=last), end + 8
    if kind == _ACCOUNT_MERGE:
        result = OperationResult(code=name, successful=True, source_account_balance=I64(raw, p)[0])
        return result, p + 8
    if kind == _CREATE_BALANCE:
        return OperationResult(code=name, successful=True, balance_id=_balance_id(raw, p)), p + 36
    if kind == _INFLATION_TYPE:
        payouts = []
        for _ in range(U32(raw, p)[0]):
            payouts.append((account_at(raw, p + 4), I64(raw, p + 40)[0]))
            p += 44
        return OperationResult(code=name, successful=True, inflation_payouts=tuple(payouts)), p + 4
    if kind == _INVOKE:
        return OperationResult(code=name, successful=True, invoke_result_hash=raw[p : p + 32].hex()), p + 32
    return _PLAIN_RESULTS[name], skippers.skip_OperationResult(raw, o)


def _claim_atoms(raw: bytes, o: int) -> tuple[tuple[ClaimAtom, ...], int]:
    """The ``ClaimAtom<>`` list at `o` and the offset after it."""
    out = []
    count = U32(raw, o)[0]
    o += 4
    for _ in range(count):
        kind = I32(raw, o)[0]
        seller: str | None
        offer_id: int | None
        pool = None
        if kind == 1:  # order book: seller AccountID, offer id
            seller, offer_id = account_at(raw, o + 4), I64(raw, o + 40)[0]
            o += 48
        elif kind == 0:  # v0: the seller's bare ed25519 key, offer id
            seller, offer_id = xdrconv.account_strkey(raw[o + 4 : o + 36]), I64(raw, o + 36)[0]
            o += 44
        else:  # liquidity pool: its id
            seller = offer_id = None
            pool = xdrconv.pool_strkey(raw[o + 4 : o + 36])
            o += 36
        sold, o = asset_at(raw, o)
        amount_sold = I64(raw, o)[0]
        bought, o = asset_at(raw, o + 8)
        out.append(
            ClaimAtom(_CLAIM_KINDS[kind], seller, offer_id, pool, sold, amount_sold, bought, I64(raw, o)[0])
        )
        o += 8
    return tuple(out), o
