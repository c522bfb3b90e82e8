"""The compiled binary COPY encoder (`storage._copybin`, used by `storage.copy_writes`) stores exactly what the
Python path (`copy_writes._records` and asyncpg's encoders) stores, and hands every value it does not write
itself to that path: checked on PostgreSQL, with the real corpus's rows of every processor table and with edge
values of every column kind, comparing the stored text of every column."""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest
from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    text,
)
from sqlalchemy.ext.asyncio import AsyncEngine

from processors.registry import default_registry
from storage import copy_writes
from storage.amounts import Amount
from storage.db import create_engine
from storage.hot_writes import write_rows
from storage.tables import UTCDateTime
from tests import corpus
from tests.corpus import MAINNET_20

try:
    from storage import _copybin  # type: ignore[attr-defined]
except ImportError:  # no C compiler at install: the Python path is the only one, tested everywhere else
    _copybin = None

needs_compiled = pytest.mark.skipif(
    _copybin is None, reason="storage._copybin is not built (no C compiler when the project was installed)"
)

T0 = datetime(2026, 6, 19, 0, 20, 58, 123456, tzinfo=UTC)


@contextlib.contextmanager
def encoder(compiled: bool) -> Iterator[list[bool]]:
    """`copy_writes` with the compiled encoder (recording, per call, whether it wrote the payload) or without,
    whatever ``OBSRVR_COPYBIN`` chose."""
    original = copy_writes.binary_encoder
    calls: list[bool] = []

    def spy(*args: Any) -> Any:
        payload = _copybin.encode(*args)
        calls.append(payload is not None)
        return payload

    copy_writes.binary_encoder = spy if compiled else None
    try:
        yield calls
    finally:
        copy_writes.binary_encoder = original


@pytest.fixture
async def schemas(pg_url: str) -> AsyncIterator[AsyncEngine]:
    """A database with two schemas, ``c`` and ``py``: the same tables written by either path."""
    engine = create_engine(pg_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("CREATE SCHEMA c"))
            await conn.execute(text("CREATE SCHEMA py"))
        yield engine
    finally:
        await engine.dispose()


async def create(engine: AsyncEngine, tables: Sequence[Table]) -> dict[str, tuple[Table, Table]]:
    """Each table's copy in schema ``c`` and in schema ``py``, created (a partitioned one with its default
    partition only)."""
    metadata = MetaData()
    pairs = {
        t.name: (t.to_metadata(metadata, schema="c"), t.to_metadata(metadata, schema="py")) for t in tables
    }
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
        for table in metadata.tables.values():
            if table.dialect_options["postgresql"]["partition_by"]:
                name = f'"{table.schema}"."{table.name}"'
                await conn.execute(
                    text(f'CREATE TABLE "{table.schema}"."{table.name}_all" PARTITION OF {name} DEFAULT')
                )
    return pairs


async def stored_text(engine: AsyncEngine, table: Table) -> list[tuple[Any, ...]]:
    """Every row of `table` as the text of each column (JSON as stored, amounts' digits, timestamps), in key order."""
    columns = ", ".join(f'"{c.name}"::text' for c in table.columns)
    order = ", ".join(f'"{c.name}"' for c in table.primary_key.columns)
    async with engine.connect() as conn:
        result = await conn.execute(
            text(f'SELECT {columns} FROM "{table.schema}"."{table.name}" ORDER BY {order}')
        )
        return [tuple(row) for row in result.all()]


async def write_both(
    engine: AsyncEngine, pair: tuple[Table, Table], batches: Sequence[Sequence[Mapping[str, Any]]]
) -> list[bool]:
    """`batches` written into the ``c`` table with the compiled encoder and into the ``py`` one without, one
    transaction a batch; returns, per call of the compiled encoder, whether it wrote the payload itself."""
    compiled, python = pair
    with encoder(compiled=True) as calls:
        for rows in batches:
            async with engine.begin() as conn:
                await write_rows(conn, compiled, rows)
    with encoder(compiled=False):
        for rows in batches:
            async with engine.begin() as conn:
                await write_rows(conn, python, rows)
    return calls


@needs_compiled
async def test_corpus_rows_of_every_processor_table_are_stored_alike(
    schemas: AsyncEngine, shared_ledgers: Path
) -> None:
    """Five real mainnet ledgers' rows of every table the processors extract, each ledger a batch, stored by
    both paths: the same text in every column, and the compiled encoder wrote every payload itself."""
    ledgers = [corpus.ledger(shared_ledgers, file) for file in MAINNET_20[:5]]
    tables: dict[str, Table] = {}
    batches: dict[str, list[list[dict[str, Any]]]] = {}
    for processor in default_registry():
        if processor.extract is None:
            continue
        known = {t.name: t for t in processor.tables}
        for ledger in ledgers:
            for name, rows in ledger.extracted(processor.name).items():
                if rows:
                    tables[name] = known[name]
                    batches.setdefault(name, []).append([{**row, "tenant_id": "t"} for row in rows])
    assert {"token_transfers", "contract_events", "account_balances", "dex_trades", "contract_data"} <= set(
        tables
    )
    pairs = await create(schemas, list(tables.values()))
    for name, pair in pairs.items():
        calls = await write_both(schemas, pair, batches[name])
        assert calls and all(calls), f"{name}: the compiled encoder handed a batch back"
        compiled, python = await stored_text(schemas, pair[0]), await stored_text(schemas, pair[1])
        assert compiled, name
        assert compiled == python, name


def _kinds_table(metadata: MetaData) -> Table:
    # Every staged column kind of the encoder (storage/_copybin.c); reserved words as names.
    return Table(
        "kinds",
        metadata,
        Column("tenant_id", String(64), primary_key=True),
        Column("id", String(32), primary_key=True),
        Column("ledger_sequence", BigInteger),
        Column("index", Integer),
        Column("closed_at", UTCDateTime),
        Column("from", Text),
        Column("limit", Amount),
        Column("flag", Boolean),
        Column("data", JSON),
        info={"write": "insert"},
    )


def _row(id_: str, **values: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "tenant_id": "t",
        "id": id_,
        "ledger_sequence": 63092982,
        "index": 7,
        "closed_at": T0,
        "from": "GA5OR266WLEKOGTH33UQAQMJXIG6ILOIOVOFWRDILFPUUG4PISC4OZTU",
        "limit": 2**127 - 1,
        "flag": True,
        "data": {"topics": ["transfer", 1], "nested": {"a": None}},
    }
    row.update(values)
    return row


# Values the encoder writes itself: the limits of each kind.
WRITTEN = [
    _row("edges-1", ledger_sequence=2**63 - 1, index=2**31 - 1, limit=-(2**127), flag=False),
    _row("edges-2", ledger_sequence=-(2**63), index=-(2**31), limit=0, data=None),
    _row("edges-3", limit=2**63, data=[1, 2**70, 1.5, True, "é\u2028", {"k": []}]),
    _row("edges-4", limit=-(2**63) - 1, data='text "q"\n'),
    _row("text", **{"from": 'é ∑ 😀 \u2028 tab\t quote" backslash\\'}),
    _row("empty", **{"from": ""}),
    _row(
        "nulls",
        ledger_sequence=None,
        index=None,
        closed_at=None,
        limit=None,
        flag=None,
        data=None,
        **{"from": None},
    ),
    {
        "tenant_id": "t",
        "id": "sparse",
    },  # every other column missing: NULL (JSON: its converter's text of None)
    _row("naive", closed_at=datetime(2026, 6, 19, 0, 20, 58, 5)),  # taken as UTC
    _row("epoch", closed_at=datetime(2000, 1, 1, tzinfo=UTC)),
    _row("before", closed_at=datetime(1999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)),
    _row("leap", closed_at=datetime(2024, 2, 29, 12, 0, tzinfo=UTC)),
    _row("early", closed_at=datetime(2, 1, 1, tzinfo=UTC)),
    _row("late", closed_at=datetime(9998, 12, 31, 23, 59, 59, 999999)),
]

# Values it hands to the Python path (which converts them as the bind processors do), one per row.
HANDED_BACK = [
    _row("bool-as-int", index=True),
    _row("int-as-bool", flag=1),
    _row("text-amount", limit="12345"),
    _row("decimal-amount", limit=Decimal(-(2**90))),
    _row("float-index", ledger_sequence=10.0),
    _row("other-zone", closed_at=datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=timezone(timedelta(hours=5)))),
    _row("max-time", closed_at=datetime.max),
    _row("min-time", closed_at=datetime.min),
    _row("str-subclass", **{"from": type("Name", (str,), {})("quoted")}),
]


@needs_compiled
async def test_edge_values_are_stored_alike_and_the_rest_handed_to_the_python_path(
    schemas: AsyncEngine,
) -> None:
    pairs = await create(schemas, [_kinds_table(MetaData())])
    pair = pairs["kinds"]
    # The last batch: a row that is a mapping but not a dict, which the Python path reads.
    batches = [WRITTEN, *([row] for row in HANDED_BACK), [MappingProxyType(_row("proxy"))]]
    calls = await write_both(schemas, pair, batches)
    # A str subclass is text all the same (the last of HANDED_BACK); every other row there went back.
    assert calls == [True] + [False] * (len(HANDED_BACK) - 1) + [True, False]
    compiled, python = await stored_text(schemas, pair[0]), await stored_text(schemas, pair[1])
    assert len(compiled) == len(WRITTEN) + len(HANDED_BACK) + 1
    assert compiled == python


@needs_compiled
@pytest.mark.parametrize(
    "bad",
    [
        pytest.param({"index": 2**31}, id="int32-overflow"),
        pytest.param({"ledger_sequence": 2**63}, id="int64-overflow"),
        pytest.param({"from": "lone \ud800 surrogate"}, id="not-utf8"),
        pytest.param({"from": "nul \x00 byte"}, id="nul-in-text"),
        pytest.param({"flag": "yes"}, id="not-a-boolean"),
        pytest.param({"id": "x" * 33}, id="too-long-for-varchar"),
    ],
)
async def test_a_value_either_path_refuses_fails_alike_and_stores_nothing(
    schemas: AsyncEngine, bad: dict[str, Any]
) -> None:
    compiled, python = (await create(schemas, [_kinds_table(MetaData())]))["kinds"]
    failures = []
    for table, use_compiled in ((compiled, True), (python, False)):
        with encoder(use_compiled), pytest.raises(Exception) as raised:
            async with schemas.begin() as conn:
                await write_rows(conn, table, [_row("good"), _row("bad", **bad)])
        failures.append((type(raised.value), str(raised.value)))
        assert await stored_text(schemas, table) == []
    assert failures[0] == failures[1]


@needs_compiled
def test_the_encoder_refuses_malformed_arguments() -> None:
    encode = _copybin.encode
    with pytest.raises(TypeError):
        encode([], ["a"], b"t", (None,))  # names not a tuple
    with pytest.raises(ValueError):
        encode([], ("a", "b"), b"t", (None, None))  # a kind per name
    with pytest.raises(TypeError):
        encode([], ("a",), b"j", (None,))  # a JSON column without its converter
    with pytest.raises(TypeError):
        encode(5, ("a",), b"t", (None,))  # rows not a sequence
    # An empty payload: the header and the trailer only.
    assert encode([], ("a",), b"t", (None,)) == b"PGCOPY\n\xff\r\n\x00" + bytes(8) + b"\xff\xff"
    # One row of one text column: field count, length, UTF-8 bytes.
    assert encode([{"a": "é"}], ("a",), b"t", (None,))[19:-2] == b"\x00\x01\x00\x00\x00\x02\xc3\xa9"


@needs_compiled
@pytest.mark.parametrize("choice", ["auto", "c", "python", "C++"])
def test_obsrvr_copybin_chooses_the_encoder(monkeypatch: pytest.MonkeyPatch, choice: str) -> None:
    monkeypatch.setenv(copy_writes.COPYBIN_ENV_VAR, choice)
    if choice == "C++":
        with pytest.raises(ValueError, match="auto, c or python"):
            copy_writes._compiled_encoder()
        return
    assert copy_writes._compiled_encoder() is (None if choice == "python" else _copybin.encode)


def test_the_process_uses_the_encoder_its_environment_chose() -> None:
    """CI runs with ``OBSRVR_COPYBIN=c`` (.ci/run), so a build that silently failed cannot pass as the C path."""
    choice = os.environ.get(copy_writes.COPYBIN_ENV_VAR, "auto")
    if choice == "python" or (choice == "auto" and _copybin is None):
        assert copy_writes.binary_encoder is None
    else:
        assert _copybin is not None and copy_writes.binary_encoder is _copybin.encode


@needs_compiled
def test_a_converter_changing_the_rows_under_the_encoder_does_not_crash_it() -> None:
    """A JSON converter is Python code: one emptying the row list or the row being written leaves the encoder
    reading what is there (no dangling row or value)."""
    rows: list[dict[str, Any]] = [{"a": [i], "b": "x"} for i in range(100)]

    def emptying(value: Any) -> str:
        rows.clear()
        return "[]"

    payload = _copybin.encode(rows, ("a", "b"), b"jt", (emptying, None))
    assert payload is not None and payload.endswith(b"\xff\xff")
    row: dict[str, Any] = {"a": [1], "b": "kept"}

    def popping(value: Any) -> str:
        row.clear()
        return "[1]"

    # The row emptied while its first column is written: its second column reads as missing (NULL).
    assert _copybin.encode([row], ("a", "b"), b"jt", (popping, None))[19:-2] == (
        b"\x00\x02" + b"\x00\x00\x00\x03[1]" + b"\xff\xff\xff\xff"
    )


@needs_compiled
def test_json_written_without_the_python_frame_is_json_text() -> None:
    """Kind 'J' runs `copy_writes._json_text`'s own steps in C: the same payload as calling it (kind 'j') for
    every shape of JSON value, and a value it cannot encode hands the call back as 'j' does."""
    values: list[Any] = [
        None,
        "plain",
        'caf\u00e9 \u2028 "q" \\ \x00',
        type("Name", (str,), {})("a str subclass"),
        -(2**127),
        1.5,
        True,
        [None, "G", [1, {"k": []}]],
        {"amount": "5", "to_muxed_id": None, "é": {}},
        [],
        {},
    ]
    rows = [{"a": value} for value in values]
    parts = copy_writes._JSON_TEXT_PARTS
    by_frame = _copybin.encode(rows, ("a",), b"j", (copy_writes._json_text,))
    assert by_frame is not None
    assert _copybin.encode(rows, ("a",), b"J", (parts,)) == by_frame
    assert _copybin.encode([{"a": {1, 2}}], ("a",), b"J", (parts,)) is None  # a set: TypeError, handed back
    with pytest.raises(TypeError, match="needs"):
        _copybin.encode([], ("a",), b"J", (copy_writes._json_text,))
