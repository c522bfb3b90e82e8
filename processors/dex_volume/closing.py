"""Closed candles: the history of `dex_closed_candles`, one row per candle when it closes, written in the
ingestion transaction by the refresh (`processors.dex_volume.refresh`), after the batch's candles.

**When a candle closes.** The candle of bucket ``[start, end)`` closes at the first trade of the tenant (any
pair: a trade is evidence of how far time has gone) whose ledger closed at or after ``end``. Trades are the
only clock `after_write` sees (it gets the tenant's rows, not the batch's ledgers), so a tenant whose trades
pause closes its candles at its next trade.

**Which candles a batch closes.** With ``previous`` the tenant's last trade before the batch's first (read from
the hot store, or the archive watermark when older trades moved to the cold tier) and ``last`` the batch's last
trade time, exactly the candles whose end lies in ``(previous, last]``: an earlier end was passed by an earlier
trade (closed by the batch that wrote it), a later one is not passed yet by the batch. Each closes at the first
ledger of the batch with a trade at or after its end. When trades after the batch are stored already (the batch
is a backfill of older ledgers), each interval's bucket holding ``last`` may be passed by one of them too: it
closes at the first stored trade at or after its end (one indexed probe per interval, and only then; the live
tail pays one probe finding no later trade).

**Its id.** The position ``(closing ledger, 0, 0, n)``: the ledger-level position of the closing ledger, ``n``
numbering the candles closed there by (interval, bucket start, pair) after those already stored at that
ledger. Ingested forward, in batches of any size, every candle closing at a ledger closes in the batch holding
that ledger, so the ids do not depend on how ledgers were batched; and they grow with the ledgers, so a live
stream sees them in order (a backfill of older ledgers writes older ids, which only catch-ups read, as for
every history table).

**Exactly once.** A candle already closed (its row found by pair, interval and bucket under the candle lock)
is never written again: re-ingesting ledgers writes and publishes nothing new. The row keeps the candle's
values when it closed. Trades of its bucket ingested only later (a backfill of a gap, ledgers ingested out of
order) change the candle in ``dex_volume`` but not the closed row, which was already delivered: the candle query
shows the corrected candle, and the closed row's ``trade_count``/``last_trade_id`` tell the two apart.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from core.ids import row_id
from processors.dex_trades.table import dex_trades
from processors.dex_volume.table import CANDLE_COLUMNS, dex_closed_candles, dex_volume
from processors.dex_volume.volume import INTERVAL_SECONDS, bucket_end, bucket_start
from storage.derived import fetch_first, fetch_keyed, fetch_matching, replace_rows
from storage.query import Filter, Row

__all__ = ["Clock", "close_candles", "closed_rows"]

CLOSED_KEY = ("pair", "interval", "bucket_start")


class Clock:
    """Trades as a clock: for each ledger with a trade, its close time, in ledger order."""

    def __init__(self, trades: Iterable[Mapping[str, Any]]) -> None:
        ledgers = sorted({(t["ledger_sequence"], t["closed_at"]) for t in trades})
        self.ledgers = [ledger for ledger, _ in ledgers]
        self.times = [closed_at for _, closed_at in ledgers]

    def then(self, ledger: int, closed_at: datetime) -> Clock:
        """This clock and one later trade's ledger."""
        return Clock(
            [
                *(
                    {"ledger_sequence": s, "closed_at": t}
                    for s, t in zip(self.ledgers, self.times, strict=True)
                ),
                {"ledger_sequence": ledger, "closed_at": closed_at},
            ]
        )

    @property
    def first(self) -> datetime:
        return self.times[0]

    @property
    def last(self) -> datetime:
        return self.times[-1]

    def closing(self, end: datetime) -> tuple[int, datetime] | None:
        """The first ledger (sequence, close time) with a trade at or after `end`, None if none is."""
        at = bisect_left(self.times, end)
        return (self.ledgers[at], self.times[at]) if at < len(self.times) else None


def closed_rows(
    tenant_id: str,
    candles: Iterable[Row],
    clock: Clock,
    used: Mapping[int, int],
) -> list[Row]:
    """The closed rows of the stored `candles` that the `clock` passed (candles it did not pass are left out),
    numbered at each closing ledger after the `used` event indexes (ledger -> count already stored)."""
    order = {interval: rank for rank, interval in enumerate(INTERVAL_SECONDS)}
    closing: list[tuple[int, datetime, Row]] = []
    for candle in candles:
        at = clock.closing(bucket_end(candle["bucket_start"], candle["interval"]))
        if at is not None:
            closing.append((*at, candle))
    closing.sort(key=lambda c: (c[0], order[c[2]["interval"]], c[2]["bucket_start"], c[2]["pair"]))
    rows: list[Row] = []
    numbered: dict[int, int] = dict(used)
    for ledger, closed_at, candle in closing:
        index = numbered.get(ledger, 0)
        numbered[ledger] = index + 1
        rows.append(
            {
                "tenant_id": tenant_id,
                "id": row_id(ledger, 0, 0, index),
                "ledger_sequence": ledger,
                "transaction_index": 0,
                "operation_index": 0,
                "event_index": index,
                "closed_at": closed_at,
                "tx_hash": None,
                "in_successful_tx": True,
                **{name: candle[name] for name in CANDLE_COLUMNS},
            }
        )
    return rows


async def _previous_trade(
    conn: AsyncConnection, tenant_id: str, before: datetime, archived: datetime | None
) -> datetime | None:
    """The close time of the tenant's last trade before `before` (hot store, else the archive watermark)."""
    latest = await fetch_first(
        conn, dex_trades, tenant_id, [Filter(("closed_at",), "lt", before)], "closed_at",
        descending=True, columns=("closed_at",),
    )  # fmt: skip
    found: datetime | None = latest["closed_at"] if latest is not None else None
    candidates = [t for t in (found, archived) if t is not None and t < before]
    return max(candidates) if candidates else None


async def _first_trade(
    conn: AsyncConnection, tenant_id: str, since: datetime, *, inclusive: bool
) -> tuple[int, datetime] | None:
    """The ledger and close time of the tenant's first stored trade at (`inclusive`) or after `since`."""
    first = await fetch_first(
        conn, dex_trades, tenant_id, [Filter(("closed_at",), "gte" if inclusive else "gt", since)], "closed_at",
        columns=("ledger_sequence", "closed_at"),
    )  # fmt: skip
    return (int(first["ledger_sequence"]), first["closed_at"]) if first is not None else None


async def _passed(
    conn: AsyncConnection,
    tenant_id: str,
    until: Mapping[str, datetime],
    pairs: Collection[str],
    previous: datetime | None,
) -> list[Row]:
    """The stored candles whose end lies in ``(previous, until[interval]]`` (of the kept `pairs`, all when
    empty)."""
    found: list[Row] = []
    for interval, last in until.items():
        length = timedelta(seconds=INTERVAL_SECONDS[interval])
        filters = [Filter.eq("interval", interval), Filter(("bucket_start",), "lte", last - length)]
        if previous is not None:
            filters.append(Filter(("bucket_start",), "gt", previous - length))
        if pairs:
            filters.append(Filter.any_of("pair", sorted(pairs)))
        found.extend(await fetch_matching(conn, dex_volume, tenant_id, filters))
    return found


async def close_candles(
    conn: AsyncConnection,
    tenant_id: str,
    trades: Sequence[Mapping[str, Any]],
    intervals: Sequence[str],
    pairs: Collection[str],
    archived: datetime | None,
) -> list[Row]:
    """Write the closed rows of the candles the batch's `trades` (all of the tenant's, any pair) closed, once
    each, and return them (what the engine publishes). The caller holds the candle lock and has written the
    batch's candles."""
    if not trades or not intervals:
        return []
    clock = Clock(trades)
    previous = await _previous_trade(conn, tenant_id, clock.first, archived)
    until = dict.fromkeys(intervals, clock.last)
    if await _first_trade(conn, tenant_id, clock.last, inclusive=False) is not None:
        # Older ledgers than stored ones (a backfill): each interval's bucket holding the batch's last trade may
        # be passed by a stored later trade, the first one at or after its end.
        for interval in intervals:
            end = bucket_end(bucket_start(clock.last, interval), interval)
            passing = await _first_trade(conn, tenant_id, end, inclusive=True)
            if passing is not None:
                clock = clock.then(*passing)
                until[interval] = end
    candles = await _passed(conn, tenant_id, until, pairs, previous)
    if not candles:
        return []
    keys = {tuple(candle[name] for name in CLOSED_KEY) for candle in candles}
    done = await fetch_keyed(conn, dex_closed_candles, tenant_id, CLOSED_KEY, keys)
    fresh = [candle for candle in candles if tuple(candle[name] for name in CLOSED_KEY) not in done]
    if not fresh:
        return []
    used = await _used_indexes(conn, tenant_id, clock.ledgers[0], clock.ledgers[-1])
    rows = closed_rows(tenant_id, fresh, clock, used)
    await replace_rows(conn, dex_closed_candles, rows)  # none stored yet (checked above, under the lock)
    return rows


async def _used_indexes(conn: AsyncConnection, tenant_id: str, first: int, last: int) -> dict[int, int]:
    """Per ledger of ``[first, last]``, how many event indexes its stored closed rows already use (a
    re-ingestion after the volume config gained pairs or intervals closes more candles at a ledger that
    already has some)."""
    used: dict[int, int] = {}
    stored = await fetch_matching(
        conn,
        dex_closed_candles,
        tenant_id,
        [Filter(("ledger_sequence",), "gte", first), Filter(("ledger_sequence",), "lte", last)],
        columns=("ledger_sequence", "event_index"),
    )
    for row in stored:
        used[row["ledger_sequence"]] = max(used.get(row["ledger_sequence"], 0), row["event_index"] + 1)
    return used
