"""Field types shared by the processors' config models.

Each type checks one Stellar notion with `ledgers.strkeys` and fails with a short, fixed message (raised as
`PydanticCustomError`, so pydantic shows it as written) that the tenant config loader prints after the path
of the bad key, e.g. ``customer.processors[1].config.contracts[0]: not a contract address``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Annotated

from pydantic import AfterValidator, ConfigDict, PlainValidator, WithJsonSchema
from pydantic_core import PydanticCustomError

from ledgers.strkeys import is_account, is_address, is_contract, is_muxed_account, parse_asset

# Every processor config model uses this: unknown keys are errors, configs are shared read-only, and the
# attribute docstrings become field descriptions (shown in discovery and OpenAPI).
CONFIG_MODEL_CONFIG = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


def _check(error_type: str, message: str, ok: Callable[[str], bool]) -> Callable[[str], str]:
    def validate(value: str) -> str:
        if not ok(value):
            raise PydanticCustomError(error_type, message)
        return value

    return validate


def _asset(value: str) -> str:
    try:
        return parse_asset(value)
    except ValueError:
        raise PydanticCustomError("asset", "not an asset (native, CODE:ISSUER or a contract id)") from None


_AMOUNT_DIGITS = 39


def _raw_amount(value: object) -> str:
    # i128 token amounts do not fit 64 bits, so amounts stay digit strings; bool is an int subclass
    # in Python but never an amount.
    text: str | None = None
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        text = str(value)
    elif isinstance(value, str) and value.isascii() and value.isdigit():
        # Canonical form without leading zeros; not int(), which refuses strings over 4300 digits.
        text = value.lstrip("0") or "0"
    if text is None:
        raise PydanticCustomError("raw_amount", 'not a raw amount (a non-negative integer, e.g. "1000000")')
    if len(text) > _AMOUNT_DIGITS:
        # Amounts are stored as NUMERIC(39,0), which holds every i128/u128 value: a longer one matches nothing.
        raise PydanticCustomError("raw_amount", f"not a raw amount (at most {_AMOUNT_DIGITS} digits)")
    return text


AccountAddress = Annotated[
    str,
    AfterValidator(
        _check("account_address", "not an account address", lambda v: is_account(v) or is_muxed_account(v))
    ),
]
"""A ``G…`` or ``M…`` account strkey."""

ContractAddress = Annotated[
    str, AfterValidator(_check("contract_address", "not a contract address", is_contract))
]
"""A ``C…`` contract strkey."""

Address = Annotated[
    str, AfterValidator(_check("address", "not an address (G..., M... or C... strkey)", is_address))
]
"""Any holder of a balance: a ``G…``, ``M…`` or ``C…`` strkey."""

AssetId = Annotated[str, AfterValidator(_asset)]
"""``native``, ``CODE:ISSUER`` or a contract id, stored in canonical form."""

RawAmount = Annotated[
    str,
    PlainValidator(_raw_amount),
    WithJsonSchema({"type": "string", "pattern": r"^[0-9]+$", "description": "raw integer amount"}),
]
"""A non-negative integer amount in raw units of any size, given as an int or a digit string, kept as str."""

_PAIR_MESSAGE = "not a pair (BASE/COUNTER, e.g. native/USDC:G...)"


def _pair(value: str) -> str:
    base, sep, counter = value.partition("/")
    if not sep:
        raise PydanticCustomError("asset_pair", _PAIR_MESSAGE)
    try:
        return f"{parse_asset(base)}/{parse_asset(counter)}"
    except ValueError:
        raise PydanticCustomError("asset_pair", _PAIR_MESSAGE) from None


AssetPair = Annotated[str, AfterValidator(_pair)]
"""``BASE/COUNTER`` where each side is an asset string (asset strings never contain ``/``)."""

_SYMBOL = re.compile(r"[A-Za-z0-9_]{1,32}")


def _symbol(value: str) -> str:
    if not _SYMBOL.fullmatch(value):
        raise PydanticCustomError("symbol", "not a Soroban symbol (1-32 letters, digits or _)")
    return value


Symbol = Annotated[str, AfterValidator(_symbol)]
"""A Soroban `Symbol`: 1-32 characters from ``[A-Za-z0-9_]``."""
