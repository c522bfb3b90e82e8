"""Operation bodies and results for every operation type, including the ones the corpus lacks.

The corpus has no liquidity pool deposit/withdraw, inflation, revoke sponsorship, clawback of a claimable
balance, TTL extension or restore: those are built with stellar-sdk's operation builders here.
"""

from __future__ import annotations

import hashlib
from decimal import Decimal

import pytest
import stellar_sdk as sdk
from stellar_sdk import Asset, Keypair, Network, StrKey
from stellar_sdk import xdr as x

from ledgers import opbodies as b
from ledgers import xdrconv
from ledgers.operations import convert_body, convert_result

A = Keypair.from_raw_ed25519_seed(b"\x01" * 32).public_key
B = Keypair.from_raw_ed25519_seed(b"\x02" * 32).public_key
USD = Asset("USD", B)
LONG = Asset("LONGASSET12", A)
POOL_HEX = "dd7b1ab831c273310ddbec6f97870aa83c2fbd78ce22aded37ecbf4f3380fac7"
BALANCE_HEX = "00000000" + "da0d57da7d4850e7fc10d2a9d0ebc731f7afb40574c03395b17d49149b91f5be"
NETWORK = xdrconv.network_id(Network.PUBLIC_NETWORK_PASSPHRASE)
MUXED = sdk.MuxedAccount(B, 42).account_muxed


def _body(op: sdk.Operation, source: str = A) -> b.OperationBody:
    return convert_body(op.to_xdr_object(), source, NETWORK)


def test_classic_bodies() -> None:
    assert _body(sdk.CreateAccount(B, "1.5")) == b.CreateAccount(B, 15_000_000)
    assert _body(sdk.Payment(MUXED, USD, "2")) == b.Payment(B, MUXED, f"USD:{B}", 20_000_000)
    strict_send = _body(sdk.PathPaymentStrictSend(B, Asset.native(), "1", USD, "3", [LONG]))
    assert strict_send == b.PathPaymentStrictSend(
        "native", 10_000_000, B, None, f"USD:{B}", 30_000_000, (f"LONGASSET12:{A}",)
    )
    strict_receive = _body(sdk.PathPaymentStrictReceive(B, USD, "5", Asset.native(), "4", []))
    assert strict_receive == b.PathPaymentStrictReceive(
        f"USD:{B}", 50_000_000, B, None, "native", 40_000_000, ()
    )
    sell = _body(sdk.ManageSellOffer(USD, Asset.native(), "1", sdk.Price(3, 7), 99))
    assert sell == b.ManageSellOffer(f"USD:{B}", "native", 10_000_000, (3, 7), 99)
    buy = _body(sdk.ManageBuyOffer(Asset.native(), USD, "2", sdk.Price(1, 2)))
    assert buy == b.ManageBuyOffer("native", f"USD:{B}", 20_000_000, (1, 2), 0)
    passive = _body(sdk.CreatePassiveSellOffer(USD, LONG, "1", sdk.Price(5, 1)))
    assert passive == b.CreatePassiveSellOffer(f"USD:{B}", f"LONGASSET12:{A}", 10_000_000, (5, 1))
    assert _body(sdk.AccountMerge(MUXED)) == b.AccountMerge(B, MUXED)
    assert _body(sdk.Inflation()) == b.Inflation()
    assert _body(sdk.ManageData("k", b"v")) == b.ManageData("k", b"v")
    assert _body(sdk.ManageData("k", None)) == b.ManageData("k", None)
    assert _body(sdk.BumpSequence(123)) == b.BumpSequence(123)
    assert _body(sdk.BeginSponsoringFutureReserves(B)) == b.BeginSponsoringFutureReserves(B)
    assert _body(sdk.EndSponsoringFutureReserves()) == b.EndSponsoringFutureReserves()
    clawback = _body(sdk.Clawback(USD, MUXED, "0.0000001"))
    assert clawback == b.Clawback(f"USD:{B}", B, MUXED, 1)
    flags = _body(sdk.SetTrustLineFlags(A, USD, set_flags=sdk.TrustLineFlags.AUTHORIZED_FLAG))
    assert flags == b.SetTrustLineFlags(A, f"USD:{B}", 0, 1)


@pytest.mark.filterwarnings("ignore:Use .*SetTrustLineFlags:DeprecationWarning")
def test_trust_bodies() -> None:
    # AllowTrust carries only the code: the issuer is the operation's source.
    assert _body(sdk.AllowTrust(A, "USD", True), source=B) == b.AllowTrust(A, f"USD:{B}", 1)
    assert _body(sdk.ChangeTrust(USD, "10")) == b.ChangeTrust(f"USD:{B}", 100_000_000)
    pool_asset = sdk.LiquidityPoolAsset(Asset.native(), USD)
    pool = StrKey.encode_liquidity_pool(bytes.fromhex(pool_asset.liquidity_pool_id))
    shares = _body(sdk.ChangeTrust(pool_asset))
    assert shares == b.ChangeTrust(f"pool_share:{pool}", 2**63 - 1, pool, "native", f"USD:{B}", 30)


def test_claimable_balance_and_pool_bodies() -> None:
    balance = StrKey.encode_claimable_balance(bytes.fromhex(BALANCE_HEX)[3:])
    create = _body(sdk.CreateClaimableBalance(USD, "1", [sdk.Claimant(A), sdk.Claimant(B)]))
    assert create == b.CreateClaimableBalance(f"USD:{B}", 10_000_000, (A, B))
    assert _body(sdk.ClaimClaimableBalance(BALANCE_HEX)) == b.ClaimClaimableBalance(balance)
    assert _body(sdk.ClawbackClaimableBalance(BALANCE_HEX)) == b.ClawbackClaimableBalance(balance)
    pool = StrKey.encode_liquidity_pool(bytes.fromhex(POOL_HEX))
    deposit = _body(sdk.LiquidityPoolDeposit(POOL_HEX, "1", "2", sdk.Price(1, 2), sdk.Price(2, 1)))
    assert deposit == b.LiquidityPoolDeposit(pool, 10_000_000, 20_000_000, (1, 2), (2, 1))
    withdraw = _body(sdk.LiquidityPoolWithdraw(POOL_HEX, "3", "1", Decimal("0.5")))
    assert withdraw == b.LiquidityPoolWithdraw(pool, 30_000_000, 10_000_000, 5_000_000)


def test_options_and_sponsorship_bodies() -> None:
    options = _body(
        sdk.SetOptions(
            inflation_dest=B,
            set_flags=sdk.AuthorizationFlag.AUTHORIZATION_REQUIRED,
            master_weight=1,
            home_domain="example.com",
            signer=sdk.Signer.ed25519_public_key(B, 5),
        )
    )
    assert options == b.SetOptions(B, None, 1, 1, None, None, None, "example.com", B, 5)
    revoke = _body(sdk.RevokeSponsorship.revoke_trustline_sponsorship(A, USD))
    assert isinstance(revoke, b.RevokeSponsorship) and revoke.kind == "ledger_entry"
    assert revoke.key is not None and revoke.key.id == f"trustline:{A}:USD:{B}"
    signer = _body(sdk.RevokeSponsorship.revoke_signer_sponsorship(A, sdk.SignerKey.ed25519_public_key(B)))
    assert signer == b.RevokeSponsorship("signer", None, A, B)


def test_soroban_bodies() -> None:
    contract = "CA3D5KRYM6CB7OWQ6TWYRR3Z4T7GNZLKERYNZGGA5SOAOPIFY6YQGAXE"
    call = x.InvokeContractArgs(
        sdk.Address(contract).to_xdr_sc_address(), x.SCSymbol(b"transfer"), [sdk.scval.to_int128(5)]
    )
    invoke = _body(
        sdk.InvokeHostFunction(
            x.HostFunction(x.HostFunctionType.HOST_FUNCTION_TYPE_INVOKE_CONTRACT, invoke_contract=call)
        )
    )
    assert isinstance(invoke, b.InvokeHostFunction)
    assert (invoke.function_type, invoke.contract_id, invoke.function_name) == (
        "invoke_contract",
        contract,
        "transfer",
    )
    assert [arg.int for arg in invoke.args] == [5]

    wasm = b"\x00asm fake"
    upload = _body(
        sdk.InvokeHostFunction(
            x.HostFunction(x.HostFunctionType.HOST_FUNCTION_TYPE_UPLOAD_CONTRACT_WASM, wasm=wasm)
        )
    )
    assert upload == b.InvokeHostFunction(
        "upload_wasm", None, None, (), wasm_hash=hashlib.sha256(wasm).hexdigest()
    )

    # Deploying the Stellar Asset Contract of USD: the id is the one stellar-sdk computes for the asset.
    preimage = x.ContractIDPreimage(
        x.ContractIDPreimageType.CONTRACT_ID_PREIMAGE_FROM_ASSET, from_asset=USD.to_xdr_object()
    )
    executable = x.ContractExecutable(x.ContractExecutableType.CONTRACT_EXECUTABLE_STELLAR_ASSET)
    create = _body(
        sdk.InvokeHostFunction(
            x.HostFunction(
                x.HostFunctionType.HOST_FUNCTION_TYPE_CREATE_CONTRACT,
                create_contract=x.CreateContractArgs(preimage, executable),
            )
        )
    )
    assert isinstance(create, b.InvokeHostFunction)
    assert create.contract_id == USD.contract_id(Network.PUBLIC_NETWORK_PASSPHRASE)
    assert (create.function_type, create.asset) == ("create_contract", f"USD:{B}")

    assert _body(sdk.ExtendFootprintTTL(1000)) == b.ExtendFootprintTtl(1000)
    assert _body(sdk.RestoreFootprint()) == b.RestoreFootprint()


# -- results ----------------------------------------------------------------------------------------------------
def _account(key: str) -> x.AccountID:
    return sdk.Keypair.from_public_key(key).xdr_account_id()


def _inner(op_type: x.OperationType, attr: str, result: object) -> x.OperationResult:
    return x.OperationResult(x.OperationResultCode.opINNER, tr=x.OperationResultTr(op_type, **{attr: result}))


def every_claim_atom_kind() -> list[x.ClaimAtom]:
    """One claim atom of each kind (v0, order book, pool), as a result carries them."""
    pool_id = x.PoolID(x.Hash(bytes.fromhex(POOL_HEX)))
    return [
        x.ClaimAtom(
            x.ClaimAtomType.CLAIM_ATOM_TYPE_V0,
            v0=x.ClaimOfferAtomV0(
                x.Uint256(StrKey.decode_ed25519_public_key(B)),
                x.Int64(7),
                USD.to_xdr_object(),
                x.Int64(10),
                Asset.native().to_xdr_object(),
                x.Int64(20),
            ),
        ),
        x.ClaimAtom(
            x.ClaimAtomType.CLAIM_ATOM_TYPE_ORDER_BOOK,
            order_book=x.ClaimOfferAtom(
                _account(B),
                x.Int64(8),
                USD.to_xdr_object(),
                x.Int64(0),
                Asset.native().to_xdr_object(),
                x.Int64(0),
            ),
        ),
        x.ClaimAtom(
            x.ClaimAtomType.CLAIM_ATOM_TYPE_LIQUIDITY_POOL,
            liquidity_pool=x.ClaimLiquidityAtom(
                pool_id, USD.to_xdr_object(), x.Int64(3), Asset.native().to_xdr_object(), x.Int64(4)
            ),
        ),
    ]


def test_offer_result_with_every_claim_atom_kind() -> None:
    atoms = every_claim_atom_kind()
    success = x.ManageOfferSuccessResult(
        atoms, x.ManageOfferSuccessResultOffer(x.ManageOfferEffect.MANAGE_OFFER_DELETED)
    )
    result = convert_result(
        _inner(
            x.OperationType.MANAGE_SELL_OFFER,
            "manage_sell_offer_result",
            x.ManageSellOfferResult(x.ManageSellOfferResultCode.MANAGE_SELL_OFFER_SUCCESS, success),
        )
    )
    assert (
        result.successful and result.code == "MANAGE_SELL_OFFER_SUCCESS" and result.offer_effect == "deleted"
    )
    v0, book, pool = result.claim_atoms
    assert (v0.kind, v0.seller, v0.offer_id, v0.asset_sold, v0.amount_sold) == (
        "order_book_v0",
        B,
        7,
        f"USD:{B}",
        10,
    )
    assert (book.kind, book.amount_sold, book.amount_bought) == ("order_book", 0, 0)
    assert (pool.kind, pool.seller, pool.offer_id) == ("liquidity_pool", None, None)
    assert pool.pool_id == StrKey.encode_liquidity_pool(bytes.fromhex(POOL_HEX))


def test_other_results() -> None:
    last = x.SimplePaymentResult(_account(B), USD.to_xdr_object(), x.Int64(99))
    path = convert_result(
        _inner(
            x.OperationType.PATH_PAYMENT_STRICT_SEND,
            "path_payment_strict_send_result",
            x.PathPaymentStrictSendResult(
                x.PathPaymentStrictSendResultCode.PATH_PAYMENT_STRICT_SEND_SUCCESS,
                success=x.PathPaymentStrictSendResultSuccess([], last),
            ),
        )
    )
    assert path.last is not None and (path.last.destination, path.last.asset, path.last.amount) == (
        B,
        f"USD:{B}",
        99,
    )
    assert path.offers == ()
    merge = convert_result(
        _inner(
            x.OperationType.ACCOUNT_MERGE,
            "account_merge_result",
            x.AccountMergeResult(x.AccountMergeResultCode.ACCOUNT_MERGE_SUCCESS, x.Int64(5)),
        )
    )
    assert merge.source_account_balance == 5
    payouts = convert_result(
        _inner(
            x.OperationType.INFLATION,
            "inflation_result",
            x.InflationResult(
                x.InflationResultCode.INFLATION_SUCCESS, [x.InflationPayout(_account(A), x.Int64(3))]
            ),
        )
    )
    assert payouts.inflation_payouts == ((A, 3),)
    underfunded = convert_result(
        _inner(
            x.OperationType.PAYMENT,
            "payment_result",
            x.PaymentResult(x.PaymentResultCode.PAYMENT_UNDERFUNDED),
        )
    )
    assert (underfunded.code, underfunded.successful) == ("PAYMENT_UNDERFUNDED", False)
    not_run = convert_result(x.OperationResult(x.OperationResultCode.opBAD_AUTH))
    assert (not_run.code, not_run.successful) == ("opBAD_AUTH", False)


@pytest.mark.parametrize("op_type", list(x.OperationType), ids=lambda t: t.name)
def test_every_operation_type_has_a_body_converter(op_type: x.OperationType) -> None:
    from ledgers.operations import _BODIES

    assert op_type in _BODIES
