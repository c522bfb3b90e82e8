"""One pass over the real ledger corpus per test session: every ledger reduced to a small `LedgerFacts`.

Decoding the 413 ledgers is the expensive part (~20 s of stellar-sdk decode on one core), so each ledger is
decoded once, fully materialized (transactions, operations, events, every entry change) and reduced to a
record; the view is dropped before the next ledger, which keeps memory flat. Tests assert on the records, so
each keeps its own name and message. The pass runs in worker processes (one per core, at most 2 by default):
only the small records travel back. Workers pause the cyclic collector: the view's object graph is acyclic
(reference counting frees each ledger), and collections over a live ledger would double the pass time.
"""

from __future__ import annotations

import gc
import json
import os
import traceback
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from ledgers.corpus import iter_corpus, iter_file, network_passphrase_for
from ledgers.model import ContractEvent, EntryChange, Transaction, pair_changes
from ledgers.scval import scval_from_json
from ledgers.view import LedgerView

CLAIM_ATOM_NAMES = {
    "order_book_v0": "CLAIM_ATOM_TYPE_V0",
    "order_book": "CLAIM_ATOM_TYPE_ORDER_BOOK",
    "liquidity_pool": "CLAIM_ATOM_TYPE_LIQUIDITY_POOL",
}
SOROBAN_OPS = frozenset({"INVOKE_HOST_FUNCTION", "EXTEND_FOOTPRINT_TTL", "RESTORE_FOOTPRINT"})


@dataclass
class LedgerFacts:
    """What the corpus-wide tests need to know about one ledger."""

    file: str
    index: int  # position within its file
    error: str | None = None
    summary: dict[str, Any] = field(
        default_factory=dict
    )  # ledger_summary.json's fields, derived from the view
    has_unified_events: bool = False
    fee_event_txs: int = 0
    fee_event_mismatches: list[tuple[int, int, int]] = field(default_factory=list)
    fee_balance_mismatches: list[tuple[int, int, int]] = field(default_factory=list)
    scvals_checked: int = 0
    scval_failures: list[str] = field(default_factory=list)
    changes_total: int = 0
    changes_in_order: int = 0
    order_violations: list[str] = field(default_factory=list)
    data_hashes_without_ttl: int = 0
    data_hashes_created: int = 0


def _account_delta(changes: tuple[EntryChange, ...], account: str) -> int:
    delta = 0
    for diff in pair_changes(changes):
        if diff.key.entry_type == "account" and diff.key.account_id == account:
            before = diff.before.balance if diff.before is not None else 0  # type: ignore[union-attr]
            after = diff.after.balance if diff.after is not None else 0  # type: ignore[union-attr]
            delta += after - before
    return delta


def _check_scvals(facts: LedgerFacts, events: list[ContractEvent]) -> None:
    for event in events:
        for value in (*event.topics, event.data):
            facts.scvals_checked += 1
            try:
                rebuilt = scval_from_json(json.loads(json.dumps(value.to_typed_json())))
                json.dumps(value.to_json())  # the friendly form must be plain JSON too
            except Exception as exc:
                facts.scval_failures.append(f"{value.xdr_b64}: {exc!r}")
                continue
            if rebuilt.xdr != value.xdr:
                facts.scval_failures.append(f"{value.xdr_b64} rebuilt as {rebuilt.xdr_b64}")


def _summarize(view: LedgerView, facts: LedgerFacts) -> None:
    txs = view.transactions
    ops = [op for tx in txs for op in tx.operations]
    claim_atoms: Counter[str] = Counter()
    for op in ops:
        if op.result is not None:
            claim_atoms.update(CLAIM_ATOM_NAMES[atom.kind] for atom in op.result.claim_atoms)
    path_payments = [op for op in ops if op.type.startswith("PATH_PAYMENT")]
    op_events = [event for tx in txs for event in tx.contract_events]
    facts.summary = {
        "seq": view.sequence,
        "protocol": view.protocol_version,
        "close_time": view.close_time,
        "lcm_version": view.lcm_version,
        "tx_count": len(txs),
        "txset_envelopes": view.tx_set_size,
        "tx_success": sum(tx.successful for tx in txs),
        "op_histogram": dict(Counter(op.type for op in ops)),
        "op_count": len(ops),
        "tx_meta_versions": {str(k): n for k, n in Counter(tx.meta_version for tx in txs).items()},
        "claim_atoms": dict(claim_atoms),
        "path_payment_ops": len(path_payments),
        "path_payment_ok": sum(op.successful for op in path_payments),
        "lp_ops": sum(op.type.startswith("LIQUIDITY_POOL_") for op in ops),
        "invoke_host_fn": sum(op.type == "INVOKE_HOST_FUNCTION" for op in ops),
        "contract_events": {
            "tx_level(fee)": sum(len(tx.events) for tx in txs),
            "diagnostic": sum(len(tx.diagnostic_events) for tx in txs),
            "CONTRACT": len(op_events),
        },
        "event_topic0": dict(Counter(e.topic0 if e.topic0 is not None else "?" for e in op_events)),
    }


def _check_fees(tx: Transaction, facts: LedgerFacts) -> None:
    fee_events = tx.fee_events
    if fee_events:
        facts.fee_event_txs += 1
        net = sum(tx_event.event.data.int or 0 for tx_event in fee_events)
        if net != tx.fee_charged:
            facts.fee_event_mismatches.append((tx.index, net, tx.fee_charged))
    # Fee processing charges the fee payer up front; Soroban refunds come back in the changes after the
    # transaction (protocols 20-22) or after all transactions (23+). What stays charged is fee_charged.
    payer = tx.fee_payer
    charged = -_account_delta(tx.fee_changes, payer)
    refunded = _account_delta(tx.post_apply_fee_changes, payer)
    if any(op.type in SOROBAN_OPS for op in tx.operations):
        refunded += _account_delta(tx.changes_after, payer)
    if charged - refunded != tx.fee_charged:
        facts.fee_balance_mismatches.append((tx.index, charged - refunded, tx.fee_charged))


def _check_changes(view: LedgerView, facts: LedgerFacts) -> None:
    lists: list[tuple[EntryChange, ...]] = []
    for tx in view.transactions:
        lists += [tx.fee_changes, tx.changes_before, tx.changes_after, tx.post_apply_fee_changes]
        lists += [op.changes for op in tx.operations]
    lists += [upgrade.changes for upgrade in view.upgrade_changes]
    facts.changes_total = sum(len(changes) for changes in lists)
    previous: EntryChange | None = None
    ttl_hashes: set[str] = set()
    data_hashes: set[str] = set()
    for _tx, _op, change in view.ledger_changes_in_order():
        facts.changes_in_order += 1
        # Meta lists an entry's prior state right before its update or removal.
        if change.kind in ("updated", "removed") and (
            previous is None or previous.kind != "state" or previous.key.id != change.key.id
        ):
            facts.order_violations.append(f"{change.kind} {change.key.id} not preceded by its state")
        if change.kind == "created" and change.entry_type == "ttl":
            ttl_hashes.add(change.key.key_hash or "")
        if change.kind == "created" and change.entry_type == "contract_data":
            data_hashes.add(change.key.key_hash or "")
        previous = change
    facts.data_hashes_created += len(data_hashes)
    facts.data_hashes_without_ttl += len(data_hashes - ttl_hashes)


def ledger_facts(relative: str, index: int, raw: bytes) -> LedgerFacts:
    facts = LedgerFacts(relative, index)
    try:
        view = LedgerView.from_xdr(raw, network_passphrase_for(relative))
        _summarize(view, facts)
        facts.has_unified_events = view.has_unified_events
        for tx in view.transactions:
            _check_fees(tx, facts)
            events = [tx_event.event for tx_event in tx.events]
            events += [*tx.contract_events, *tx.diagnostic_events]
            _check_scvals(facts, events)
        _check_changes(view, facts)
    except Exception:
        facts.error = traceback.format_exc(limit=8)
    return facts


def _facts_of_chunk(root: str, relative: str, indexes: list[int]) -> list[LedgerFacts]:
    gc.disable()
    wanted = set(indexes)
    out = []
    for index, raw in enumerate(iter_file(Path(root) / relative)):
        if index in wanted:
            out.append(ledger_facts(relative, index, raw))
    return out


def _chunks(root: Path, size: int = 5) -> list[tuple[str, list[int]]]:
    counts: Counter[str] = Counter(relative for relative, _ in iter_corpus(root))
    chunks = []
    for relative, count in counts.items():
        for start in range(0, count, size):
            chunks.append((relative, list(range(start, min(start + size, count)))))
    return chunks


def collect_facts(root: Path, workers: int | None = None) -> list[LedgerFacts]:
    """Facts of every ledger under `root`, in (file, index) order.

    ``OBSRVR_TEST_WORKERS`` overrides the number of worker processes (0 = run in this process).
    """
    if workers is None:
        workers = int(os.environ.get("OBSRVR_TEST_WORKERS", min(2, os.cpu_count() or 1)))
    chunks = _chunks(root)
    if workers <= 0:
        results = [_facts_of_chunk(str(root), relative, indexes) for relative, indexes in chunks]
        gc.enable()
    else:
        # spawn, not fork: the test process may hold threads (event loops, drivers) that fork would copy.
        with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn")) as pool:
            futures = [
                pool.submit(_facts_of_chunk, str(root), relative, indexes) for relative, indexes in chunks
            ]
            results = [future.result() for future in futures]
    return sorted((facts for chunk in results for facts in chunk), key=lambda f: (f.file, f.index))
