"""Contract events of one ledger → ``contract_events`` rows (REFERENCE §4).

What is extracted, per transaction in apply order:

1. The operation-level events: meta v4 ``operations[j].events``, or meta v3 ``soroban_meta.events`` (attributed
   to operation 1, the single operation of a Soroban transaction). Types ``contract`` and ``system``. This
   includes the CAP-67 events that the Stellar Asset Contract emits for *classic* operations in meta v4
   (``transfer``/``mint``/``burn``/``clawback`` of payments, path payments, merges …): they carry a contract id
   and sit with the other operation events, and Stellar RPC ``getEvents`` returns them, so they are contract
   events here too. The transaction-level ``fee`` events of meta v4 are NOT extracted: they are no contract's
   output but fee accounting, and belong to token transfers.
2. The diagnostic stream (``diagnostic_events``), every row typed ``diagnostic`` whatever the inner type. The
   stream replays each event of a successful call (meta v3 copies them all; ledgers re-encoded to meta v4 even
   keep the pre-CAP-67 layout there), so an entry of inner type contract/system that is inside a successful
   call of a successful transaction is a duplicate of a row from (1) and is skipped. Everything else is kept:
   debugging output (``fn_call``, ``fn_return``, ``log``, ``error``, ``core_metrics`` …) and events of calls
   that were rolled back. Tenants see these only with ``include_diagnostics``.

Events of failed transactions are extracted with ``in_successful_tx = False`` (in practice a failed
transaction has only diagnostic events); the tenant filter drops them unless ``include_failed``.

Order key: ``event_index`` counts a transaction's events from 0 across its operations in order, then its
diagnostic events, so ``(ledger, transaction, operation, event)`` is unique. Diagnostic events belong to the
transaction; they are put on operation 1 when the transaction has a single operation (always so for Soroban),
else on operation 0 (transaction level).

Text columns: ``topic0..topic3`` hold `topic_text` of the first four topics (None past the last one).
``event_type`` is topic 0 as a symbol or string, None otherwise and for a string longer than 64 characters
(the column's width and the config's limit). Text holding NUL, which PostgreSQL text columns refuse, is
written as its JSON text (``"a\\u0000b"``) in ``topicN`` and gives no ``event_type``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from core.ids import row_id
from ledgers.model import ContractEvent, Transaction
from ledgers.scval import ScValue
from ledgers.view import LedgerView
from processors.scvalues import friendly_and_b64, xdr_b64

TABLE = "contract_events"
DIAGNOSTIC = "diagnostic"
_TOPIC_COLUMNS = 4  # topic0..topic3 (a Soroban event has at most four topics)
# The width of the `event_type` column and of the config's event types: a longer string topic gets None.
_EVENT_TYPE_MAX = 64
# Topic types whose text form is the value itself; every other type is written as canonical JSON text.
_TEXT_TYPES = frozenset({"symbol", "string", "address"})
# Base64 XDR of scalar values seen before, keyed by (type, friendly JSON): see `_xdr_b64`.
_XDR_MEMO: dict[tuple[str, Any], str] = {}
_XDR_MEMO_MAX = 1 << 16
# Forms of scalar topics read from their bytes, by XDR (see `_topic`); bounded lower than `_XDR_MEMO` for the
# ingesting process's memory: the 20 mainnet ledgers of bench/ingest.py hold ~5,000 distinct topics and values.
_TOPIC_MEMO: dict[bytes, tuple[Any, str, str, str | None]] = {}
_TOPIC_MEMO_MAX = 1 << 13
_REPLACEMENT = "\ufffd"


def extract(view: LedgerView) -> dict[str, list[dict[str, Any]]]:
    """Every contract, system and diagnostic event of `view` as a row of the ``contract_events`` table."""
    rows: list[dict[str, Any]] = []
    sequence = view.sequence
    closed_at = view.closed_at
    for tx in view.transactions:
        rows.extend(_transaction_rows(tx, sequence, closed_at))
    return {TABLE: rows}


def _transaction_rows(tx: Transaction, sequence: int, closed_at: Any) -> list[dict[str, Any]]:
    common = {
        "ledger_sequence": sequence,
        "closed_at": closed_at,
        "tx_hash": tx.hash,
        "transaction_index": tx.index,
        "in_successful_tx": tx.successful,
    }
    rows: list[dict[str, Any]] = []
    event_index = 0
    if tx.meta_version >= 3:  # no events before meta v3
        for op in tx.operations:
            for event in op.events:
                rows.append(_row(common, op.index, event_index, event, event.type))
                event_index += 1
        diagnostic_op = 1 if tx.operation_count == 1 else 0
        for event in _diagnostics_to_keep(tx):
            rows.append(_row(common, diagnostic_op, event_index, event, DIAGNOSTIC))
            event_index += 1
    return rows


def _diagnostics_to_keep(tx: Transaction) -> Iterable[ContractEvent]:
    """The diagnostic stream minus the replays of events already extracted (see the module docstring)."""
    for event in tx.diagnostic_events:
        if event.type != DIAGNOSTIC and event.in_successful_contract_call and tx.successful:
            continue
        yield event


def _row(
    common: dict[str, Any], op_index: int, event_index: int, event: ContractEvent, kind: str
) -> dict[str, Any]:
    topics_json: list[Any] = []
    topics_xdr: list[str] = []
    texts: list[str | None] = []
    event_type = None
    for topic in event.topics:
        value_json, value_xdr, text_form, topic_type = _topic(topic)
        if not topics_json:
            event_type = topic_type
        topics_json.append(value_json)
        topics_xdr.append(value_xdr)
        if len(texts) < _TOPIC_COLUMNS:
            texts.append(text_form)
    texts.extend([None] * (_TOPIC_COLUMNS - len(texts)))
    _, data_json, data_xdr = _forms(event.data)
    return {
        **common,
        "id": row_id(common["ledger_sequence"], common["transaction_index"], op_index, event_index),
        "operation_index": op_index,
        "event_index": event_index,
        "contract_id": event.contract_id,
        "type": kind,
        "event_type": event_type,
        "topics": topics_json,
        "topics_xdr": topics_xdr,
        "topic0": texts[0],
        "topic1": texts[1],
        "topic2": texts[2],
        "topic3": texts[3],
        "data": data_json,
        "data_xdr": data_xdr,
    }


def _topic(topic: ScValue) -> tuple[Any, str, str, str | None]:
    """A topic's friendly JSON, base64 XDR, text form and event type (the last two as `_text_form` and
    `_event_type` give them), kept per distinct XDR for a scalar: ~90% of a mainnet ledger's topics were seen
    before (`_xdr_b64`), and one lookup here replaced ~10 calls per topic (issue 16)."""
    encoded = topic.xdr if topic.has_xdr else None
    found = _TOPIC_MEMO.get(encoded) if encoded is not None else None
    if found is not None:
        return found
    value, value_json, value_xdr = _forms(topic)
    forms = (value_json, value_xdr, _text_form(value, value_json), _event_type(value, value_json))
    # Lists and objects are built per row (no row can change another's), so only scalars are kept.
    if encoded is not None and not isinstance(value_json, (list, dict)):
        if len(_TOPIC_MEMO) >= _TOPIC_MEMO_MAX:
            _TOPIC_MEMO.clear()  # bounded; a cold memo costs only the forms again
        _TOPIC_MEMO[encoded] = forms
    return forms


def _forms(value: ScValue) -> tuple[ScValue, Any, str]:
    """The shared value, its friendly JSON and its base64 XDR (one memo lookup for the fast decoder's values)."""
    found = friendly_and_b64(value)
    if found is not None:
        return found
    value_json = value.to_json()
    return value, value_json, _xdr_b64(value, value_json)


def topic_text(topic: ScValue) -> str:
    """The text form of a topic, as stored in ``topic0..topic3`` and matched by topic pattern literals:

    symbols, strings and addresses as they are (``transfer``, ``G…``), any other value as its canonical JSON
    text (an i128 ``"-5"`` with the quotes, a u32 ``7``, a vector ``["a",1]``).
    """
    return _text_form(topic, topic.to_json())


def _text_form(topic: ScValue, value: Any) -> str:
    if topic.type in _TEXT_TYPES and "\x00" not in value:
        return str(value)
    # Canonical JSON also covers text holding NUL, which PostgreSQL text columns refuse (JSON escapes it).
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def _event_type(topic: ScValue, value: Any) -> str | None:
    if topic.type not in ("symbol", "string") or len(value) > _EVENT_TYPE_MAX or "\x00" in value:
        return None
    return str(value)


def _xdr_b64(value: ScValue, friendly: Any) -> str:
    """``value.xdr_b64``, memoized for scalars.

    Re-encoding values to XDR with stellar-sdk is the largest cost of this extractor, and topics repeat a lot
    (``transfer``, ``native``, the same accounts: ~90% of a mainnet ledger's scalar topics were seen earlier in
    the same ledger). For a scalar the type and friendly JSON determine the XDR exactly, except for text
    holding U+FFFD, which may stand for invalid UTF-8 (decoded with replacement), so that is never memoized.
    A value read from its bytes (the fast decoder) has its XDR at hand: base64 of those, no memo lookup.
    """
    if value.has_xdr:
        return xdr_b64(value)
    if isinstance(friendly, (list, dict)) or (isinstance(friendly, str) and _REPLACEMENT in friendly):
        return value.xdr_b64
    key = (value.type, friendly)
    encoded = _XDR_MEMO.get(key)
    if encoded is None:
        if len(_XDR_MEMO) >= _XDR_MEMO_MAX:
            _XDR_MEMO.clear()  # bounded; a cold memo costs only re-encoding
        encoded = _XDR_MEMO[key] = value.xdr_b64
    return encoded
