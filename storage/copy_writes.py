"""PostgreSQL bulk writes through ``COPY``: the fast path of `storage.hot_writes.write_rows` (and of
`storage.derived.replace_rows`).

Rows are copied (asyncpg's binary ``COPY``) into a session-local staging table shaped like the target, then
moved by ONE statement: ``INSERT INTO target SELECT ... FROM staging ON CONFLICT (natural key) ...``, with the
same conflict clauses as the multi-row ``INSERT`` it replaces
(``DO NOTHING`` for history rows; for "latest" rows ``DO UPDATE`` of every other column, only with a row of the
same or a later ledger; for `replace_rows` whatever the ledger). Everything runs on the caller's connection,
inside the caller's transaction, so a batch is still written whole or not at all.

Values are converted by each column type's own SQLAlchemy bind processor for the connection's dialect (an
`Amount` becomes a `Decimal`, then its text, see below; a JSON value its JSON text, a `UTCDateTime` an aware UTC
datetime), i.e. the values the ``INSERT`` would have sent, so both paths store the same rows.

The staging table has the target's columns and types, except that an `Amount` column (``NUMERIC``) is staged
as ``text`` and cast back to the target's type by the moving statement: asyncpg's binary ``NUMERIC`` encoder
costs ~2 us per value in the ingesting process (the largest single cost of the write path's Python, ~6,000
amounts per mainnet ledger), an integer's decimal text ~0.15 us, and PostgreSQL parses the text as it would
have parsed the ``INSERT``'s parameter (issue 16, docs/decisions.md "write16"). Likewise a `UTCDateTime`
column (``timestamptz``) is staged as a ``timestamp`` of the same UTC time and moved ``AT TIME ZONE 'UTC'``:
asyncpg encodes a naive datetime in ~0.2 us, an aware one in ~0.9 us; PostgreSQL's CPU was the same.

The payload of the COPY is written in C when `storage._copybin` is built (`_payload`; ``OBSRVR_COPYBIN``): each
row's values read from its dict and written in PostgreSQL's binary format, the same bytes asyncpg writes from
the records `_records` builds, which remain the path of any batch holding a value the C code does not write
itself (a Decimal amount, a datetime in another zone, a mapping that is not a dict ...) and of a build without it.

The staging table is ``CREATE TEMP TABLE IF NOT EXISTS ... ON COMMIT DELETE ROWS``: it lives as long as the
database session (a rollback of the transaction that created it drops it, and the next write creates it
again), and every transaction finds it empty (emptied at commit; a rollback undoes what was copied). The moving
statement leaves the rows it read there: emptying them as it read them (``WITH moved AS (DELETE FROM staging
RETURNING ...) INSERT ...``, as before) cost ~12% of a batch's writing (issue 16). A second write into the same
table in one transaction (token balances: the extracted rows, then `after_write`'s) empties it first; the
connection's `info` remembers which transaction last staged rows in each staging table. Hence the path needs a
transaction: on an autocommit connection the COPY would commit, and empty the staging table, on its own (refused
with an error).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import importlib
import json
import operator
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal
from weakref import WeakKeyDictionary

from sqlalchemy import JSON, Boolean, Table, text
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection

from storage.amounts import Amount
from storage.tables import UTCDateTime

__all__ = ["CopyJob", "copy_rows", "copy_tables"]

STAGING_PREFIX = "obsrvr_stage_"
# Key of the pooled connection's `info`: staging table -> the transaction that last staged rows in it.
_STAGED_INFO = "obsrvr_staged"
OnConflict = Literal["ignore", "latest", "replace"]
# Column types whose values are hashable and repeat within a batch (converted once per distinct value).
_REPEATING_TYPES = (Boolean, UTCDateTime)
# An `Amount` column holding only ints (or None) is staged as the ints' decimal text, which is the text of
# `Amount`'s bind processor's `Decimal(int(value))`; any other value goes through that processor first.
_PLAIN_AMOUNT_TYPES = frozenset({int, type(None)})
COPYBIN_ENV_VAR = "OBSRVR_COPYBIN"


@dataclass(frozen=True)
class _Plan:
    """What copying into one table needs, built once per table and dialect."""

    names: tuple[str, ...]
    staging: str
    create: Any  # a `text` clause
    empty: Any  # a `text` clause: the staging table's rows deleted
    move: Any  # a `text` clause
    # (column position, bind processor) of the columns whose values need converting
    converters: tuple[tuple[int, Callable[[Any], Any]], ...]
    # positions of the columns whose few distinct values are converted once per batch (see `_records`)
    repeating: frozenset[int]
    # positions of the `Amount` columns, staged as text (see `_amount_texts`)
    amounts: frozenset[int]
    # every column's value of a row, as a tuple (`operator.itemgetter` of `names`)
    getter: Callable[[Mapping[str, Any]], Any]
    # each column's kind for the compiled encoder (`storage._copybin`), or None when a column has none
    binary_kinds: bytes | None
    # each column's converter as that encoder takes it (the JSON columns': a callable, or `_JSON_TEXT_PARTS`),
    # None elsewhere
    binary_converters: tuple[Any, ...]


# Per table, per dialect instance (its converters may carry its own JSON serializer), write mode and returned
# columns.
_plans: WeakKeyDictionary[Table, dict[tuple[int, OnConflict, tuple[str, ...]], _Plan]] = WeakKeyDictionary()


def _plan(table: Table, dialect: Dialect, on_conflict: OnConflict, returning: tuple[str, ...] = ()) -> _Plan:
    known = _plans.setdefault(table, {})
    plan = known.get((id(dialect), on_conflict, returning))
    if plan is not None and plan.names == tuple(c.name for c in table.columns):
        return plan
    quote = dialect.identifier_preparer.quote
    names = tuple(column.name for column in table.columns)
    key = [column.name for column in table.primary_key.columns]
    target = dialect.identifier_preparer.format_table(table)
    amounts = frozenset(
        position for position, column in enumerate(table.columns) if isinstance(column.type, Amount)
    )
    utc = frozenset(
        position for position, column in enumerate(table.columns) if isinstance(column.type, UTCDateTime)
    )
    types = [str(column.type.compile(dialect)) for column in table.columns]
    staged = [
        "text" if position in amounts else "TIMESTAMP WITHOUT TIME ZONE" if position in utc else kind
        for position, kind in enumerate(types)
    ]
    # Named after the table and its columns as staged: a session that outlives a schema change (or a change of
    # the staging layout) gets a new staging table. Identifiers are at most 63 bytes: a long table name keeps
    # its start.
    shape = hashlib.blake2b(
        "\x00".join((table.name, *names, *types, *staged)).encode(), digest_size=4
    ).hexdigest()
    staging = f"{STAGING_PREFIX}{table.name[:40]}_{shape}"
    columns = ", ".join(quote(name) for name in names)
    # The amounts' text back to the target's type (no assignment cast from text to NUMERIC), the UTC times to
    # instants.
    selected = ", ".join(
        f"CAST({quote(name)} AS {kind})"
        if position in amounts
        else f"({quote(name)} AT TIME ZONE 'UTC')"
        if position in utc
        else quote(name)
        for position, (name, kind) in enumerate(zip(names, types, strict=True))
    )
    if on_conflict == "ignore":
        conflict = "DO NOTHING"
    else:
        updates = ", ".join(f"{quote(n)} = excluded.{quote(n)}" for n in names if n not in key)
        conflict = f"DO UPDATE SET {updates}"
        if on_conflict == "latest":
            ledger = quote("ledger_sequence")
            conflict += f" WHERE {target}.{ledger} <= excluded.{ledger}"
    move = (
        f"INSERT INTO {target} ({columns}) SELECT {selected} FROM pg_temp.{quote(staging)} "
        f"ON CONFLICT ({', '.join(quote(k) for k in key)}) {conflict}"
    )
    if returning:
        move += f" RETURNING {', '.join(quote(name) for name in returning)}"
    # Every column is always copied (NULL where a row has none), so the target's defaults never apply here, and
    # its NOT NULL and other constraints are checked when the rows move into it.
    create = (
        f"CREATE TEMP TABLE IF NOT EXISTS {quote(staging)} "
        f"({', '.join(f'{quote(name)} {kind}' for name, kind in zip(names, staged, strict=True))}) "
        "ON COMMIT DELETE ROWS"
    )
    converters = []
    repeating = frozenset(
        position for position, column in enumerate(table.columns) if isinstance(column.type, _REPEATING_TYPES)
    )
    kinds: list[str | None] = []
    binary_converters: list[Any] = []
    for position, column in enumerate(table.columns):
        processor: Callable[[Any], Any] | None = column.type._cached_bind_processor(dialect)
        if processor is not None:
            if isinstance(column.type, JSON) and _same_json_text(processor):
                processor = _json_text
            if position in utc:
                processor = _naive(processor)
            converters.append((position, processor))
        kind = _binary_kind(staged[position], column, processor, position in amounts, position in utc)
        kinds.append(kind)
        binary_converters.append(_JSON_TEXT_PARTS if kind == "J" else processor if kind == "j" else None)
    plan = _Plan(
        names,
        staging,
        text(create),
        text(f"DELETE FROM pg_temp.{quote(staging)}"),
        text(move),
        tuple(converters),
        repeating,
        amounts,
        operator.itemgetter(*names),
        None if None in kinds else "".join(kinds).encode(),  # type: ignore[arg-type]
        tuple(binary_converters),
    )
    known[(id(dialect), on_conflict, returning)] = plan
    return plan


# Staged SQL types the compiled encoder writes, by their kind letter (see storage/_copybin.c).
_BINARY_KINDS = {"BIGINT": "q", "INTEGER": "i", "BOOLEAN": "b", "TEXT": "t", "JSON": "j"}


def _binary_kind(
    staged: str, column: Any, converter: Callable[[Any], Any] | None, amount: bool, utc: bool
) -> str | None:
    """The compiled encoder's kind of a column (see storage/_copybin.c), or None when it has none: the table is
    then always copied through `_records` and asyncpg's encoders."""
    if amount:
        return "a"  # ints as their digits; any other value falls back to `_amount_texts`
    if utc:
        return "d"  # a `UTCDateTime` (the plan's `utc` positions)
    kind = "t" if staged.startswith("VARCHAR") else _BINARY_KINDS.get(staged)
    if kind == "j":
        if converter is None:
            return None
        # `_json_text` itself is run by the encoder, from its parts (see `_JSON_TEXT_PARTS`).
        return "J" if converter is _json_text and _ENCODE is not None else "j"
    if kind == "b" and isinstance(column.type, Boolean):
        # SQLAlchemy's Boolean processor refuses what is not None, True or False (or equal to one of them, as 1
        # is, which it turns into a bool): the encoder writes None, True and False, and leaves the rest to it.
        return kind
    return kind if converter is None else None  # a converter on any other column: the Python path applies it


# JSON columns: SQLAlchemy's bind processor calls `json.dumps` per value (three Python frames and a new C encoder
# object each time), 18% of the write path's Python in the ingestion profile (issue 16). One C encoder with
# `json.dumps`' defaults, made once, writes the same text; it is used only for a column whose own processor
# gives the same text on the probes below (a dialect with its own serializer, or `none_as_null`, keeps its
# processor). No circular-reference check (`markers=None`): rows are trees built by the extractors.
_ENCODER: Any = getattr(json.encoder, "c_make_encoder", None)
_ENCODE = (
    None
    if _ENCODER is None
    else _ENCODER(
        None,
        json.JSONEncoder().default,
        json.encoder.encode_basestring_ascii,
        None,
        ": ",
        ", ",
        False,
        False,
        True,
    )
)
_JSON_PROBES: tuple[Any, ...] = (
    None,
    'caf\u00e9 "q"\n',
    -(2**127),
    [True, False, None, 1.5, "G", ["x", {"k": [1]}]],
    {"amount": "5", "to_muxed_id": None, "é": {}},
    [],
    {},
)


def _json_text(value: Any) -> str:
    if value.__class__ is str:
        return json.encoder.encode_basestring_ascii(value)
    return "".join(_ENCODE(value, 0))  # type: ignore[misc]


# `_json_text`'s callables and its text of None, for the compiled encoder to run the same steps without a Python
# frame per JSON cell (kind 'J', storage/_copybin.c).
_JSON_TEXT_PARTS = (
    _ENCODE,
    json.encoder.encode_basestring_ascii,
    _json_text(None) if _ENCODE is not None else "",
)


def _same_json_text(processor: Callable[[Any], Any]) -> bool:
    if _ENCODE is None:
        return False
    try:
        return all(processor(probe) == _json_text(probe) for probe in _JSON_PROBES)
    except Exception:
        return False


async def copy_rows(
    conn: AsyncConnection,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    *,
    on_conflict: OnConflict,
    returning: tuple[str, ...] = (),
) -> list[tuple[Any, ...]]:
    """Write `rows` (each holding only columns of `table`; missing ones are NULL) into `table` on PostgreSQL.

    A row whose key is stored: left as it is (``"ignore"``), or every other column of the stored row replaced,
    only by a row of the same or a later ledger (``"latest"``) or whatever its ledger (``"replace"``). Those two
    need one row per key (the caller keeps the last one). With `returning`, those columns of the rows actually
    written (not those the conflict clause skipped) are returned."""
    if not rows:
        return []
    plan = _plan(table, conn.dialect, on_conflict, returning)
    await _stage(conn, plan, _payload(plan, rows))
    result = await conn.execute(plan.move)
    return [tuple(row) for row in result.all()] if returning else []


CopyJob = tuple[Table, Sequence[Mapping[str, Any]], OnConflict]


async def copy_tables(conn: AsyncConnection, jobs: Iterable[CopyJob | None]) -> None:
    """`copy_rows` (without `returning`) of each job in turn, overlapped: the next job is taken from `jobs` and
    its records are built while PostgreSQL moves the previous table's rows.

    A batch's history tables are written one after the other on one connection, each a COPY then a moving
    statement in which PostgreSQL spends ~10 ms a ledger on its indexes, while the ingesting process waited; now
    that wait builds the next table's records (the `_records` conversions, and whatever `jobs` does to yield a
    job: the caller's checks), which took ~11 ms a ledger of Python on the write path (issue 16). The
    connection still runs one statement at a time: the Python work in between only touches rows. A job of None
    or with no rows is skipped."""
    moving: asyncio.Future[Any] | None = None
    try:
        for job in jobs:
            if job is None or not job[1]:
                continue
            table, rows, on_conflict = job
            plan = _plan(table, conn.dialect, on_conflict)
            records = _payload(plan, rows)
            if moving is not None:
                await moving
                moving = None
            await _stage(conn, plan, records)
            moving = asyncio.ensure_future(conn.execute(plan.move))
            await asyncio.sleep(0)  # the moving statement is sent: build the next records while it runs
        if moving is not None:
            await moving
            moving = None
    except BaseException:
        # A job or its records failed while a statement ran: the connection must be idle again before the
        # caller's transaction rolls back (asyncpg refuses a second operation in progress).
        # Waited for even if this task is cancelled again meanwhile: the statement's end is the connection's.
        while moving is not None and not moving.done():
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.shield(moving)
        if moving is not None and not moving.cancelled():
            moving.exception()  # retrieved: the first failure is the one raised
        raise


async def _stage(conn: AsyncConnection, plan: _Plan, records: bytes | list[tuple[Any, ...]]) -> None:
    """The staging table created if this session has none yet, and `records` (a binary COPY payload, or records
    for asyncpg to encode) copied into it."""
    # Executed through SQLAlchemy first, so that the connection's transaction has begun (the asyncpg adapter
    # starts it lazily, on the first statement) before COPY runs on the driver's connection.
    await conn.execute(plan.create)
    raw = await conn.get_raw_connection()
    driver: Any = raw.driver_connection
    if not driver.is_in_transaction():
        # ON COMMIT DELETE ROWS would empty the staging table between the COPY and the move: nothing stored.
        raise RuntimeError("copy_rows needs a transaction (engine.begin()), not an autocommit connection")
    # The rows an earlier write of this transaction staged here are still there (the moving statement leaves
    # them): gone first, or they would be moved again. Kept per DBAPI connection (its `info` outlives checkouts,
    # as the session's staging tables do); the transaction object is held, so `is` cannot match a new one.
    transaction = conn.sync_connection.get_transaction() if conn.sync_connection is not None else None
    staged: dict[str, Any] = raw.info.setdefault(_STAGED_INFO, {})
    if transaction is None or staged.get(plan.staging) is transaction:  # unknown transaction: empty it anyway
        await conn.execute(plan.empty)
    staged[plan.staging] = transaction
    if isinstance(records, bytes):
        # A memoryview: asyncpg would take bytes for a file's path (`os.fspath`).
        await driver.copy_to_table(
            plan.staging,
            source=memoryview(records),
            columns=plan.names,
            schema_name="pg_temp",
            format="binary",
        )
    else:
        await driver.copy_records_to_table(
            plan.staging, records=records, columns=plan.names, schema_name="pg_temp"
        )


def _compiled_encoder() -> Any:
    """`storage._copybin.encode`, from ``OBSRVR_COPYBIN``: unset or ``auto``, when it is built (else None: the
    Python path); ``python``, None; ``c``, required (an ImportError without it: CI and the Dockerfile's image check
    that it was compiled)."""
    choice = os.environ.get(COPYBIN_ENV_VAR, "auto")
    if choice not in ("auto", "c", "python"):
        raise ValueError(f"{COPYBIN_ENV_VAR}={choice!r}: auto, c or python")
    if choice == "python":
        return None
    try:
        return importlib.import_module("storage._copybin").encode
    except ImportError:
        if choice == "c":
            raise
        return None


binary_encoder: Any = _compiled_encoder()


def _payload(plan: _Plan, rows: Sequence[Mapping[str, Any]]) -> bytes | list[tuple[Any, ...]]:
    """The binary COPY payload of `rows` built in C (`storage._copybin`), or, when it is not built or some value
    is not one it writes, the records `_records` builds for asyncpg to encode. Same bytes on the wire either way:
    building each row's tuple and converting its cells, then asyncpg's encoding of each cell, were ~13 and ~7 ms of
    a mainnet ledger's ~115 ms of CPU in one ingesting process, the largest block left (issue 16)."""
    encode = binary_encoder
    if encode is not None and plan.binary_kinds is not None:
        payload = encode(rows, plan.names, plan.binary_kinds, plan.binary_converters)
        if payload is not None:
            return payload
    return _records(plan, rows)


def _records(plan: _Plan, rows: Sequence[Mapping[str, Any]]) -> list[tuple[Any, ...]]:
    # Built in C as much as possible: `itemgetter` takes every row's values as a tuple, `zip` turns them into
    # columns, the converters are mapped over their column, and `zip` makes the records (row by row, a list per
    # row, converters per cell and a tuple per row, cost about twice as much in the ingestion profile, issue 16).
    # A row without some column (NULL there) takes the slower `.get` path. The columns of `_REPEATING_TYPES`
    # hold a handful of values per batch (the ledgers' close times, booleans): each distinct value is converted
    # once (keyed by type too, so that 1 and True stay apart).
    if not rows:
        return []
    try:
        columns: list[Sequence[Any]] = list(zip(*map(plan.getter, rows), strict=True))
    except KeyError:
        columns = [[row.get(name) for row in rows] for name in plan.names]
    if len(plan.names) == 1:  # itemgetter of one name gives the value itself, not a 1-tuple
        columns = [[row.get(plan.names[0]) for row in rows]]
    for position, convert in plan.converters:
        column = columns[position]
        if position in plan.amounts:
            columns[position] = _amount_texts(column, convert)
        elif position in plan.repeating:
            converted: dict[tuple[type, Any], Any] = {}
            for value in column:
                if (type(value), value) not in converted:
                    converted[(type(value), value)] = convert(value)
            columns[position] = [converted[(type(value), value)] for value in column]
        else:
            columns[position] = list(map(convert, column))
    return list(zip(*columns, strict=True))


def _amount_texts(column: Sequence[Any], convert: Callable[[Any], Any]) -> list[str | None]:
    kinds = set(map(type, column))
    if kinds == {int}:
        return list(map(str, column))
    if _PLAIN_AMOUNT_TYPES.issuperset(kinds):
        return [None if value is None else str(value) for value in column]
    # Anything else (text, a Decimal, a bool) as the bind processor makes it: `Decimal(int(value))`, whose text
    # is the integer's digits (exponent 0).
    converted = map(convert, column)
    return [None if value is None else str(value) for value in converted]


def _naive(convert: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """`UTCDateTime`'s bind processor (an aware UTC datetime), then the same UTC time without its tzinfo: what
    the staging table's ``timestamp`` column takes."""

    def naive(value: Any) -> Any:
        aware = convert(value)
        return None if aware is None else aware.replace(tzinfo=None)

    return naive
