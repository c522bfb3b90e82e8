"""The fast decoder's builders from the bytes (`ledgers.fastops`, `ledgers.fastentries`) against the sdk path's
converters, on XDR built with stellar-sdk for shapes the corpus may lack: every operation type and its
variants (muxed accounts, 12-character assets, pool shares, every signer key kind, optional fields absent and
present), every result shape (each claim atom kind, offer effects, fee bump wrappers, failures), and the
entry types read from the bytes besides accounts and trustlines (offers, claimable balances, pools).

The corpus equivalence test (tests/ledgers/test_fast_decoder.py) covers the shapes real ledgers carry.
"""

from __future__ import annotations

import pytest
import stellar_sdk as sdk
from stellar_sdk import Asset
from stellar_sdk import xdr as x

from ledgers import xdrconv
from ledgers.entries import convert_changes
from ledgers.fastentries import changes_at
from ledgers.fastops import operation_at, results_at
from ledgers.operations import convert_body, convert_result, operation_type_name
from tests.ledgers.test_operations import (
    BALANCE_HEX,
    LONG,
    MUXED,
    NETWORK,
    POOL_HEX,
    USD,
    A,
    B,
    _account,
    _inner,
    every_claim_atom_kind,
)

TX_MUXED = sdk.MuxedAccount(A, 7).account_muxed
CONTRACT = "CA3D5KRYM6CB7OWQ6TWYRR3Z4T7GNZLKERYNZGGA5SOAOPIFY6YQGAXE"


def _host(fn: x.HostFunction) -> sdk.InvokeHostFunction:
    return sdk.InvokeHostFunction(fn)


def _operations() -> list[sdk.Operation]:
    pool_asset = sdk.LiquidityPoolAsset(Asset.native(), USD)
    predicate = sdk.ClaimPredicate.predicate_and(
        sdk.ClaimPredicate.predicate_before_relative_time(60),
        sdk.ClaimPredicate.predicate_not(sdk.ClaimPredicate.predicate_unconditional()),
    )
    call = x.InvokeContractArgs(
        sdk.Address(CONTRACT).to_xdr_sc_address(),
        x.SCSymbol(b"transfer"),
        [sdk.scval.to_int128(5), sdk.scval.to_address(A), sdk.scval.to_vec([sdk.scval.to_symbol("x")])],
    )
    preimage = x.ContractIDPreimage(
        x.ContractIDPreimageType.CONTRACT_ID_PREIMAGE_FROM_ASSET, from_asset=USD.to_xdr_object()
    )
    executable = x.ContractExecutable(x.ContractExecutableType.CONTRACT_EXECUTABLE_STELLAR_ASSET)
    payload = sdk.SignedPayloadSigner(A, b"\x07" * 9)
    return [
        sdk.CreateAccount(B, "1.5"),
        sdk.Payment(MUXED, USD, "2"),
        sdk.Payment(B, LONG, "2", source=MUXED),
        sdk.Payment(B, Asset.native(), "0.0000001", source=A),
        sdk.PathPaymentStrictSend(B, Asset.native(), "1", USD, "3", [LONG, Asset.native()]),
        sdk.PathPaymentStrictReceive(MUXED, USD, "5", Asset.native(), "4", []),
        sdk.ManageSellOffer(USD, Asset.native(), "1", sdk.Price(3, 7), 99),
        sdk.ManageBuyOffer(Asset.native(), LONG, "2", sdk.Price(1, 2)),
        sdk.CreatePassiveSellOffer(USD, LONG, "1", sdk.Price(5, 1)),
        sdk.SetOptions(),
        sdk.SetOptions(
            inflation_dest=B,
            clear_flags=2,
            set_flags=sdk.AuthorizationFlag.AUTHORIZATION_REQUIRED,
            master_weight=1,
            low_threshold=2,
            med_threshold=3,
            high_threshold=4,
            home_domain="example.com",
            signer=sdk.Signer.ed25519_public_key(B, 5),
        ),
        sdk.SetOptions(signer=sdk.Signer.pre_auth_tx(b"\x03" * 32, 1)),
        sdk.SetOptions(signer=sdk.Signer.sha256_hash(b"\x04" * 32, 2), home_domain="a"),
        sdk.SetOptions(signer=sdk.Signer(sdk.SignerKey.ed25519_signed_payload(payload), 3)),
        sdk.ChangeTrust(USD, "10"),
        sdk.ChangeTrust(LONG),
        sdk.ChangeTrust(pool_asset),
        sdk.AllowTrust(A, "USD", True),
        sdk.AllowTrust(A, "LONGASSET12", sdk.TrustLineEntryFlag.AUTHORIZED_TO_MAINTAIN_LIABILITIES_FLAG),
        sdk.AccountMerge(MUXED),
        sdk.AccountMerge(B),
        sdk.Inflation(),
        sdk.ManageData("key", b"value"),
        sdk.ManageData("k" * 64, None),
        sdk.BumpSequence(123),
        sdk.CreateClaimableBalance(USD, "1", [sdk.Claimant(A), sdk.Claimant(B, predicate)]),
        sdk.ClaimClaimableBalance(BALANCE_HEX),
        sdk.BeginSponsoringFutureReserves(B),
        sdk.EndSponsoringFutureReserves(),
        sdk.RevokeSponsorship.revoke_trustline_sponsorship(A, USD),
        sdk.RevokeSponsorship.revoke_signer_sponsorship(A, sdk.SignerKey.ed25519_public_key(B)),
        sdk.Clawback(USD, MUXED, "0.0000001"),
        sdk.ClawbackClaimableBalance(BALANCE_HEX),
        sdk.SetTrustLineFlags(A, USD, set_flags=sdk.TrustLineFlags.AUTHORIZED_FLAG),
        sdk.SetTrustLineFlags(A, LONG, clear_flags=sdk.TrustLineFlags.AUTHORIZED_FLAG),
        sdk.LiquidityPoolDeposit(POOL_HEX, "1", "2", sdk.Price(1, 2), sdk.Price(2, 1)),
        sdk.LiquidityPoolWithdraw(POOL_HEX, "3", "1", "0.5"),
        _host(x.HostFunction(x.HostFunctionType.HOST_FUNCTION_TYPE_INVOKE_CONTRACT, invoke_contract=call)),
        _host(x.HostFunction(x.HostFunctionType.HOST_FUNCTION_TYPE_UPLOAD_CONTRACT_WASM, wasm=b"\x00asm")),
        _host(
            x.HostFunction(
                x.HostFunctionType.HOST_FUNCTION_TYPE_CREATE_CONTRACT,
                create_contract=x.CreateContractArgs(preimage, executable),
            )
        ),
        sdk.ExtendFootprintTTL(1000),
        sdk.RestoreFootprint(),
    ]


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_every_operation_shape_reads_as_the_sdk_path_converts_it() -> None:
    operations = _operations()
    seen = set()
    for tx_source, tx_muxed in ((A, None), (A, TX_MUXED)):
        for op in operations:
            op_xdr = op.to_xdr_object()
            pad = b"\xff" * 8  # read at an offset inside a larger buffer, as in a ledger
            raw = pad + op_xdr.to_xdr_bytes() + pad
            kind, account, muxed, body = operation_at(raw, len(pad), tx_source, tx_muxed, NETWORK)
            if op_xdr.source_account is not None:
                expected_account, expected_muxed = xdrconv.muxed_account(op_xdr.source_account)
            else:
                expected_account, expected_muxed = tx_source, tx_muxed
            assert (kind, account, muxed) == (operation_type_name(op_xdr), expected_account, expected_muxed)
            assert body == convert_body(op_xdr, account, NETWORK), kind
            seen.add(kind)
    assert seen == {member.name for member in x.OperationType}


# -- results ----------------------------------------------------------------------------------------------------
def _offer() -> x.OfferEntry:
    return x.OfferEntry(
        _account(A),
        x.Int64(77),
        LONG.to_xdr_object(),
        Asset.native().to_xdr_object(),
        x.Int64(500),
        x.Price(x.Int32(2), x.Int32(3)),
        x.Uint32(1),
        x.OfferEntryExt(0),
    )


def _operation_results() -> list[x.OperationResult]:
    T = x.OperationType
    effects = [
        x.ManageOfferSuccessResultOffer(x.ManageOfferEffect.MANAGE_OFFER_CREATED, offer=_offer()),
        x.ManageOfferSuccessResultOffer(x.ManageOfferEffect.MANAGE_OFFER_UPDATED, offer=_offer()),
        x.ManageOfferSuccessResultOffer(x.ManageOfferEffect.MANAGE_OFFER_DELETED),
    ]
    last = x.SimplePaymentResult(_account(B), USD.to_xdr_object(), x.Int64(99))
    results = [
        _inner(
            T.MANAGE_SELL_OFFER,
            "manage_sell_offer_result",
            x.ManageSellOfferResult(
                x.ManageSellOfferResultCode.MANAGE_SELL_OFFER_SUCCESS,
                x.ManageOfferSuccessResult(every_claim_atom_kind(), effect),
            ),
        )
        for effect in effects
    ]
    results += [
        _inner(
            T.MANAGE_BUY_OFFER,
            "manage_buy_offer_result",
            x.ManageBuyOfferResult(
                x.ManageBuyOfferResultCode.MANAGE_BUY_OFFER_SUCCESS,
                x.ManageOfferSuccessResult([], effects[0]),
            ),
        ),
        _inner(
            T.CREATE_PASSIVE_SELL_OFFER,
            "create_passive_sell_offer_result",
            x.ManageSellOfferResult(
                x.ManageSellOfferResultCode.MANAGE_SELL_OFFER_SUCCESS,
                x.ManageOfferSuccessResult([], effects[2]),
            ),
        ),
        _inner(
            T.PATH_PAYMENT_STRICT_SEND,
            "path_payment_strict_send_result",
            x.PathPaymentStrictSendResult(
                x.PathPaymentStrictSendResultCode.PATH_PAYMENT_STRICT_SEND_SUCCESS,
                success=x.PathPaymentStrictSendResultSuccess(every_claim_atom_kind(), last),
            ),
        ),
        _inner(
            T.PATH_PAYMENT_STRICT_RECEIVE,
            "path_payment_strict_receive_result",
            x.PathPaymentStrictReceiveResult(
                x.PathPaymentStrictReceiveResultCode.PATH_PAYMENT_STRICT_RECEIVE_SUCCESS,
                success=x.PathPaymentStrictReceiveResultSuccess([], last),
            ),
        ),
        _inner(
            T.PATH_PAYMENT_STRICT_RECEIVE,
            "path_payment_strict_receive_result",
            x.PathPaymentStrictReceiveResult(
                x.PathPaymentStrictReceiveResultCode.PATH_PAYMENT_STRICT_RECEIVE_NO_ISSUER,
                no_issuer=USD.to_xdr_object(),
            ),
        ),
        _inner(
            T.ACCOUNT_MERGE,
            "account_merge_result",
            x.AccountMergeResult(x.AccountMergeResultCode.ACCOUNT_MERGE_SUCCESS, x.Int64(5)),
        ),
        _inner(
            T.INFLATION,
            "inflation_result",
            x.InflationResult(
                x.InflationResultCode.INFLATION_SUCCESS,
                [x.InflationPayout(_account(A), x.Int64(3)), x.InflationPayout(_account(B), x.Int64(4))],
            ),
        ),
        _inner(
            T.CREATE_CLAIMABLE_BALANCE,
            "create_claimable_balance_result",
            x.CreateClaimableBalanceResult(
                x.CreateClaimableBalanceResultCode.CREATE_CLAIMABLE_BALANCE_SUCCESS,
                balance_id=x.ClaimableBalanceID.from_xdr_bytes(bytes.fromhex(BALANCE_HEX)),
            ),
        ),
        _inner(
            T.INVOKE_HOST_FUNCTION,
            "invoke_host_function_result",
            x.InvokeHostFunctionResult(
                x.InvokeHostFunctionResultCode.INVOKE_HOST_FUNCTION_SUCCESS, success=x.Hash(b"\x09" * 32)
            ),
        ),
        _inner(
            T.INVOKE_HOST_FUNCTION,
            "invoke_host_function_result",
            x.InvokeHostFunctionResult(x.InvokeHostFunctionResultCode.INVOKE_HOST_FUNCTION_TRAPPED),
        ),
        _inner(T.PAYMENT, "payment_result", x.PaymentResult(x.PaymentResultCode.PAYMENT_SUCCESS)),
        _inner(T.PAYMENT, "payment_result", x.PaymentResult(x.PaymentResultCode.PAYMENT_UNDERFUNDED)),
        _inner(
            T.EXTEND_FOOTPRINT_TTL,
            "extend_footprint_ttl_result",
            x.ExtendFootprintTTLResult(x.ExtendFootprintTTLResultCode.EXTEND_FOOTPRINT_TTL_SUCCESS),
        ),
        x.OperationResult(x.OperationResultCode.opBAD_AUTH),
        x.OperationResult(x.OperationResultCode.opNO_ACCOUNT),
    ]
    return results


def _transaction_result(
    code: x.TransactionResultCode, results: list[x.OperationResult] | None
) -> x.TransactionResult:
    T = x.TransactionResultCode
    if code in (T.txSUCCESS, T.txFAILED):
        inner = x.TransactionResultResult(code, results=results)
    else:
        inner = x.TransactionResultResult(code)
    return x.TransactionResult(x.Int64(100), inner, x.TransactionResultExt(0))


def _fee_bump_result(inner: x.TransactionResult, outer: x.TransactionResultCode) -> x.TransactionResult:
    inner_result = x.InnerTransactionResult(
        inner.fee_charged,
        x.InnerTransactionResultResult(inner.result.code, results=inner.result.results),
        x.InnerTransactionResultExt(0),
    )
    pair = x.InnerTransactionResultPair(x.Hash(b"\x05" * 32), inner_result)
    return x.TransactionResult(
        x.Int64(200), x.TransactionResultResult(outer, inner_result_pair=pair), x.TransactionResultExt(0)
    )


def test_every_result_shape_reads_as_the_sdk_path_converts_it() -> None:
    T = x.TransactionResultCode
    results = _operation_results()
    cases = [
        (_transaction_result(T.txSUCCESS, results), False, results),
        (_transaction_result(T.txFAILED, results[:3]), False, results[:3]),
        (_transaction_result(T.txSUCCESS, []), False, []),
        (_transaction_result(T.txBAD_SEQ, None), False, None),
        (
            _fee_bump_result(_transaction_result(T.txSUCCESS, results), T.txFEE_BUMP_INNER_SUCCESS),
            True,
            results,
        ),
        (
            _fee_bump_result(_transaction_result(T.txFAILED, results[5:]), T.txFEE_BUMP_INNER_FAILED),
            True,
            results[5:],
        ),
        (_fee_bump_result(_transaction_result(T.txBAD_AUTH, None), T.txFEE_BUMP_INNER_FAILED), True, None),
    ]
    for result, fee_bump, expected in cases:
        raw = (
            b"\xee" * 32 + result.to_xdr_bytes()
        )  # after the transaction hash, as in a TransactionResultPair
        got = results_at(raw, 32, fee_bump)
        assert got == (None if expected is None else [convert_result(r) for r in expected])


# -- entries ----------------------------------------------------------------------------------------------------
def _entry(data: x.LedgerEntryData, ext: x.LedgerEntryExt | None = None) -> x.LedgerEntry:
    return x.LedgerEntry(x.Uint32(61), data, ext or x.LedgerEntryExt(0))


def _claimable_balance(flags: int | None) -> x.LedgerEntryData:
    predicate = sdk.ClaimPredicate.predicate_or(
        sdk.ClaimPredicate.predicate_before_absolute_time(10), sdk.ClaimPredicate.predicate_unconditional()
    ).to_xdr_object()
    claimants = [
        x.Claimant(x.ClaimantType.CLAIMANT_TYPE_V0, v0=x.ClaimantV0(_account(key), predicate))
        for key in (A, B)
    ]
    ext = (
        x.ClaimableBalanceEntryExt(0)
        if flags is None
        else x.ClaimableBalanceEntryExt(
            1,
            v1=x.ClaimableBalanceEntryExtensionV1(x.ClaimableBalanceEntryExtensionV1Ext(0), x.Uint32(flags)),
        )
    )
    entry = x.ClaimableBalanceEntry(
        x.ClaimableBalanceID.from_xdr_bytes(bytes.fromhex(BALANCE_HEX)),
        claimants,
        LONG.to_xdr_object(),
        x.Int64(123),
        ext,
    )
    return x.LedgerEntryData(x.LedgerEntryType.CLAIMABLE_BALANCE, claimable_balance=entry)


def _pool() -> x.LedgerEntryData:
    params = x.LiquidityPoolConstantProductParameters(USD.to_xdr_object(), LONG.to_xdr_object(), x.Int32(30))
    body = x.LiquidityPoolEntryBody(
        x.LiquidityPoolType.LIQUIDITY_POOL_CONSTANT_PRODUCT,
        constant_product=x.LiquidityPoolEntryConstantProduct(
            params, x.Int64(1), x.Int64(2), x.Int64(3), x.Int64(4)
        ),
    )
    entry = x.LiquidityPoolEntry(x.PoolID(x.Hash(bytes.fromhex(POOL_HEX))), body)
    return x.LedgerEntryData(x.LedgerEntryType.LIQUIDITY_POOL, liquidity_pool=entry)


def test_offer_balance_and_pool_changes_read_as_the_sdk_path_converts_them() -> None:
    C = x.LedgerEntryChangeType
    sponsored = x.LedgerEntryExt(
        1, v1=x.LedgerEntryExtensionV1(x.SponsorshipDescriptor(_account(B)), x.LedgerEntryExtensionV1Ext(0))
    )
    entries = [
        _entry(x.LedgerEntryData(x.LedgerEntryType.OFFER, offer=_offer())),
        _entry(x.LedgerEntryData(x.LedgerEntryType.OFFER, offer=_offer()), sponsored),
        _entry(_claimable_balance(None)),
        _entry(_claimable_balance(1), sponsored),
        _entry(_pool()),
        _entry(_pool(), sponsored),
    ]
    changes = []
    for entry in entries:
        changes.append(x.LedgerEntryChange(C.LEDGER_ENTRY_STATE, state=entry))
        changes.append(x.LedgerEntryChange(C.LEDGER_ENTRY_UPDATED, updated=entry))
    offer_key = x.LedgerKey(x.LedgerEntryType.OFFER, offer=x.LedgerKeyOffer(_account(A), x.Int64(77)))
    changes.append(x.LedgerEntryChange(C.LEDGER_ENTRY_REMOVED, removed=offer_key))
    xdr_changes = x.LedgerEntryChanges(changes)
    raw = b"\xab" * 4 + xdr_changes.to_xdr_bytes()
    assert changes_at(raw, 4) == convert_changes(xdr_changes)


def _liabilities() -> x.Liabilities:
    return x.Liabilities(x.Int64(11), x.Int64(12))


def _account_entry(ext: x.AccountEntryExt) -> x.LedgerEntryData:
    signer = x.Signer(sdk.SignerKey.ed25519_public_key(B).to_xdr_object(), x.Uint32(1))
    entry = x.AccountEntry(
        _account(A),
        x.Int64(1000),
        x.SequenceNumber(x.Int64(5)),
        x.Uint32(2),
        _account(B),
        x.Uint32(0),
        x.String32(b"example.com"),
        x.Thresholds(b"\x01\x00\x00\x00"),
        [signer, signer],
        ext,
    )
    return x.LedgerEntryData(x.LedgerEntryType.ACCOUNT, account=entry)


def _trustline_entry(ext: x.TrustLineEntryExt) -> x.LedgerEntryData:
    entry = x.TrustLineEntry(
        _account(A), LONG.to_trust_line_asset_xdr_object(), x.Int64(3), x.Int64(4), x.Uint32(1), ext
    )
    return x.LedgerEntryData(x.LedgerEntryType.TRUSTLINE, trust_line=entry)


def test_account_and_trustline_extensions_of_every_version_end_where_the_sdk_says() -> None:
    """Accounts and trustlines carry nested extensions (sponsorship ids, v3 sequence info, pool use counts):
    the end of each is computed from the bytes, so an entry following it must still read correctly."""
    v2_ids = [
        x.SponsorshipDescriptor(None),
        x.SponsorshipDescriptor(_account(B)),
        x.SponsorshipDescriptor(None),
    ]

    def account_v1(inner: x.AccountEntryExtensionV1Ext) -> x.AccountEntryExt:
        return x.AccountEntryExt(1, v1=x.AccountEntryExtensionV1(_liabilities(), inner))

    def account_v2(v3: x.AccountEntryExtensionV3 | None) -> x.AccountEntryExt:
        ext = x.AccountEntryExtensionV2Ext(3, v3=v3) if v3 else x.AccountEntryExtensionV2Ext(0)
        v2 = x.AccountEntryExtensionV2(x.Uint32(1), x.Uint32(2), v2_ids, ext)
        return account_v1(x.AccountEntryExtensionV1Ext(2, v2=v2))

    v3 = x.AccountEntryExtensionV3(x.ExtensionPoint(0), x.Uint32(9), x.TimePoint(x.Uint64(10)))
    accounts = [
        x.AccountEntryExt(0),
        account_v1(x.AccountEntryExtensionV1Ext(0)),
        account_v2(None),
        account_v2(v3),
    ]
    trust_v2 = x.TrustLineEntryExtensionV2(x.Int32(3), x.TrustLineEntryExtensionV2Ext(0))
    trustlines = [
        x.TrustLineEntryExt(0),
        x.TrustLineEntryExt(1, v1=x.TrustLineEntryV1(_liabilities(), x.TrustLineEntryV1Ext(0))),
        x.TrustLineEntryExt(1, v1=x.TrustLineEntryV1(_liabilities(), x.TrustLineEntryV1Ext(2, v2=trust_v2))),
    ]
    data = [_account_entry(ext) for ext in accounts] + [_trustline_entry(ext) for ext in trustlines]
    C = x.LedgerEntryChangeType
    changes = [x.LedgerEntryChange(C.LEDGER_ENTRY_UPDATED, updated=_entry(item)) for item in data]
    xdr_changes = x.LedgerEntryChanges(changes)
    raw = xdr_changes.to_xdr_bytes()
    assert changes_at(raw, 0) == convert_changes(xdr_changes)
