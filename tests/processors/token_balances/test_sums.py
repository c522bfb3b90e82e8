"""Custom-token sums (`processors.token_balances.sums` through the processor's `after_write`) on both backends.

The corpus's amounts stay far below 64 bits, so these rows are written by hand with i128-sized amounts; the
sums must be exact on PostgreSQL (NUMERIC in SQL) and SQLite (sortable text, summed in Python) alike, and
running `after_write` again must change nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select as sql_select

from core.ids import row_id
from processors.token_balances import processor
from processors.token_balances.config import TokenBalanceConfig
from processors.token_balances.table import token_balances, token_balances_tokens
from processors.token_transfers.table import token_transfers
from storage.db import create_engine
from storage.hot_writes import write_rows

TOKEN = "CBIJBDNZNF4X35BJ4FFZWCDBSCKOP5NB4PLG4SNENRMLAPYG4P5FM6VN"
OTHER = "CCA2ZJP5BVRXYTQH4FAGHCAUMRYCXVC4CRYC2NXHWMR7TIVX36U7F5HR"
ALICE = "GA5OR266WLEKOGTH33UQAQMJXIG6ILOIOVOFWRDILFPUUG4PISC4OZTU"
BOB = "GAUA7XL5K54CC2DDGP77FJ2YBHRJLT36CPZDXWPM6MP7MANOGG77PNJU"
BIG = 2**100
CLOSED = datetime(2026, 6, 19, tzinfo=UTC)


def transfer(
    ledger: int,
    index: int,
    kind: str,
    sender: str | None,
    receiver: str | None,
    amount: int,
    asset: str = TOKEN,
    ok: bool = True,
) -> dict[str, Any]:
    return {
        "tenant_id": "t",
        "id": row_id(ledger, 1, 1, index),
        "ledger_sequence": ledger,
        "transaction_index": 1,
        "operation_index": 1,
        "event_index": index,
        "closed_at": CLOSED,
        "tx_hash": "ab" * 32,
        "in_successful_tx": ok,
        "event_type": kind,
        "from": sender,
        "to": receiver,
        "asset": asset,
        "asset_type": "contract",
        "asset_code": None,
        "asset_issuer": None,
        "contract_id": asset,
        "amount_raw": amount,
        "amount": str(amount),
        "decimals": None,
        "to_muxed_id": None,
        "memo": None,
        "memo_type": None,
    }


ROWS = [
    transfer(100, 0, "mint", None, ALICE, 3 * BIG),
    transfer(100, 1, "transfer", ALICE, BOB, BIG + 5),
    transfer(101, 0, "burn", BOB, None, 5),
    transfer(101, 1, "mint", None, BOB, 7, asset=OTHER),
    transfer(102, 0, "transfer", ALICE, BOB, 1, ok=False),  # a failed transaction moves nothing
]


async def balances(engine: Any) -> dict[tuple[str, str], tuple[int, bool, int]]:
    query = sql_select(token_balances).where(token_balances.c.tenant_id == "t")
    async with engine.connect() as conn:
        rows = (await conn.execute(query)).mappings().all()
    return {(r["account_id"], r["asset"]): (r["balance_raw"], r["exact"], r["ledger_sequence"]) for r in rows}


async def run_after_write(
    engine: Any,
    rows: list[dict[str, Any]],
    tokens: Sequence[dict[str, Any]] = (),
    config: TokenBalanceConfig | None = None,
) -> None:
    assert processor.after_write is not None
    async with engine.begin() as conn:
        await write_rows(conn, token_transfers, rows)
        await write_rows(conn, token_balances_tokens, list(tokens))
        tenant_rows = {
            "token_transfers": {"token_transfers": rows},
            "token_balances": {"token_balances_tokens": list(tokens)},
        }
        await processor.after_write(conn, "t", tenant_rows, config or TokenBalanceConfig())


async def test_sums_are_exact_idempotent_and_filtered(migrated_db_url: str) -> None:
    engine = create_engine(migrated_db_url)
    try:
        await run_after_write(engine, ROWS[:2])
        assert await balances(engine) == {
            (ALICE, TOKEN): (2 * BIG - 5, False, 100),
            (BOB, TOKEN): (BIG + 5, False, 100),
        }
        # Later rows, then every row again (a re-ingestion): sums come from what is stored, not from deltas.
        await run_after_write(engine, ROWS[2:])
        await run_after_write(engine, ROWS)
        expected = {
            (ALICE, TOKEN): (2 * BIG - 5, False, 100),
            (BOB, TOKEN): (BIG, False, 101),
            (BOB, OTHER): (7, False, 101),
        }
        assert await balances(engine) == expected
        # The token's creation is seen: its balances become exact, the other token's do not.
        created = {
            "tenant_id": "t",
            "contract_id": TOKEN,
            "created_ledger": 99,
            "ledger_sequence": 99,
            "closed_at": CLOSED,
        }
        await run_after_write(engine, [], [created])
        assert await balances(engine) == {
            key: (value[0], key[1] == TOKEN, value[2]) for key, value in expected.items()
        }
        await run_after_write(engine, ROWS)  # and stays exact when recomputed
        assert (await balances(engine))[(BOB, TOKEN)] == (BIG, True, 101)
    finally:
        await engine.dispose()


async def test_the_tenant_filter_limits_the_pairs(migrated_db_url: str) -> None:
    engine = create_engine(migrated_db_url)
    try:
        await run_after_write(engine, ROWS, config=TokenBalanceConfig(accounts=[BOB], assets=[TOKEN]))
        assert await balances(engine) == {(BOB, TOKEN): (BIG, False, 101)}
    finally:
        await engine.dispose()
