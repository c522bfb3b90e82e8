"""`plan_current`: how one batch's history rows and TTL moves fold into current storage (no database)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from core.ids import row_id
from processors.contract_data.current import plan_current

CONTRACT = "CAS3J7GYLGXMF6TDJBBYYSE3HQ6BBSMLNUQ34T6TZMYMW2EVH34XOWMA"
HASH = "ab" * 32
OTHER_HASH = "cd" * 32


def closed(ledger: int) -> datetime:
    return datetime.fromtimestamp(1_750_000_000 + 5 * ledger, UTC)


def history(ledger: int, tx: int, event: int, change: str, **columns: Any) -> dict[str, Any]:
    known = change != "evicted"
    row = {
        "tenant_id": "t",
        "id": row_id(ledger, tx, 1, event),
        "ledger_sequence": ledger,
        "transaction_index": tx,
        "operation_index": 1,
        "event_index": event,
        "closed_at": closed(ledger),
        "contract_id": CONTRACT,
        "key_hash": HASH,
        "change": change,
        "durability": "persistent",
        "key": ["Balance", "G..."] if known else None,
        "key_xdr": "AAAAEA==" if known else None,
        "key_type": "vec" if known else None,
        "key_symbol": "Balance" if known else None,
        "value": {"amount": "5"} if known else None,
        "value_xdr": f"value-at-{ledger}" if known else None,
        "instance_wasm_hash": None,
        "instance_asset": None,
        "live_until_ledger": None,
        "deleted": change in ("removed", "evicted"),
    }
    return row | columns


def move(ledger: int, tx: int, event: int, live_until: int, key_hash: str = HASH) -> dict[str, Any]:
    return {
        "tenant_id": "t",
        "ledger_sequence": ledger,
        "transaction_index": tx,
        "operation_index": 1,
        "event_index": event,
        "closed_at": closed(ledger),
        "key_hash": key_hash,
        "live_until_ledger": live_until,
    }


def test_last_change_wins_and_unknown_ttl_keeps_the_earlier_one() -> None:
    plan = plan_current(
        [
            history(10, 1, 0, "created", live_until_ledger=500),
            history(11, 2, 0, "updated"),  # the TTL was not extended: still 500
        ],
        [],
    )
    (row,) = plan.upserts
    assert row["change"] == "updated" and row["value_xdr"] == "value-at-11"
    assert row["live_until_ledger"] == 500
    assert row["last_change_id"] == row_id(11, 2, 1, 0)
    assert (row["last_change_ledger"], row["ledger_sequence"], row["closed_at"]) == (11, 11, closed(11))
    assert plan.moves == [] and plan.staged is None


def test_eviction_keeps_key_and_value_and_marks_deleted() -> None:
    plan = plan_current(
        [history(10, 1, 0, "updated", live_until_ledger=20), history(30, 1, 0, "evicted")], []
    )
    (row,) = plan.upserts
    assert row["change"] == "evicted" and row["deleted"] is True
    assert row["key_symbol"] == "Balance" and row["value_xdr"] == "value-at-10"
    assert row["live_until_ledger"] == 20


def test_restore_after_removal_is_live_again() -> None:
    plan = plan_current(
        [history(10, 1, 0, "removed"), history(12, 1, 0, "restored", live_until_ledger=900)],
        [],
    )
    (row,) = plan.upserts
    assert (row["change"], row["deleted"], row["live_until_ledger"]) == ("restored", False, 900)


def test_moves_after_a_change_in_the_batch_update_the_planned_row() -> None:
    plan = plan_current(
        [history(10, 1, 0, "updated", live_until_ledger=100)],
        [move(12, 4, 0, 300), move(11, 1, 0, 200)],  # any order in: folded in order-key order
    )
    (row,) = plan.upserts
    assert (row["live_until_ledger"], row["ledger_sequence"], row["closed_at"]) == (300, 12, closed(12))
    assert row["last_change_ledger"] == 10
    assert plan.moves == []
    assert plan.staged == (11, 12)


def test_moves_before_any_change_go_to_stored_rows_last_one_per_key() -> None:
    plan = plan_current(
        [history(13, 1, 0, "updated")],
        [move(11, 1, 0, 200), move(12, 1, 0, 250), move(12, 2, 0, 700, OTHER_HASH)],
    )
    assert {(m["key_hash"], m["live_until_ledger"], m["ledger_sequence"]) for m in plan.moves} == {
        (HASH, 250, 12),
        (OTHER_HASH, 700, 12),
    }
    # The later change does not know the TTL: the stored row, moved first, supplies it (see store).
    (row,) = plan.upserts
    assert row["live_until_ledger"] is None


def test_same_ledger_order_is_the_order_key() -> None:
    plan = plan_current(
        [history(10, 5, 0, "updated", live_until_ledger=50)],
        [move(10, 2, 0, 40), move(10, 7, 3, 60)],
    )
    (row,) = plan.upserts
    assert row["live_until_ledger"] == 60
    assert [m["live_until_ledger"] for m in plan.moves] == [40]
