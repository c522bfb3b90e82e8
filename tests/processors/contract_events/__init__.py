# mypy: disable-error-code="union-attr"
# (stellar-sdk types every XDR union arm as Optional; the walks read the arms the data holds.)
"""Tests of the ContractEventProcessor on the real ledger corpus, and what they check of each ledger.

Decoding a mainnet ledger takes ~0.4 s, so each corpus ledger is decoded once per session for every processor
package (tests/corpus.py): `walk_events`, a direct walk of the XDR that does not use `LedgerView`, reads the
ledger as stellar-sdk alone decodes it, and the extractor reads it through a `LedgerView`. Only the rows and the
walk's findings are kept (`corpus_ledger`): a decoded ledger is ~1M Python objects, which would slow every later
garbage collection.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stellar_sdk import xdr as x

from tests import corpus
from tests.corpus import MAINNET_20

__all__ = ["MAINNET_20", "CorpusLedger", "Walk", "corpus_ledger"]


_SUCCESS = (x.TransactionResultCode.txSUCCESS, x.TransactionResultCode.txFEE_BUMP_INNER_SUCCESS)


@dataclass(frozen=True)
class Walk:
    """What the direct XDR walk counts in one ledger.

    ``topic0``: operation-level events (meta v4 operations, meta v3 Soroban meta) by topic 0 symbol or string
    (None otherwise); ``diagnostic_kept``: diagnostic-stream entries that are not replays of those events (a
    replay: inner type contract/system, inside a successful call of a successful transaction);
    ``diagnostic_total``: every diagnostic-stream entry; ``v4_events_xdr``: see below.
    """

    topic0: Counter[str | None]
    diagnostic_kept: int
    diagnostic_total: int
    # each operation-level event of a meta v4 ledger, in order: (its topics' XDR, its data's XDR), base64
    v4_events_xdr: tuple[tuple[tuple[str, ...], str], ...]

    @property
    def events(self) -> int:
        return sum(self.topic0.values())


def walk_events(meta: x.LedgerCloseMeta) -> Walk:
    """Count a ledger's contract events straight from stellar-sdk's decoded XDR (independent of LedgerView)."""
    lcm = meta.v0 or meta.v1 or meta.v2
    topic0: Counter[str | None] = Counter()
    kept = total = 0
    v4_events: list[tuple[tuple[str, ...], str]] = []
    for processing in lcm.tx_processing:
        tx_meta = processing.tx_apply_processing
        ok = processing.result.result.result.code in _SUCCESS
        events: list[x.ContractEvent] = []
        diagnostics: list[x.DiagnosticEvent] = []
        if tx_meta.v4 is not None:
            for op_meta in tx_meta.v4.operations:
                events.extend(op_meta.events)
            diagnostics = tx_meta.v4.diagnostic_events or []
            v4_events += [
                (tuple(topic.to_xdr() for topic in event.body.v0.topics), event.body.v0.data.to_xdr())
                for event in events
            ]
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
    return Walk(topic0, kept, total, tuple(v4_events))


@dataclass(frozen=True)
class CorpusLedger:
    """One corpus ledger: where it is, its sequence, the extracted rows, the direct walk's findings and the type
    of each operation (its view's, by (transaction index, operation index))."""

    file: str
    index: int
    sequence: int
    passphrase: str
    rows: tuple[dict[str, Any], ...]
    walk: Walk
    operation_types: dict[tuple[int, int], str]


@corpus.facts("contract_events")
def _facts(decoded: corpus.Decoded) -> tuple[Walk, dict[tuple[int, int], str]]:
    operation_types = {
        (tx_index, op_index): operation.type
        for tx_index, tx in enumerate(decoded.view.transactions, start=1)
        for op_index, operation in enumerate(tx.operations, start=1)
    }
    return walk_events(decoded.meta), operation_types


def corpus_ledger(root: Path, file: str, index: int = 0) -> CorpusLedger:
    """Ledger number `index` of corpus `file`: rows, walk and operation types (decoded once per session)."""
    ledger = corpus.ledger(root, file, index)
    walk, operation_types = ledger.facts("contract_events")
    return CorpusLedger(
        file,
        index,
        ledger.sequence,
        ledger.passphrase,
        tuple(ledger.rows("contract_events")),
        walk,
        operation_types,
    )
