"""Contract events straight from the bytes, for the fast decoder (`ledgers.fast`).

The same `ContractEvent` / `TransactionEvent` objects `ledgers.events` builds from stellar-sdk's, except that
topics and data are `ScValue.from_xdr_bytes`: decoded by stellar-sdk only if a processor reads more than their
XDR or first symbol. Meta v4 keeps events per operation, per transaction (fees) and diagnostic.

With the compiled implementation (`ledgers.skippers`), ``ledgers._fastchanges.events`` builds a whole list in C;
when it finds anything it does not expect it returns None and the list is read here instead.
"""

from __future__ import annotations

import struct
from typing import Any

from ledgers import skippers, xdrconv
from ledgers.events import _EVENT_TYPES, _STAGES
from ledgers.frozen import compiled_maker
from ledgers.model import ContractEvent, TransactionEvent
from ledgers.scval import ScValue

__all__ = ["diagnostic_events_at", "events_at", "transaction_events_at"]

_U32 = struct.Struct(">L").unpack_from
_I32 = struct.Struct(">l").unpack_from
_EVENT_TYPE_NAMES = {kind.value: name for kind, name in _EVENT_TYPES.items()}
_STAGE_NAMES = {stage.value: name for stage, name in _STAGES.items()}
_CONTRACT_EVENTS, _DIAGNOSTIC_EVENTS, _TRANSACTION_EVENTS = 0, 1, 2  # the shapes of the compiled builder


def _by_value(names: dict[int, str]) -> tuple[str, ...]:
    assert sorted(names) == list(range(len(names))), names  # the compiled builder indexes by value
    return tuple(names[value] for value in range(len(names)))


# What ``ledgers._fastchanges.events`` builds with, in the order of its ``EV_*`` indices. (``skip_SCVal`` is
# looked up per call: `ledgers.skippers.use` swaps it.)
def _events_context() -> tuple[object, ...]:
    maker = skippers.slot_maker
    return (
        compiled_maker(ContractEvent, maker),
        compiled_maker(TransactionEvent, maker),
        _value_maker(maker),
        skippers.skip_SCVal,
        xdrconv.contract_strkey,
        _by_value(_EVENT_TYPE_NAMES),
        _by_value(_STAGE_NAMES),
    )


_CONTEXTS: dict[object, tuple[object, ...]] = {}


def _value_maker(maker: Any) -> Any:
    """`ScValue.from_xdr_bytes`, or the compiled maker of the same object (its bytes, no decoded value, its scalar
    not read yet), slot by slot (`ledgers.frozen.compiled_maker`)."""
    if maker is None:
        return ScValue.from_xdr_bytes
    return maker(ScValue, ("_xdr", "_decoded", "_scalar"), (None, False))


def _compiled(raw: bytes, o: int, shape: int) -> tuple[object, ...] | None:
    """The list at `o` built by the compiled builder, or None (not in use, or it declined the bytes)."""
    build = skippers.entry_events
    if build is None:
        return None
    context = _CONTEXTS.get(build)
    if context is None:
        context = _CONTEXTS[build] = _events_context()
    built: tuple[object, ...] | None = build(raw, o + 4, _U32(raw, o)[0], shape, context)
    return built


def _event_at(
    raw: bytes, o: int, in_successful_contract_call: bool | None = None
) -> tuple[ContractEvent, int]:
    """The ``ContractEvent`` at `o` (after its ExtensionPoint) and the offset after it."""
    o += 4
    contract = None
    if _U32(raw, o)[0]:
        contract = xdrconv.contract_strkey(raw[o + 4 : o + 36])
        o += 36
    else:
        o += 4
    kind = _EVENT_TYPE_NAMES[_I32(raw, o)[0]]
    count = _U32(raw, o + 8)[0]  # after the type and the body's version (0)
    o += 12
    topics = []
    for _ in range(count):
        end = skippers.skip_SCVal(raw, o)
        topics.append(ScValue.from_xdr_bytes(raw[o:end]))
        o = end
    end = skippers.skip_SCVal(raw, o)
    data = ScValue.from_xdr_bytes(raw[o:end])
    event = ContractEvent(
        kind, contract, tuple(topics), data, in_successful_contract_call
    )  # positional: cheaper
    return event, end


def events_at(raw: bytes, o: int) -> tuple[ContractEvent, ...]:
    """The ``ContractEvent<>`` list at `o`."""
    built = _compiled(raw, o, _CONTRACT_EVENTS)
    if built is not None:
        return built  # type: ignore[return-value]
    out = []
    count = _U32(raw, o)[0]
    o += 4
    for _ in range(count):
        event, o = _event_at(raw, o)
        out.append(event)
    return tuple(out)


def diagnostic_events_at(raw: bytes, o: int) -> tuple[ContractEvent, ...]:
    """The ``DiagnosticEvent<>`` list at `o` (each: in successful call, then the event)."""
    built = _compiled(raw, o, _DIAGNOSTIC_EVENTS)
    if built is not None:
        return built  # type: ignore[return-value]
    out = []
    count = _U32(raw, o)[0]
    o += 4
    for _ in range(count):
        event, o = _event_at(raw, o + 4, bool(_U32(raw, o)[0]))
        out.append(event)
    return tuple(out)


def transaction_events_at(raw: bytes, o: int) -> tuple[TransactionEvent, ...]:
    """The ``TransactionEvent<>`` list at `o` (each: stage, then the event)."""
    built = _compiled(raw, o, _TRANSACTION_EVENTS)
    if built is not None:
        return built  # type: ignore[return-value]
    out = []
    count = _U32(raw, o)[0]
    o += 4
    for _ in range(count):
        stage = _STAGE_NAMES[_I32(raw, o)[0]]
        event, o = _event_at(raw, o + 4)
        out.append(TransactionEvent(stage, event))
    return tuple(out)
