"""The tenant filter of token balances, on hand-made rows."""

from __future__ import annotations

from typing import Any

from stellar_sdk import MuxedAccount

from processors.token_balances import processor
from processors.token_balances.config import TokenBalanceConfig

ALICE = "GAUA7XL5K54CC2DDGP77FJ2YBHRJLT36CPZDXWPM6MP7MANOGG77PNJU"
BOB = "GA5OR266WLEKOGTH33UQAQMJXIG6ILOIOVOFWRDILFPUUG4PISC4OZTU"
USDC = "USDC:GA5ZSEJYB37JRC5AVCIA5MOP4RHTM335X2KGX3IHOJAPP5RE34K4KZVN"
TOKEN = "CBIJBDNZNF4X35BJ4FFZWCDBSCKOP5NB4PLG4SNENRMLAPYG4P5FM6VN"

BALANCES = [
    {"account_id": ALICE, "asset": "native"},
    {"account_id": ALICE, "asset": USDC},
    {"account_id": BOB, "asset": "native"},
]
TOKENS = [{"contract_id": TOKEN}, {"contract_id": "CCA2ZJP5BVRXYTQH4FAGHCAUMRYCXVC4CRYC2NXHWMR7TIVX36U7F5HR"}]


def kept(**config: Any) -> tuple[list[tuple[str, str]], list[str]]:
    assert processor.select is not None
    out = processor.select(
        {"token_balances": BALANCES, "token_balances_tokens": TOKENS},
        TokenBalanceConfig.model_validate(config),
    )
    return (
        [(r["account_id"], r["asset"]) for r in out["token_balances"]],
        [r["contract_id"] for r in out["token_balances_tokens"]],
    )


def test_defaults_keep_everything() -> None:
    assert kept() == ([(ALICE, "native"), (ALICE, USDC), (BOB, "native")], [TOKEN, TOKENS[1]["contract_id"]])


def test_accounts_with_muxed_forms() -> None:
    assert kept(accounts=[MuxedAccount(BOB, 1).account_muxed])[0] == [(BOB, "native")]


def test_assets_filter_balances_and_created_tokens() -> None:
    assert kept(assets=[USDC, TOKEN]) == ([(ALICE, USDC)], [TOKEN])
