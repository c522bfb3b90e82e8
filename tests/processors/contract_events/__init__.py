# mypy: disable-error-code="union-attr"
# (stellar-sdk types every XDR union arm as Optional; the walks read the arms the data holds.)
"""Tests of the ContractEventProcessor on the real ledger corpus, and their shared ledger cache.

Decoding a mainnet ledger with stellar-sdk takes ~0.4 s, so each corpus ledger these tests use is decoded once
per test run (`corpus_ledger`): the same decoded object is read by `walk_events`, a direct walk of the XDR
that does not use `LedgerView`, and by the extractor through a `LedgerView`. Only the rows and the walk's
counts are kept: a decoded ledger is ~1M Python objects, which would slow every later garbage collection.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from stellar_sdk import xdr as x

from ledgers.corpus import iter_file, network_passphrase_for
from ledgers.model import gc_paused
from ledgers.view import LedgerView
from processors.contract_events import processor

MAINNET_20 = tuple(f"wallet-backend/ledger-{seq}.xdr.gz" for seq in range(63092982, 63093002))
"""The 20 consecutive protocol-26 mainnet ledgers (LCM v2, meta v4)."""

_SUCCESS = (x.TransactionResultCode.txSUCCESS, x.TransactionResultCode.txFEE_BUMP_INNER_SUCCESS)


@dataclass(frozen=True)
class Walk:
    """What the direct XDR walk counts in one ledger.

    ``topic0``: operation-level events (meta v4 operations, meta v3 Soroban meta) by topic 0 symbol or string
    (None otherwise); ``diagnostic_kept``: diagnostic-stream entries that are not replays of those events (a
    replay: inner type contract/system, inside a successful call of a successful transaction);
    ``diagnostic_total``: every diagnostic-stream entry.
    """

    topic0: Counter[str | None]
    diagnostic_kept: int
    diagnostic_total: int

    @property
    def events(self) -> int:
        return sum(self.topic0.values())


def walk_events(meta: x.LedgerCloseMeta) -> Walk:
    """Count a ledger's contract events straight from stellar-sdk's decoded XDR (independent of LedgerView)."""
    lcm = meta.v0 or meta.v1 or meta.v2
    topic0: Counter[str | None] = Counter()
    kept = total = 0
    for processing in lcm.tx_processing:
        tx_meta = processing.tx_apply_processing
        ok = processing.result.result.result.code in _SUCCESS
        events: list[x.ContractEvent] = []
        diagnostics: list[x.DiagnosticEvent] = []
        if tx_meta.v4 is not None:
            for op_meta in tx_meta.v4.operations:
                events.extend(op_meta.events)
            diagnostics = tx_meta.v4.diagnostic_events or []
        elif tx_meta.v3 is not None and tx_meta.v3.soroban_meta is not None:
            events = tx_meta.v3.soroban_meta.events
            diagnostics = tx_meta.v3.soroban_meta.diagnostic_events
        for event in events:
            topics = event.body.v0.topics
            first = topics[0] if topics else None
            if first is not None and first.sym is not None:
                topic0[first.sym.sc_symbol.decode()] += 1
            elif first is not None and first.str is not None:
                topic0[first.str.sc_string.decode()] += 1
            else:
                topic0[None] += 1
        for diagnostic in diagnostics:
            total += 1
            replay = (
                diagnostic.event.type != x.ContractEventType.DIAGNOSTIC
                and diagnostic.in_successful_contract_call
                and ok
            )
            kept += not replay
    return Walk(topic0, kept, total)


@dataclass(frozen=True)
class CorpusLedger:
    """One corpus ledger: where it is, its sequence, the extracted rows and the direct walk's counts."""

    file: str
    index: int
    sequence: int
    passphrase: str
    rows: tuple[dict[str, Any], ...]
    walk: Walk


def raw_ledger(root: Path, file: str, index: int = 0) -> bytes:
    """The raw ``LedgerCloseMeta`` XDR of ledger number `index` of corpus `file`."""
    for position, raw in enumerate(iter_file(root / file)):
        if position == index:
            return raw
    raise LookupError(f"{file} holds no ledger #{index}")


def decode(raw: bytes) -> x.LedgerCloseMeta:
    with gc_paused():
        return x.LedgerCloseMeta.from_xdr_bytes(raw)


@cache
def corpus_ledger(root: Path, file: str, index: int = 0) -> CorpusLedger:
    """Ledger number `index` of corpus `file`, decoded, walked and extracted once per test run."""
    passphrase = network_passphrase_for(file)
    # The collector stays off until the decoded ledger is freed: re-enabled while it is alive, the collector
    # would traverse its ~1M objects (measured: more time than the decode itself).
    with gc_paused():
        meta = decode(raw_ledger(root, file, index))
        view = LedgerView(meta, passphrase)
        assert processor.extract is not None
        rows = processor.extract(view)["contract_events"]
        walk = walk_events(meta)
        sequence = view.sequence
        del view, meta
    return CorpusLedger(file, index, sequence, passphrase, tuple(rows), walk)
