"""Canonical pair orientation and the decimal form of exact prices."""

from __future__ import annotations

from processors.dex_trades.pairs import canonical_pair, decimal_text, pair_assets, reduced

USDC = "USDC:GA5ZSEJYB37JRC5AVCIA5MOP4RHTM335X2KGX3IHOJAPP5RE34K4KZVN"
EURC = "EURC:GDHU6WRG4IEQXM5NZ4BMPKOXHW76MZM4Y2IEMFDVXBSDP6SJY4ITNPP2"
TOKEN = "CAS3J7GYLGXMF6TDJBBYYSE3HQ6BBSMLNUQ34T6TZMYMW2EVH34XOWMA"


def test_native_is_always_the_base() -> None:
    assert canonical_pair(USDC, "native") == canonical_pair("native", USDC) == f"native/{USDC}"
    assert canonical_pair(TOKEN, "native") == f"native/{TOKEN}"


def test_other_pairs_are_in_code_point_order() -> None:
    assert canonical_pair(USDC, EURC) == canonical_pair(EURC, USDC) == f"{EURC}/{USDC}"
    assert canonical_pair(USDC, TOKEN) == f"{TOKEN}/{USDC}"  # "C…" < "U…"
    assert pair_assets(f"{EURC}/{USDC}") == (EURC, USDC)


def test_reduced() -> None:
    assert reduced(10, 4) == (5, 2)
    assert reduced(0, 7) == (0, 1)
    assert reduced(3, 0) is None


def test_decimal_text() -> None:
    assert decimal_text(1, 8) == "0.125"
    assert decimal_text(4, 2) == "2"
    assert decimal_text(100, 1) == "100"
    assert decimal_text(0, 5) == "0"
    assert decimal_text(1, 3) == "0.33333333333333333333"  # 20 significant digits
    assert decimal_text(2, 3) == "0.66666666666666666667"  # rounded half-even
    assert decimal_text(1, 10**15) == "0.000000000000001"  # plain notation, never 1E-15
    assert decimal_text(9223372036854775807, 1) == "9223372036854775807"
    assert decimal_text(10**25, 1) == "10000000000000000000000000"
