"""Derived rows: their shape and order on real ledgers, and, on small hand-built transactions, the operations
the corpus never exercises (inflation, pool deposits and withdrawals, claimable balance clawbacks, muxed
destinations) and the rules every derivation shares (mint / burn / transfer legs, memos, fees, errors)."""

from __future__ import annotations

import hashlib
import struct
from pathlib import Path
from typing import Any

import pytest
from stellar_sdk import Asset, Keypair, StrKey
from stellar_sdk import xdr as x

from core.ids import OrderKey, row_id
from ledgers.model import (
    AccountEntry,
    ClaimableBalanceEntry,
    ClaimAtom,
    ContractEvent,
    EntryChange,
    EntryKey,
    LiquidityPoolEntry,
    Memo,
    Operation,
    OperationResult,
    PaymentLast,
    Transaction,
    TransactionEvent,
)
from ledgers.opbodies import (
    ClaimClaimableBalance,
    ClawbackClaimableBalance,
    Inflation,
    LiquidityPoolDeposit,
    LiquidityPoolWithdraw,
    OperationBody,
    PathPaymentStrictSend,
    Payment,
    RestoreFootprint,
    SetTrustLineFlags,
)
from processors.token_transfers.derive import OPERATION_DERIVERS, fee_movements
from processors.token_transfers.derive_balances import revoke_balance_id
from processors.token_transfers.derive_legs import DerivationError, leg, muxed_destination_id
from processors.token_transfers.events import Movement
from processors.token_transfers.table import token_transfers
from tests.processors.token_transfers.derived_facts import file_facts, meta_v2_v3_files, ttp_file

ROW_KEYS = {c.name for c in token_transfers.columns} - {"tenant_id"}
ISSUER = Keypair.random().public_key
ALICE = Keypair.random().public_key
BOB = Keypair.random().public_key
USD = f"USD:{ISSUER}"
POOL = StrKey.encode_liquidity_pool(bytes(range(32)))
BALANCE = StrKey.encode_claimable_balance(b"\x00" + bytes(range(32, 64)))
NO_MEMO = Memo("none", None)


def muxed(account: str, muxed_id: int) -> str:
    return StrKey.encode_med25519_public_key(
        StrKey.decode_ed25519_public_key(account) + struct.pack(">Q", muxed_id)
    )


# -- hand-built transactions ----------------------------------------------------------------------------------
class FakeSource:
    """Serves the lazy parts of hand-built transactions and operations."""

    def __init__(self) -> None:
        self.ops: tuple[Operation, ...] = ()
        self.op_changes: dict[int, tuple[EntryChange, ...]] = {}
        self.tx_changes: dict[str, tuple[EntryChange, ...]] = {}

    def operations(self, tx: Transaction) -> tuple[Operation, ...]:
        return self.ops

    def changes(self, tx: Transaction, part: str) -> tuple[EntryChange, ...]:
        return self.tx_changes.get(part, ())

    def events(self, tx: Transaction) -> tuple[TransactionEvent, ...]:
        return ()

    def soroban_events(self, tx: Transaction) -> tuple[ContractEvent, ...]:
        return ()

    def diagnostic_events(self, tx: Transaction) -> tuple[ContractEvent, ...]:
        return ()

    def return_value(self, tx: Transaction) -> None:
        return None

    def operation_changes(self, op: Operation) -> tuple[EntryChange, ...]:
        return self.op_changes.get(op.index, ())

    def operation_events(self, op: Operation) -> tuple[ContractEvent, ...]:
        return ()


def build(
    op_type: str,
    body: OperationBody,
    *,
    result: OperationResult | None = None,
    source: str = ALICE,
    source_muxed: str | None = None,
    changes: tuple[EntryChange, ...] = (),
    memo: Memo = NO_MEMO,
    tx_changes: dict[str, tuple[EntryChange, ...]] | None = None,
    fee_charged: int = 100,
) -> tuple[Transaction, Operation]:
    """A successful one-operation transaction from `source` and its operation."""
    fake = FakeSource()
    tx = Transaction(
        index=1,
        hash="ab" * 32,
        successful=True,
        result_code="txSUCCESS",
        fee_charged=fee_charged,
        max_fee=1000,
        source_account=source,
        source_muxed=source_muxed,
        fee_account=None,
        fee_muxed=None,
        inner_hash=None,
        memo=memo,
        sequence_number=42,
        meta_version=2,
        operation_count=1,
        _source=fake,
        _raw=None,
    )
    op = Operation(
        index=1,
        type=op_type,
        source_account=source,
        source_muxed=source_muxed,
        body=body,
        result=result or OperationResult(code=f"{op_type}_SUCCESS", successful=True),
        transaction_index=1,
        _source=fake,
        _raw=None,
    )
    fake.ops = (op,)
    fake.op_changes[1] = changes
    fake.tx_changes = tx_changes or {}
    return tx, op


def derive(tx: Transaction, op: Operation) -> list[Movement]:
    return OPERATION_DERIVERS[op.type](tx, op)


def pool_changes(
    before: tuple[int, int] | None, after: tuple[int, int], asset_a: str = "native"
) -> tuple[EntryChange, ...]:
    def entry(reserves: tuple[int, int]) -> LiquidityPoolEntry:
        return LiquidityPoolEntry(POOL, asset_a, USD, reserves[0], reserves[1], 100, 30, 2, 1)

    key = EntryKey("liquidity_pool", pool_id=POOL)
    if before is None:
        return (EntryChange("created", "liquidity_pool", key, entry(after)),)
    return (
        EntryChange("state", "liquidity_pool", key, entry(before)),
        EntryChange("updated", "liquidity_pool", key, entry(after)),
    )


def removed_balance(asset: str, amount: int) -> tuple[EntryChange, ...]:
    key = EntryKey("claimable_balance", balance_id=BALANCE)
    entry = ClaimableBalanceEntry(BALANCE, asset, amount, (ALICE,), 0, 1)
    return (
        EntryChange("state", "claimable_balance", key, entry),
        EntryChange("removed", "claimable_balance", key, None),
    )


# -- legs and memos ---------------------------------------------------------------------------------------------
def test_legs_from_and_to_the_issuer_are_mints_and_burns() -> None:
    assert leg("native", ALICE, BOB, 5, "7") == Movement("transfer", ALICE, BOB, "native", 5, "7")
    assert leg(USD, ALICE, BOB, 5, "7") == Movement("transfer", ALICE, BOB, USD, 5, "7")
    assert leg(USD, ISSUER, BOB, 5, "7") == Movement("mint", None, BOB, USD, 5, "7")
    assert leg(USD, ALICE, ISSUER, 5, "7") == Movement("burn", ALICE, None, USD, 5, None)
    # An issuer paying itself moves nothing, yet CAP-67 reports a transfer (and no muxed id).
    assert leg(USD, ISSUER, ISSUER, 5, "7") == Movement("transfer", ISSUER, ISSUER, USD, 5, None)


@pytest.mark.parametrize(
    ("memo", "muxed_account", "expected"),
    [
        (NO_MEMO, None, None),
        (Memo("id", "12345"), None, "12345"),
        (Memo("text", "hello"), None, "hello"),
        (Memo("hash", "ff" * 32), None, "ff" * 32),
        (Memo("return", "ee" * 32), None, "ee" * 32),
        (Memo("text", "ignored"), muxed(BOB, 2**64 - 1), str(2**64 - 1)),  # the muxed id wins over the memo
    ],
    # Named: BOB is a random key, and the pytest-xdist workers must collect the same ids.
    ids=["no-memo", "id", "text", "hash", "return", "muxed-over-text"],
)
def test_muxed_destination_id(memo: Memo, muxed_account: str | None, expected: str | None) -> None:
    tx, _ = build("PAYMENT", Payment(BOB, muxed_account, "native", 1), memo=memo)
    assert muxed_destination_id(tx, muxed_account) == expected


def test_payment_to_a_muxed_destination() -> None:
    tx, op = build("PAYMENT", Payment(BOB, muxed(BOB, 9), USD, 70), memo=Memo("id", "1"))
    assert derive(tx, op) == [Movement("transfer", ALICE, BOB, USD, 70, "9")]


# -- operations the corpus does not exercise ---------------------------------------------------------------------
def test_inflation_payouts_are_native_mints() -> None:
    result = OperationResult("INFLATION_SUCCESS", True, inflation_payouts=((ALICE, 10), (BOB, 20)))
    tx, op = build("INFLATION", Inflation(), result=result, memo=Memo("id", "3"))
    assert derive(tx, op) == [
        Movement("mint", None, ALICE, "native", 10, None),
        Movement("mint", None, BOB, "native", 20, None),
    ]


def test_pool_deposit_moves_the_reserve_growth_to_the_pool() -> None:
    body = LiquidityPoolDeposit(POOL, 1000, 1000, (1, 2), (2, 1))
    tx, op = build("LIQUIDITY_POOL_DEPOSIT", body, changes=pool_changes((100, 200), (150, 300)))
    assert derive(tx, op) == [
        Movement("transfer", ALICE, POOL, "native", 50, None),
        Movement("transfer", ALICE, POOL, USD, 100, None),
    ]
    # The issuer depositing its own asset mints it into the pool; a new pool starts from empty reserves.
    tx, op = build("LIQUIDITY_POOL_DEPOSIT", body, source=ISSUER, changes=pool_changes(None, (10, 20)))
    assert derive(tx, op) == [
        Movement("transfer", ISSUER, POOL, "native", 10, None),
        Movement("mint", None, POOL, USD, 20, None),
    ]


def test_pool_deposit_without_reserve_growth_is_an_error() -> None:
    body = LiquidityPoolDeposit(POOL, 1000, 1000, (1, 2), (2, 1))
    tx, op = build("LIQUIDITY_POOL_DEPOSIT", body, changes=pool_changes((100, 200), (100, 300)))
    with pytest.raises(DerivationError, match="did not grow both reserves"):
        derive(tx, op)
    tx, op = build("LIQUIDITY_POOL_DEPOSIT", body)
    with pytest.raises(DerivationError, match="expected one liquidity pool change, found 0"):
        derive(tx, op)


def test_pool_withdraw_moves_the_reserve_drop_to_the_muxed_source() -> None:
    body = LiquidityPoolWithdraw(POOL, 10, 0, 0)
    tx, op = build(
        "LIQUIDITY_POOL_WITHDRAW",
        body,
        source_muxed=muxed(ALICE, 4),
        changes=pool_changes((100, 200), (100, 150)),
    )
    # Rounding may leave one side at zero: the zero movement is still reported (as stellar/go does).
    assert derive(tx, op) == [
        Movement("transfer", POOL, ALICE, "native", 0, "4"),
        Movement("transfer", POOL, ALICE, USD, 50, "4"),
    ]


def test_claimable_balance_claim_and_clawback() -> None:
    tx, op = build(
        "CLAIM_CLAIMABLE_BALANCE",
        ClaimClaimableBalance(BALANCE),
        source_muxed=muxed(ALICE, 8),
        changes=removed_balance(USD, 33),
    )
    assert derive(tx, op) == [Movement("transfer", BALANCE, ALICE, USD, 33, "8")]
    tx, op = build(
        "CLAWBACK_CLAIMABLE_BALANCE",
        ClawbackClaimableBalance(BALANCE),
        source=ISSUER,
        changes=removed_balance(USD, 33),
    )
    assert derive(tx, op) == [Movement("clawback", BALANCE, None, USD, 33, None)]
    tx, op = build("CLAWBACK_CLAIMABLE_BALANCE", ClawbackClaimableBalance(BALANCE), source=ISSUER)
    with pytest.raises(DerivationError, match="expected one removed claimable balance, found 0"):
        derive(tx, op)


def test_path_payment_legs_through_an_offer_and_a_pool() -> None:
    atoms = (
        ClaimAtom("order_book", BOB, 77, None, USD, 40, "native", 100),  # BOB sold 40 USD for 100 XLM
        ClaimAtom("liquidity_pool", None, None, POOL, "EUR:" + BOB, 30, USD, 40),
    )
    result = OperationResult(
        "PATH_PAYMENT_STRICT_SEND_SUCCESS", True, claim_atoms=atoms, last=PaymentLast(BOB, "EUR:" + BOB, 30)
    )
    body = PathPaymentStrictSend("native", 100, BOB, None, "EUR:" + BOB, 1, (USD,))
    tx, op = build("PATH_PAYMENT_STRICT_SEND", body, result=result, memo=Memo("text", "hi"))
    assert derive(tx, op) == [
        Movement("transfer", ALICE, BOB, "native", 100, None),  # the taker pays the seller first (as core)
        Movement("transfer", BOB, ALICE, USD, 40, None),
        Movement("transfer", ALICE, POOL, USD, 40, None),
        Movement("transfer", POOL, ALICE, "EUR:" + BOB, 30, None),
        Movement(
            "burn", ALICE, None, "EUR:" + BOB, 30, None
        ),  # paid to its issuer: burned; no memo on a burn
    ]


def test_revocation_moves_a_pool_position_into_claimable_balances() -> None:
    # The issuer of USD revokes BOB's USD trustline: BOB's share of each pool holding USD leaves the pool.
    def created(asset: str, amount: int, tx: Transaction, op: Operation) -> EntryChange:
        balance_id = revoke_balance_id(tx, op, POOL, asset)
        entry = ClaimableBalanceEntry(balance_id, asset, amount, (BOB,), 0, 1)
        key = EntryKey("claimable_balance", balance_id=balance_id)
        return EntryChange("created", "claimable_balance", key, entry)

    body = SetTrustLineFlags(BOB, USD, 1, 0)
    tx, op = build("SET_TRUST_LINE_FLAGS", body, source=ISSUER)
    native_cb, usd_cb = created("native", 30, tx, op), created(USD, 60, tx, op)
    pool = pool_changes((100, 200), (70, 140))
    tx, op = build("SET_TRUST_LINE_FLAGS", body, source=ISSUER, changes=(*pool, native_cb, usd_cb))
    assert derive(tx, op) == [
        Movement("transfer", POOL, native_cb.key.balance_id, "native", 30, None),
        Movement("transfer", POOL, usd_cb.key.balance_id, USD, 60, None),
    ]
    # BOB issues the pool's other asset: that part goes back to BOB rather than into a balance, so is burned.
    eur = f"EUR:{BOB}"
    pool = pool_changes((100, 200), (70, 140), asset_a=eur)
    tx, op = build("SET_TRUST_LINE_FLAGS", body, source=ISSUER, changes=(*pool, usd_cb))
    assert derive(tx, op) == [
        Movement("transfer", POOL, usd_cb.key.balance_id, USD, 60, None),
        Movement("burn", POOL, None, eur, 30, None),
    ]
    # No pool position: deauthorizing freezes the trustline and moves nothing.
    tx, op = build("SET_TRUST_LINE_FLAGS", body, source=ISSUER)
    assert derive(tx, op) == []


# -- fees --------------------------------------------------------------------------------------------------------
def account_changes(account: str, before: int, after: int) -> tuple[EntryChange, ...]:
    def entry(balance: int) -> AccountEntry:
        return AccountEntry(account, balance, 1, 0, 0, 0, 0, "", 1)

    key = EntryKey("account", account_id=account)
    return (
        EntryChange("state", "account", key, entry(before)),
        EntryChange("updated", "account", key, entry(after)),
    )


def test_classic_fee_is_fee_charged_and_soroban_fee_is_charge_then_refund() -> None:
    tx, _ = build("PAYMENT", Payment(BOB, None, "native", 1), fee_charged=300)
    assert fee_movements(tx) == [Movement("fee", ALICE, None, "native", 300, None)]
    charge = account_changes(ALICE, 10_000, 9_000)
    refund = account_changes(ALICE, 9_000, 9_400)
    tx, _ = build(
        "RESTORE_FOOTPRINT", RestoreFootprint(), fee_charged=600, tx_changes={"fee": charge, "after": refund}
    )
    assert fee_movements(tx) == [
        Movement("fee", ALICE, None, "native", 1000, None),
        Movement("fee", ALICE, None, "native", -400, None),
    ]
    # LCM v2 (protocol 23+) applies the refund after all transactions instead.
    tx, _ = build(
        "RESTORE_FOOTPRINT",
        RestoreFootprint(),
        fee_charged=600,
        tx_changes={"fee": charge, "post_apply_fee": refund},
    )
    assert [m.amount for m in fee_movements(tx)] == [1000, -400]


# -- CAP-38 revocation balance ids -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "asset", ["native", USD, f"LONGERCODE12:{ISSUER}"], ids=["native", "alphanum4", "alphanum12"]
)  # named: ISSUER is a random key, and the pytest-xdist workers must collect the same ids
def test_revoke_balance_id_is_the_hash_of_the_xdr_preimage(asset: str) -> None:
    tx, op = build("SET_TRUST_LINE_FLAGS", SetTrustLineFlags(BOB, asset, 1, 0), source=ISSUER)
    sdk_asset = Asset.native() if asset == "native" else Asset(*asset.split(":"))
    preimage = x.HashIDPreimage(
        x.EnvelopeType.ENVELOPE_TYPE_POOL_REVOKE_OP_ID,
        revoke_id=x.HashIDPreimageRevokeID(
            source_account=Keypair.from_public_key(ISSUER).xdr_account_id(),  # the transaction's source
            seq_num=x.SequenceNumber(x.Int64(42)),
            op_num=x.Uint32(0),
            liquidity_pool_id=x.PoolID(x.Hash(StrKey.decode_liquidity_pool(POOL))),
            asset=sdk_asset.to_xdr_object(),
        ),
    )
    expected = StrKey.encode_claimable_balance(b"\x00" + hashlib.sha256(preimage.to_xdr_bytes()).digest())
    assert revoke_balance_id(tx, op, POOL, asset) == expected


# -- rows on real ledgers ------------------------------------------------------------------------------------------
def derived_ledgers(root: Path) -> list[Any]:
    return [facts for relative in meta_v2_v3_files(root) for facts in file_facts(root, relative)]


def test_rows_have_the_table_columns_and_ordered_unique_ids(shared_ledgers: Path) -> None:
    for facts in derived_ledgers(shared_ledgers):
        keys = []
        for row in facts.derived:
            assert set(row) == ROW_KEYS
            assert row["decimals"] == 7 and row["asset_type"] != "contract"
            whole, _, fraction = row["amount"].lstrip("-").partition(".")
            assert len(fraction) == 7 and int(whole + fraction) == abs(row["amount_raw"])
            assert (row["operation_index"] == 0) == (row["event_type"] == "fee")
            keys.append(
                (row["ledger_sequence"], row["transaction_index"], row["operation_index"], row["event_index"])
            )
            assert row["id"] == row_id(*keys[-1])
        assert keys == sorted(keys) and len(set(keys)) == len(keys), facts.file
        assert [OrderKey(*k).id for k in keys] == sorted(r["id"] for r in facts.derived)


def test_failed_transactions_pay_fees_only_and_event_indexes_run_per_transaction(
    shared_ledgers: Path,
) -> None:
    failed_seen = 0
    for facts in derived_ledgers(shared_ledgers):
        by_tx: dict[str, list[dict[str, Any]]] = {}
        for row in facts.derived:
            by_tx.setdefault(row["tx_hash"], []).append(row)
        assert set(by_tx) == set(facts.fee_charged)  # every transaction pays
        for tx_hash, rows in by_tx.items():
            assert [r["event_index"] for r in rows] == list(range(len(rows)))  # fees first, then operations
            assert rows[0]["event_type"] == "fee"
            assert all(r["in_successful_tx"] == facts.successful[tx_hash] for r in rows)
            if not facts.successful[tx_hash]:
                failed_seen += 1
                assert {r["event_type"] for r in rows} == {"fee"}
    assert failed_seen > 100


def test_pre_protocol_8_lumen_fix_is_a_mint_before_the_operation_rows(shared_ledgers: Path) -> None:
    # 9652679 (protocol 4): merging an account twice in one transaction credited the destination twice.
    (facts,) = file_facts(shared_ledgers, ttp_file(9652679))
    third = [(r["event_type"], r["amount_raw"]) for r in facts.derived if r["operation_index"] == 3]
    assert third == [("mint", 301837715906081), ("transfer", 301837715906081)]
