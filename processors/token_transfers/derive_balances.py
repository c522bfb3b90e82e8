"""Derived movements of value parked outside accounts: claimable balances (``B…``), liquidity pools (``L…``),
clawbacks, and trustline revocations that empty a pool position into claimable balances.

Claimable balances and pools are holders of their own (CAP-67): creating a balance is a transfer to its
``B…`` id, claiming it a transfer from there; a pool deposit is a transfer to the ``L…`` id. Where the
operation does not state the amount (a claim names only the balance id; a deposit gives maximums), it is read
from the operation's entry changes: the removed balance entry, or the change of the pool's reserves.
"""

from __future__ import annotations

import hashlib
import struct
from functools import lru_cache
from typing import NamedTuple

from stellar_sdk import StrKey

from ledgers.model import (
    ClaimableBalanceEntry,
    EntryDiff,
    LiquidityPoolEntry,
    Operation,
    Transaction,
    pair_changes,
)
from ledgers.opbodies import Clawback, CreateClaimableBalance
from processors.token_transfers.assets import NATIVE
from processors.token_transfers.derive_legs import DerivationError, leg, muxed_destination_id
from processors.token_transfers.events import Movement

__all__ = [
    "claim_claimable_balance",
    "clawback",
    "clawback_claimable_balance",
    "create_claimable_balance",
    "pool_deposit",
    "pool_withdraw",
    "revocation",
    "revoke_balance_id",
]


class PoolDelta(NamedTuple):
    """How much of each of its assets a pool gained or lost in one operation (absolute amounts)."""

    pool_id: str
    asset_a: str
    asset_b: str
    amount_a: int
    amount_b: int


def _diffs(op: Operation, entry_type: str) -> list[EntryDiff]:
    return [diff for diff in pair_changes(op.changes) if diff.key.entry_type == entry_type]


def _removed_balance(tx: Transaction, op: Operation) -> ClaimableBalanceEntry:
    """The claimable balance an operation consumed (claimed or clawed back): its removed entry."""
    removed = [d.before for d in _diffs(op, "claimable_balance") if d.after is None]
    if len(removed) != 1 or not isinstance(removed[0], ClaimableBalanceEntry):
        raise DerivationError(tx, op, f"expected one removed claimable balance, found {len(removed)}")
    return removed[0]


def _pool_deltas(op: Operation) -> list[PoolDelta]:
    """The reserve changes of every pool the operation touched, in change order."""
    out = []
    for diff in _diffs(op, "liquidity_pool"):
        before, after = diff.before, diff.after
        known = after if after is not None else before
        assert isinstance(known, LiquidityPoolEntry)
        before_a = before.reserve_a if isinstance(before, LiquidityPoolEntry) else 0
        before_b = before.reserve_b if isinstance(before, LiquidityPoolEntry) else 0
        after_a = after.reserve_a if isinstance(after, LiquidityPoolEntry) else 0
        after_b = after.reserve_b if isinstance(after, LiquidityPoolEntry) else 0
        out.append(
            PoolDelta(
                known.pool_id, known.asset_a, known.asset_b, abs(after_a - before_a), abs(after_b - before_b)
            )
        )
    return out


def _single_pool(tx: Transaction, op: Operation) -> PoolDelta:
    deltas = _pool_deltas(op)
    if len(deltas) != 1:
        raise DerivationError(tx, op, f"expected one liquidity pool change, found {len(deltas)}")
    return deltas[0]


# -- claimable balances and clawbacks ---------------------------------------------------------------------------
def create_claimable_balance(tx: Transaction, op: Operation) -> list[Movement]:
    """The amount moves from the source to the new balance's ``B…`` id (from the result)."""
    body = op.body
    assert isinstance(body, CreateClaimableBalance)
    balance_id = op.result.balance_id if op.result is not None else None
    if balance_id is None:
        raise DerivationError(tx, op, "a created claimable balance without its id in the result")
    return [leg(body.asset, op.source_account, balance_id, body.amount)]


def claim_claimable_balance(tx: Transaction, op: Operation) -> list[Movement]:
    """The whole balance moves from its ``B…`` id to the claimant (the operation's source)."""
    entry = _removed_balance(tx, op)
    muxed_id = muxed_destination_id(tx, op.source_muxed)
    return [leg(entry.asset, entry.balance_id, op.source_account, entry.amount, muxed_id)]


def clawback(tx: Transaction, op: Operation) -> list[Movement]:
    """The issuer takes `amount` back from the holder's trustline."""
    body = op.body
    assert isinstance(body, Clawback)
    return [Movement("clawback", body.from_account, None, body.asset, body.amount, None)]


def clawback_claimable_balance(tx: Transaction, op: Operation) -> list[Movement]:
    """The issuer takes a whole claimable balance back."""
    entry = _removed_balance(tx, op)
    return [Movement("clawback", entry.balance_id, None, entry.asset, entry.amount, None)]


# -- liquidity pools --------------------------------------------------------------------------------------------
def pool_deposit(tx: Transaction, op: Operation) -> list[Movement]:
    """Both assets move from the source to the pool, by the amounts its reserves grew."""
    delta = _single_pool(tx, op)
    if delta.amount_a <= 0 or delta.amount_b <= 0:
        raise DerivationError(tx, op, f"a deposit into {delta.pool_id} that did not grow both reserves")
    source = op.source_account
    return [
        leg(delta.asset_a, source, delta.pool_id, delta.amount_a),
        leg(delta.asset_b, source, delta.pool_id, delta.amount_b),
    ]


def pool_withdraw(tx: Transaction, op: Operation) -> list[Movement]:
    """Both assets move from the pool to the source, by the amounts its reserves shrank (rounding may make
    one of them zero: the movement is still reported, as stellar/go does)."""
    delta = _single_pool(tx, op)
    source = op.source_account
    muxed_id = muxed_destination_id(tx, op.source_muxed)
    return [
        leg(delta.asset_a, delta.pool_id, source, delta.amount_a, muxed_id),
        leg(delta.asset_b, delta.pool_id, source, delta.amount_b, muxed_id),
    ]


# -- trustline revocations ----------------------------------------------------------------------------------------
def revocation(tx: Transaction, op: Operation) -> list[Movement]:
    """AllowTrust / SetTrustLineFlags that deauthorize a trustline whose owner holds pool shares (CAP-38):
    the owner's part of each such pool is withdrawn into claimable balances, one per pool asset.

    Nothing links a created balance to its pool in the meta, so, like stellar/go, the balance ids each pool
    would produce are recomputed (`revoke_balance_id`) and matched against the balances created. A pool
    asset without a balance went back to its issuer (the trustor issues it): that part is burned.
    """
    deltas = _pool_deltas(op)
    if not deltas:
        return []  # no pool position: revoking authorization freezes a balance, it moves nothing
    created = {
        entry.balance_id: entry
        for diff in _diffs(op, "claimable_balance")
        if diff.before is None and isinstance(entry := diff.after, ClaimableBalanceEntry)
    }
    if not created:
        return []  # the pools held nothing to withdraw
    out: list[Movement] = []
    for delta in deltas:
        mine = [
            created[balance_id]
            for asset in (delta.asset_a, delta.asset_b)
            if (balance_id := revoke_balance_id(tx, op, delta.pool_id, asset)) in created
        ]
        if len(mine) == 2:
            out.extend(leg(entry.asset, delta.pool_id, entry.balance_id, entry.amount) for entry in mine)
        elif len(mine) == 1:
            (entry,) = mine
            out.append(leg(entry.asset, delta.pool_id, entry.balance_id, entry.amount))
            burned, amount = (
                (delta.asset_b, delta.amount_b)
                if entry.asset == delta.asset_a
                else (delta.asset_a, delta.amount_a)
            )
            out.append(Movement("burn", delta.pool_id, None, burned, amount, None))
    return out


def revoke_balance_id(tx: Transaction, op: Operation, pool_id: str, asset: str) -> str:
    """The ``B…`` id of the claimable balance a revocation creates for `asset` of `pool_id` (CAP-38): the
    sha256 of the XDR ``HashIDPreimage`` ``ENVELOPE_TYPE_POOL_REVOKE_OP_ID`` of the transaction's source
    account and sequence number, the 0-based operation index, the pool and the asset."""
    return _revoke_balance_id(tx.source_account, tx.sequence_number, op.index - 1, pool_id, asset)


_ENVELOPE_TYPE_POOL_REVOKE_OP_ID = 7


@lru_cache(maxsize=1 << 10)
def _revoke_balance_id(source: str, sequence: int, op_number: int, pool_id: str, asset: str) -> str:
    # Encoded by hand (XDR is big-endian, 4-byte aligned) so that processors stay off stellar_sdk.xdr.
    preimage = b"".join(
        (
            struct.pack(">i", _ENVELOPE_TYPE_POOL_REVOKE_OP_ID),
            _account_id_xdr(source),
            struct.pack(">qI", sequence, op_number),
            StrKey.decode_liquidity_pool(pool_id),
            _asset_xdr(asset),
        )
    )
    return StrKey.encode_claimable_balance(b"\x00" + hashlib.sha256(preimage).digest())


def _account_id_xdr(account: str) -> bytes:
    return struct.pack(">i", 0) + StrKey.decode_ed25519_public_key(account)  # PUBLIC_KEY_TYPE_ED25519


def _asset_xdr(asset: str) -> bytes:
    if asset == NATIVE:
        return struct.pack(">i", 0)
    code, _, issuer = asset.partition(":")
    raw = code.encode("ascii")
    # Codes of 1-4 characters are alphanum4 (type 1), 5-12 alphanum12 (type 2), zero-padded.
    kind, width = (1, 4) if len(raw) <= 4 else (2, 12)
    return struct.pack(">i", kind) + raw.ljust(width, b"\x00") + _account_id_xdr(issuer)
