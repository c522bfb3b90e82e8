"""The answers both APIs share beyond plain listings: pair stats (from candles and from trades, which must
agree) and token balances summed from stored transfers, checked against sums done here by hand."""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from core.errors import BadRequest
from processors.dex_volume import pair_stats as pair_stats_module
from processors.dex_volume.config import ALL_INTERVALS
from processors.dex_volume.pair_stats import Candles, decompose, pair_stats
from processors.dex_volume.volume import INTERVAL_SECONDS
from processors.registry import default_registry
from processors.token_transfers.balances import balances_from_transfers
from storage.db import create_engine
from storage.export_rows import iter_tenant_rows
from storage.hot_writes import write_rows
from storage.router import QueryRouter
from tests.mainnet_data import FULL, MainnetData

ISSUER = "GA5ZSEJYB37JRC5AVCIA5MOP4RHTM335X2KGX3IHOJAPP5RE34K4KZVN"


async def _rows(engine: Any, table_name: str) -> list[dict[str, Any]]:
    table = next(t for p in default_registry().catalogue().values() for t in p.tables if t.name == table_name)
    rows: list[dict[str, Any]] = []
    async for chunk in iter_tenant_rows(engine, table, FULL):
        rows.extend(chunk)
    return rows


def test_pair_stats_from_candles_equal_stats_from_trades(mainnet_data: MainnetData) -> None:
    """On windows cut anywhere (mid-minute, mid-hour), from any kept intervals: candles plus edge trades give
    exactly the stats of the window's trades, which are checked against sums made here."""
    trades = asyncio.run(_read(mainnet_data.url, "dex_trades"))
    first, last = trades[0]["closed_at"], trades[-1]["closed_at"]
    middle = trades[len(trades) // 2]["closed_at"]
    busiest = [pair for pair, _ in Counter(t["pair"] for t in trades).most_common(5)]
    base, counter = busiest[0].split("/")
    asked = [*busiest, f"{counter}/{base}", f"native/NOTRADES:{ISSUER}"]
    windows = [
        (first - timedelta(days=400), last + timedelta(days=400)),  # everything, mostly whole days
        (middle - timedelta(seconds=1), last),  # starts a second before a trade, mid-minute
        (first + timedelta(seconds=7), middle + timedelta(seconds=31)),
        (middle, middle),  # one instant
    ]

    async def work() -> list[tuple[Any, ...]]:
        engine = create_engine(mainnet_data.url)
        try:
            router = QueryRouter(engine)
            out = []
            for since, until in windows:
                for kept in (ALL_INTERVALS, ("1h",), ("5m", "1d")):
                    got = await pair_stats(
                        router, FULL, asked, since=since, until=until, candles=Candles(kept)
                    )
                    plain = await pair_stats(router, FULL, asked, since=since, until=until, candles=None)
                    out.append((since, until, kept, got, plain))
            return out
        finally:
            await engine.dispose()

    for since, until, kept, from_candles, from_trades in asyncio.run(work()):
        assert from_candles.keys() == from_trades.keys() == set(asked)
        for pair, stats in from_trades.items():
            candles = from_candles[pair]
            assert stats is not None and candles is not None
            assert {k: v for k, v in candles.items() if k != "source"} == {
                k: v for k, v in stats.items() if k != "source"
            }, (since, until, kept, pair)
            mine = [t for t in trades if t["pair"] == stats["pair"] and since <= t["closed_at"] <= until]
            assert stats["trade_count"] == len(mine)
            side = stats["base_asset"]
            assert stats["base_volume"] == sum(
                t["sold_amount"] if t["sold_asset"] == side else t["bought_amount"] for t in mine
            )
            if mine:
                assert (stats["first_trade_id"], stats["last_trade_id"]) == (mine[0]["id"], mine[-1]["id"])
            else:
                assert stats["open"] is None and stats["vwap"] is None
        first_pair = busiest[0]
        assert from_trades[f"{counter}/{base}"] == from_trades[first_pair]  # either orientation


def test_candles_kept_for_other_pairs_are_not_used() -> None:
    kept = Candles(("1m",), frozenset({"native/USDC:" + ISSUER}))
    assert kept.covers(f"USDC:{ISSUER}/native") and not kept.covers(f"native/EURC:{ISSUER}")
    assert not Candles(()).covers(f"native/USDC:{ISSUER}")


def test_windows_decompose_into_few_whole_buckets_and_exact_edges() -> None:
    since = datetime(2025, 3, 14, 15, 9, 26, 500000, tzinfo=UTC)
    until = datetime(2026, 3, 14, 15, 9, 27, tzinfo=UTC)
    spans, edges = decompose(since, until, ALL_INTERVALS)
    buckets = sum((s.end - s.start) // timedelta(seconds=INTERVAL_SECONDS[s.interval]) for s in spans)
    assert buckets < 500  # not 525,600 minutes
    # Spans and edges tile the window exactly, without overlap.
    pieces = sorted(
        [(s.start, s.end) for s in spans] + [(a, b + timedelta(microseconds=1)) for a, b in edges]
    )
    assert pieces[0][0] == since and pieces[-1][1] == until + timedelta(microseconds=1)
    assert all(a[1] == b[0] for a, b in itertools.pairwise(pieces))
    assert all(s.start.timestamp() % INTERVAL_SECONDS[s.interval] == 0 for s in spans)
    assert all(b - a < timedelta(minutes=1) for a, b in edges)  # what is left is under the finest bucket
    assert decompose(since, since, ALL_INTERVALS) == ([], [(since, since)])


async def _read(url: str, table: str) -> list[dict[str, Any]]:
    engine = create_engine(url)
    try:
        return await _rows(engine, table)
    finally:
        await engine.dispose()


def test_pair_stats_refuse_unbounded_trade_scans(
    mainnet_data: MainnetData, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pair_stats_module, "MAX_TRADES", 10)

    async def work() -> None:
        engine = create_engine(mainnet_data.url)
        try:
            trades = await _rows(engine, "dex_trades")
            pair = Counter(t["pair"] for t in trades).most_common(1)[0][0]
            start = datetime(2020, 1, 1, tzinfo=UTC)
            await pair_stats(
                QueryRouter(engine),
                FULL,
                [pair],
                since=start,
                until=start + timedelta(days=3650),
                candles=None,
            )
        finally:
            await engine.dispose()

    with pytest.raises(BadRequest) as err:
        asyncio.run(work())
    assert err.value.code == "window_too_large"


def test_balances_from_transfers_equal_hand_sums(mainnet_data: MainnetData) -> None:
    async def work() -> tuple[list[dict[str, Any]], list[str], dict[str, list[dict[str, Any]]]]:
        engine = create_engine(mainnet_data.url)
        try:
            transfers = await _rows(engine, "token_transfers")
            busiest = [
                a for a, _ in Counter(x for t in transfers for x in (t["from"], t["to"]) if x).most_common(6)
            ]
            accounts = [*busiest, "GAAZI4TCR3TY5OJHCTJC2A4QSY6CJWJH5IAJTGKIN2ER7LBNVKOCCWN7"]
            return transfers, accounts, await balances_from_transfers(QueryRouter(engine), FULL, accounts)
        finally:
            await engine.dispose()

    transfers, accounts, got = asyncio.run(work())
    for account in accounts:
        expected: dict[str, int] = defaultdict(int)
        for t in transfers:
            if not (t["in_successful_tx"] or t["event_type"] == "fee"):
                continue
            if t["to"] == account:
                expected[t["asset"]] += t["amount_raw"]
            if t["from"] == account:
                expected[t["asset"]] -= t["amount_raw"]
        assert {r["asset"]: r["balance_raw"] for r in got[account]} == dict(expected)
        assert all(r["exact"] is False and r["source"] == "transfers" for r in got[account])
    assert got[accounts[-1]] == []
    classic = [r for account in accounts for r in got[account] if r["asset"] == "native"]
    assert classic and all(len(r["balance"].split(".")[1]) == 7 for r in classic)


def test_balances_from_transfers_on_sqlite(migrated_sqlite: str, tmp_path: Path) -> None:
    closed = datetime(2026, 1, 1, tzinfo=UTC)
    base = {
        "tenant_id": "t",
        "closed_at": closed,
        "tx_hash": "00" * 32,
        "operation_index": 1,
        "asset_type": "native",
        "asset": "native",
        "asset_code": None,
        "asset_issuer": None,
        "contract_id": None,
        "decimals": 7,
    }
    rows = [
        {
            **base,
            "id": f"{i}",
            "ledger_sequence": 10 + i,
            "transaction_index": 1,
            "event_index": i,
            "in_successful_tx": ok,
            "event_type": kind,
            "from": src,
            "to": dst,
            "amount_raw": amount,
            "amount": str(amount),
        }
        for i, (kind, src, dst, amount, ok) in enumerate(
            [
                ("mint", None, "GA", 10**20, True),
                ("transfer", "GA", "GB", 3 * 10**19, True),
                ("transfer", "GA", "GB", 5, False),  # failed: moved nothing
                ("fee", "GA", None, 100, False),  # a failed transaction's fee is still charged
                ("fee", "GA", None, -40, True),  # refund
            ]
        )
    ]

    async def work() -> dict[str, list[dict[str, Any]]]:
        engine = create_engine(migrated_sqlite)
        try:
            async with engine.begin() as conn:
                await write_rows(
                    conn, default_registry().catalogue()["TokenTransferProcessor"].tables[0], rows
                )
            return await balances_from_transfers(QueryRouter(engine), "t", ["GA", "GB"])
        finally:
            await engine.dispose()

    got = asyncio.run(work())
    assert [(r["asset"], r["balance_raw"], r["last_modified_ledger"]) for r in got["GA"]] == [
        ("native", 10**20 - 3 * 10**19 - 100 + 40, 14)
    ]
    assert got["GB"][0]["balance_raw"] == 3 * 10**19 and got["GB"][0]["balance"] == "3000000000000.0000000"
