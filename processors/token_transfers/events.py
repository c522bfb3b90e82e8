"""Read one CAP-67 / SEP-41 token event (``transfer``, ``mint``, ``burn``, ``clawback``, ``fee``).

Topic layouts (REFERENCE §3). The Stellar Asset Contract (SAC) appends the SEP-11 asset string as the last
topic; custom SEP-41 tokens have no such topic. Before protocol 23 ``mint`` and ``clawback`` also named the
admin, so both carry one or two addresses:

| event | addresses after the name | data |
|---|---|---|
| ``fee`` (transaction level only) | from | i128, negative for a refund |
| ``transfer`` | from, to | i128, or map ``{amount, to_muxed_id}`` |
| ``mint`` | to — or admin, to | same as transfer |
| ``burn`` | from | i128 |
| ``clawback`` | from — or admin, from | i128 |

An event that does not fit (another name, a missing address, no integer amount) is not a token movement and
is skipped: any contract may emit a topic called ``transfer``.
"""

from __future__ import annotations

from typing import NamedTuple

from ledgers.model import ContractEvent
from ledgers.scval import ScValue
from processors.scvalues import shared

__all__ = ["OPERATION_EVENT_NAMES", "Movement", "read_movement", "topic_name", "topic_reads"]

# Names read from operation-level events. ``fee`` is only a CAP-67 fee at transaction level: a contract
# emitting a "fee" topic from an operation is not charging a network fee.
OPERATION_EVENT_NAMES = frozenset({"transfer", "mint", "burn", "clawback"})
# What `topic_reads` read of topics, by XDR; bounded, emptied when full.
_READS: dict[bytes, tuple[str | None, str | None, str | None]] = {}
_READS_MAX = 1 << 13


class Movement(NamedTuple):
    """What a token event moved; the asset is still the raw topic string (see `assets.classify`)."""

    event_type: str
    from_: str | None
    to: str | None
    asset_string: str | None  # the SEP-11 asset topic, None for custom-token layouts
    amount: int
    to_muxed_id: str | None


def read_movement(event: ContractEvent, name: str) -> Movement | None:
    """The movement of `event`, whose first topic is the symbol `name`; None if the layout does not fit."""
    topics = [topic_reads(topic) for topic in event.topics]
    asset_string = topics[-1][1]
    end = len(topics) - 1 if asset_string is not None else len(topics)
    addresses = []
    for address, _, _ in topics[1:end]:
        if address is None:
            return None
        addresses.append(address)
    count = len(addresses)
    if name == "transfer":
        if count != 2:
            return None
        sender, receiver = addresses
    elif name == "mint":
        if count not in (1, 2):
            return None
        sender, receiver = None, addresses[-1]  # the admin, when named, is not a party to the movement
    elif count == 1 or (count == 2 and name == "clawback"):
        sender, receiver = addresses[-1], None  # burn, fee, clawback (admin, from)
    else:
        return None
    amount, to_muxed_id = _amount(shared(event.data))
    if amount is None:
        return None
    return Movement(name, sender, receiver, asset_string, amount, to_muxed_id)


def topic_reads(topic: ScValue) -> tuple[str | None, str | None, str | None]:
    """``(topic.address, topic.string, topic.symbol)``, kept per distinct XDR: the same accounts, names and asset
    strings come back event after event, and one lookup here replaced a shared value and three accessors per
    topic (issue 16). Exact: each accessor is a function of the XDR (`processors.scvalues`)."""
    encoded = topic.xdr if topic.has_xdr else None
    found = _READS.get(encoded) if encoded is not None else None
    if found is None:
        value = shared(topic)
        found = (value.address, value.string, value.symbol)
        if encoded is not None:
            if len(_READS) >= _READS_MAX:
                _READS.clear()  # bounded; a cold table costs only reading again
            _READS[encoded] = found
    return found


def topic_name(event: ContractEvent) -> str | None:
    """The first topic of `event` as a symbol (its name), None when it has no topic or that is no symbol."""
    topics = event.topics
    return topic_reads(topics[0])[2] if topics else None


def _amount(data: ScValue) -> tuple[int | None, str | None]:
    """The amount of an event's data: an integer, or the map ``{amount, to_muxed_id}`` (CAP-67 muxed form)."""
    amount = data.int
    if amount is not None:
        return amount, None
    value = data.map_get("amount")
    if value is None:
        return None, None
    muxed = data.map_get("to_muxed_id")
    return value.int, None if muxed is None else muxed_id_text(muxed)


def muxed_id_text(value: ScValue) -> str | None:
    """``to_muxed_id`` as text: a u64 muxed id in decimal, a string memo as is, a bytes (hash) memo as hex."""
    number = value.int
    if number is not None:
        return str(number)
    text = value.string
    if text is not None:
        return text
    raw = value.bytes
    return None if raw is None else raw.hex()
