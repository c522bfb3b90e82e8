"""Tenant config of the ContractEventProcessor (Soroban contract events)."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BaseModel, StringConstraints
from pydantic_core import PydanticCustomError

from processors.config_types import CONFIG_MODEL_CONFIG, ContractAddress

EventType = Annotated[str, StringConstraints(min_length=1, max_length=64)]

MAX_TOPICS = 4  # a Soroban event has at most four topics


def _topic_pattern(pattern: list[str]) -> list[str]:
    # Same rules as Stellar RPC getEvents: `*` matches one topic, `**` (last only) matches the rest.
    if not 1 <= len(pattern) <= MAX_TOPICS:
        raise PydanticCustomError("topic_pattern", "a topic pattern has 1 to 4 positions")
    for position, segment in enumerate(pattern):
        if not segment:
            raise PydanticCustomError("topic_pattern", "a topic position cannot be empty (use * for any)")
        if segment == "**" and position != len(pattern) - 1:
            raise PydanticCustomError("topic_pattern", "** is only allowed in the last position")
    return pattern


TopicPattern = Annotated[list[str], AfterValidator(_topic_pattern)]
"""Positional topic filter, e.g. ``["transfer", "*", "GA..."]`` or ``["mint", "**"]``."""


class ContractEventConfig(BaseModel):
    """Which contract events the tenant keeps. Empty filter lists mean "all"."""

    model_config = CONFIG_MODEL_CONFIG

    contracts: list[ContractAddress] = []
    event_types: list[EventType] = []
    """Values of topic 0 (usually a symbol such as ``transfer``)."""
    topics: list[TopicPattern] = []
    """An event is kept when it matches any pattern. Literals compare with the topic's JSON form."""
    include_failed: bool = False
    """Keep events of failed transactions (only diagnostic events exist for them)."""
    include_diagnostics: bool = False
    """Keep diagnostic events, which are not part of consensus."""
