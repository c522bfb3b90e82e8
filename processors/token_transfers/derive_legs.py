"""The building block of derived token movements: one leg of classic value moving from a holder to another.

CAP-67 (and stellar/go's token transfer processor, which derives the same events for ledgers that carry
none) names a classic movement by who is on each side of it:

- from the asset's issuer: a ``mint`` (issued assets come into existence when the issuer pays them out);
- to the issuer: a ``burn`` (they cease to exist when they return to it);
- issuer to itself: a ``transfer`` (an issuer may pay itself; no balance changes, CAP-67 still reports it);
- anything else: a ``transfer``. The native asset has no issuer, so it only ever transfers.

Holders are ``G…`` accounts, ``L…`` liquidity pools and ``B…`` claimable balances. Muxed (``M…``) parties
are written as their ``G…`` account, and the destination's muxed id travels in ``to_muxed_id``, as CAP-67
events carry it. An account destination without a muxed id gets the transaction memo there instead (CAP-67:
"to_muxed_id carries the destination's muxed id or the transaction memo"), but only for the operations that
CAP-67 gives one; trades between an operation's source and offer sellers or pools never carry it.
"""

from __future__ import annotations

import struct
from functools import lru_cache

from stellar_sdk import StrKey

from ledgers.model import Operation, Transaction
from processors.token_transfers.assets import NATIVE
from processors.token_transfers.events import Movement

__all__ = [
    "SOROBAN_OPERATIONS",
    "DerivationError",
    "is_soroban",
    "issuer_of",
    "leg",
    "muxed_destination_id",
]

# A Soroban transaction holds exactly one of these operations (and never a classic one).
SOROBAN_OPERATIONS = frozenset({"INVOKE_HOST_FUNCTION", "EXTEND_FOOTPRINT_TTL", "RESTORE_FOOTPRINT"})


class DerivationError(ValueError):
    """The ledger lacks what a successful operation must have left in it (an entry change, a result field).

    Raised rather than guessed: a silently wrong movement would put balances out of step for every tenant.
    """

    def __init__(self, tx: Transaction, op: Operation | None, message: str) -> None:
        where = f"transaction {tx.hash} (index {tx.index})"
        if op is not None:
            where += f", operation {op.index} {op.type}"
        super().__init__(f"{where}: {message}")


def is_soroban(tx: Transaction) -> bool:
    """Whether `tx` is a Soroban transaction (its fee may be partly refunded after it runs)."""
    return any(op.type in SOROBAN_OPERATIONS for op in tx.operations)


def issuer_of(asset: str) -> str | None:
    """The issuer ``G…`` of ``CODE:ISSUER``; None for ``native``."""
    return None if asset == NATIVE else asset.partition(":")[2]


def leg(asset: str, sender: str, receiver: str, amount: int, to_muxed_id: str | None = None) -> Movement:
    """The movement of `amount` of `asset` from `sender` to `receiver` (see the module docstring for its type).

    `to_muxed_id` is kept for a receiver that is an account (transfers and mints), dropped otherwise.
    """
    issuer = issuer_of(asset)
    from_issuer = issuer is not None and sender == issuer
    to_issuer = issuer is not None and receiver == issuer
    if from_issuer and to_issuer:
        return Movement("transfer", sender, receiver, asset, amount, None)
    if from_issuer:
        return Movement("mint", None, receiver, asset, amount, to_muxed_id)
    if to_issuer:
        return Movement("burn", sender, None, asset, amount, None)
    return Movement("transfer", sender, receiver, asset, amount, to_muxed_id)


def muxed_destination_id(tx: Transaction, muxed: str | None) -> str | None:
    """What CAP-67 writes in ``to_muxed_id`` for an account destination: the id of its ``M…`` form when it had
    one, else the transaction memo (an id in decimal, a text as is, a hash in hex), else None."""
    if muxed is not None:
        return _muxed_id(muxed)
    memo = tx.memo
    return None if memo.type == "none" else memo.value


@lru_cache(maxsize=1 << 12)
def _muxed_id(muxed: str) -> str:
    # An M… strkey's payload is the 32-byte ed25519 key followed by the 64-bit id, big-endian.
    payload = StrKey.decode_med25519_public_key(muxed)
    return str(struct.unpack_from(">Q", payload, 32)[0])
