# mypy: disable-error-code="union-attr,arg-type"
# (stellar-sdk types every XDR union arm as Optional; the discriminant checked beside each access guarantees it.)
"""XDR contract, diagnostic and transaction events → `ledgers.model` events."""

from __future__ import annotations

from collections.abc import Iterable

from stellar_sdk import xdr as x

from ledgers import xdrconv
from ledgers.model import ContractEvent, TransactionEvent
from ledgers.scval import ScValue

__all__ = ["convert_diagnostic_events", "convert_event", "convert_events", "convert_transaction_events"]

_EVENT_TYPES = {
    x.ContractEventType.SYSTEM: "system",
    x.ContractEventType.CONTRACT: "contract",
    x.ContractEventType.DIAGNOSTIC: "diagnostic",
}
_STAGES = {
    x.TransactionEventStage.TRANSACTION_EVENT_STAGE_BEFORE_ALL_TXS: "before_all_txs",
    x.TransactionEventStage.TRANSACTION_EVENT_STAGE_AFTER_TX: "after_tx",
    x.TransactionEventStage.TRANSACTION_EVENT_STAGE_AFTER_ALL_TXS: "after_all_txs",
}


def convert_event(event: x.ContractEvent, in_successful_contract_call: bool | None = None) -> ContractEvent:
    """One XDR ``ContractEvent``."""
    body = event.body.v0
    contract = event.contract_id
    return ContractEvent(
        type=_EVENT_TYPES[event.type],
        contract_id=None if contract is None else xdrconv.contract_strkey(contract.contract_id.hash),
        topics=tuple(ScValue(topic) for topic in body.topics),
        data=ScValue(body.data),
        in_successful_contract_call=in_successful_contract_call,
    )


def convert_events(events: Iterable[x.ContractEvent] | None) -> tuple[ContractEvent, ...]:
    """A list of XDR ``ContractEvent`` (None: no events)."""
    return () if events is None else tuple(convert_event(event) for event in events)


def convert_diagnostic_events(events: Iterable[x.DiagnosticEvent] | None) -> tuple[ContractEvent, ...]:
    """Diagnostic events keep their inner type (a contract event replayed in the diagnostic stream stays
    ``contract``) and carry ``in_successful_contract_call``."""
    if events is None:
        return ()
    return tuple(convert_event(d.event, bool(d.in_successful_contract_call)) for d in events)


def convert_transaction_events(events: Iterable[x.TransactionEvent] | None) -> tuple[TransactionEvent, ...]:
    """Meta v4 transaction-level events with their stage."""
    if events is None:
        return ()
    return tuple(TransactionEvent(_STAGES[e.stage], convert_event(e.event)) for e in events)
