"""`frozen_model`: the decorator of the model types `LedgerView` hands out, frozen for type checkers, cheap to build.

A ``@dataclass(frozen=True)`` ``__init__`` stores each field through ``object.__setattr__`` (a global lookup and a
call per field): measured on Python 3.11, building an 8-field frozen slotted dataclass costs ~5x a plain slotted
one, and the fast decoder builds hundreds of thousands of these per ledger. So the runtime class is a plain
slotted dataclass (``self.field = value`` stores straight into the slot) with the frozen dataclass's equality and
field hash (``eq=True, unsafe_hash=True``), while `typing.dataclass_transform` with ``frozen_default=True`` makes
mypy treat every decorated class as frozen: an assignment to a field is refused when the project is type-checked
(``make lint``), which is where processors are checked.

Refusing mutation at run time as well was measured and left out: a ``__setattr__`` that raises also intercepts
the ``__init__``'s stores, and every way around it costs per object (a ``__class__`` swap after a plain build:
~2-3x the plain build; descriptor ``__set__`` calls per field: ~3x). See docs/decisions.md (branch ``models``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TypeVar, dataclass_transform

_T = TypeVar("_T")


@dataclass_transform(frozen_default=True, eq_default=True, field_specifiers=(field,))
def frozen_model(cls: type[_T]) -> type[_T]:
    """A slotted dataclass, frozen for type checkers, hashed and compared by field like a frozen dataclass."""
    return dataclass(slots=True, eq=True, unsafe_hash=True)(cls)
