"""Strkeys and asset strings: the two ways the service names things on the Stellar network.

Accounts and contracts are strkeys (``G…`` account, ``M…`` muxed account, ``C…`` contract). Assets are
written as one string everywhere (tables, filters, GraphQL, REST): ``native``, ``CODE:ISSUER`` or a contract
id. These helpers are thin over `stellar_sdk.StrKey` so the checksum rules live in one place (the SDK).
"""

from __future__ import annotations

import re

from stellar_sdk import StrKey

NATIVE = "native"

# Stellar asset codes: 1-4 (alphanum4) or 5-12 (alphanum12) ASCII letters and digits.
_ASSET_CODE = re.compile(r"[A-Za-z0-9]{1,12}")


def is_account(value: object) -> bool:
    """A valid ``G…`` account strkey (ed25519 public key)."""
    return isinstance(value, str) and StrKey.is_valid_ed25519_public_key(value)


def is_muxed_account(value: object) -> bool:
    """A valid ``M…`` muxed account strkey."""
    return isinstance(value, str) and StrKey.is_valid_med25519_public_key(value)


def is_contract(value: object) -> bool:
    """A valid ``C…`` contract strkey."""
    return isinstance(value, str) and StrKey.is_valid_contract(value)


def is_address(value: object) -> bool:
    """Anything that can hold or move a balance: a ``G…``, ``M…`` or ``C…`` strkey."""
    return is_account(value) or is_muxed_account(value) or is_contract(value)


def parse_asset(value: object) -> str:
    """The canonical asset string for `value`: ``native``, ``CODE:ISSUER`` or a ``C…`` contract id.

    Asset codes are case-sensitive on Stellar, so the code is kept as written. Raises `ValueError` with a
    message that says which part is wrong.
    """
    if not isinstance(value, str):
        raise ValueError(f"an asset must be a string, not {type(value).__name__}")
    if value == NATIVE:
        return NATIVE
    if is_contract(value):
        return value
    code, sep, issuer = value.partition(":")
    if not sep:
        raise ValueError(f"{value!r} is not an asset: use 'native', 'CODE:ISSUER' or a contract id (C...)")
    if not _ASSET_CODE.fullmatch(code):
        raise ValueError(f"{code!r} is not an asset code (1-12 letters and digits)")
    if not is_account(issuer):
        raise ValueError(f"{issuer!r} is not an issuer account (G...)")
    return f"{code}:{issuer}"


def is_asset(value: object) -> bool:
    """Whether `parse_asset` accepts `value`."""
    try:
        parse_asset(value)
    except ValueError:
        return False
    return True
