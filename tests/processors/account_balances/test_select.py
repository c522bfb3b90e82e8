"""The tenant filter of account balances, one kind at a time, on hand-made rows."""

from __future__ import annotations

from typing import Any

from stellar_sdk import MuxedAccount

from processors.account_balances import processor
from processors.account_balances.config import AccountBalanceConfig

ALICE = "GAUA7XL5K54CC2DDGP77FJ2YBHRJLT36CPZDXWPM6MP7MANOGG77PNJU"
BOB = "GA5OR266WLEKOGTH33UQAQMJXIG6ILOIOVOFWRDILFPUUG4PISC4OZTU"
POOL_CONTRACT = "CAGOOH5P5ZOUYSN6VWG5RETE4Y2WJKWJBP2QAKUUBCVGVSX5WWDG3MC5"
BALANCE_ID = "BAAFJJN7RFWHAVSQN6SCRAFNARBZQQIICSLBC6SIIV7D7MH73Y26YJZCTI"
USDC = "USDC:GA5ZSEJYB37JRC5AVCIA5MOP4RHTM335X2KGX3IHOJAPP5RE34K4KZVN"


def row(
    index: int,
    holder: str,
    asset: str,
    source: str,
    balance: int,
    previous: int | None = None,
    deleted: bool = False,
    claimants: list[str] | None = None,
) -> dict[str, Any]:
    return {
        "event_index": index,
        "account_id": holder,
        "asset": asset,
        "source": source,
        "balance_raw": balance,
        "previous_balance_raw": previous,
        "deleted": deleted,
        "claimants": claimants,
    }


HISTORY = [
    row(0, ALICE, "native", "account", 50_000_000, 60_000_000),
    row(1, ALICE, USDC, "trustline", 5, 2_000_000_000),  # dropped below any threshold
    row(2, BOB, "native", "account", 10, 11),
    row(3, BALANCE_ID, USDC, "claimable_balance", 0, 700, deleted=True, claimants=[BOB]),
    row(4, POOL_CONTRACT, "native", "contract", 3_000_000_000, None),
    row(5, BOB, USDC, "trustline", 0, 0, deleted=True),
]
# The current rows are parallel to the history rows; tagging them shows which ones travel together.
CURRENT = [{"current_of": r["event_index"]} for r in HISTORY]


def kept(**config: Any) -> list[int]:
    assert processor.select is not None
    selected = processor.select(
        {"account_balances": HISTORY, "account_balances_current": CURRENT},
        AccountBalanceConfig.model_validate(config),
    )
    history = [r["event_index"] for r in selected["account_balances"]]
    assert [r["current_of"] for r in selected["account_balances_current"]] == history
    return history


def test_defaults_keep_all_but_claimable_balances() -> None:
    assert kept() == [0, 1, 2, 4, 5]


def test_trustlines_and_claimable_balances_switches() -> None:
    assert kept(track_trustlines=False) == [0, 2, 4]
    assert kept(include_claimable_balances=True) == [0, 1, 2, 3, 4, 5]


def test_accounts_match_holders_muxed_forms_and_claimants() -> None:
    muxed_bob = MuxedAccount(BOB, 7).account_muxed
    assert kept(accounts=[ALICE]) == [0, 1]
    assert kept(accounts=[POOL_CONTRACT]) == [4]
    assert kept(accounts=[muxed_bob], include_claimable_balances=True) == [2, 3, 5]


def test_assets() -> None:
    assert kept(assets=["native"]) == [0, 2, 4]
    assert kept(assets=[USDC], include_claimable_balances=True) == [1, 3, 5]


def test_min_balance_keeps_crossings_and_deletions() -> None:
    # 1 XLM = 10,000,000 stroops: Alice's native stays above, her USDC dropped from above (kept so the current
    # table does not keep the old balance), Bob's tiny native balance is dropped, deletions always stay.
    assert kept(min_balance=10_000_000) == [0, 1, 4, 5]
    assert kept(min_balance="0") == kept()


def test_input_rows_are_shared_not_copied_or_changed() -> None:
    before = [dict(r) for r in HISTORY]
    assert processor.select is not None
    out = processor.select(
        {"account_balances": HISTORY, "account_balances_current": CURRENT}, AccountBalanceConfig()
    )
    assert HISTORY == before and out["account_balances"] is not HISTORY
    assert all(
        a is b for a, b in zip(out["account_balances"], [HISTORY[i] for i in (0, 1, 2, 4, 5)], strict=True)
    )
