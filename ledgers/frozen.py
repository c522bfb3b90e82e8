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

import dataclasses
import inspect
from collections.abc import Callable
from dataclasses import MISSING, dataclass, field
from typing import Any, TypeVar, dataclass_transform

_T = TypeVar("_T")


@dataclass_transform(frozen_default=True, eq_default=True, field_specifiers=(field,))
def frozen_model(cls: type[_T]) -> type[_T]:
    """A slotted dataclass, frozen for type checkers, hashed and compared by field like a frozen dataclass."""
    return dataclass(slots=True, eq=True, unsafe_hash=True)(cls)


def compiled_maker(cls: type[_T], maker: Callable[..., Any] | None) -> Callable[..., _T]:
    """What the compiled builders (``ledgers._fastchanges``) call to build a `frozen_model` `cls` from its fields'
    values in order: `maker` (``ledgers._fastchanges.maker``, None when it is not in use) made for `cls`, which
    fills the new object's slots without running ``__init__`` (a Python frame per object, ~5x the fill), or `cls`
    itself whenever the fill might not build what ``cls(*args)`` builds (docs/decisions.md "slots19").

    The fill stores each argument, or the field's default, in the field's slot. That is all ``__init__`` does only
    when it is the one `dataclass` generated (not one of the class's own), takes exactly the fields, in order, by
    position, with their defaults (no ``InitVar``, ``kw_only`` or ``init=False`` field, no default factory), calls
    no ``__post_init__``, and the class neither intercepts attribute stores (``__setattr__``) nor construction
    (a metaclass, ``__new__``). The compiled side refuses, and this then returns `cls` for, a class with any
    attribute that is not one of those slots."""
    if maker is None or not dataclasses.is_dataclass(cls) or not cls.__dataclass_params__.init:  # type: ignore[attr-defined]
        return cls
    init = cls.__dict__.get("__init__")
    if (
        init is None
        or getattr(init, "__code__", None) is None
        or init.__code__.co_filename != "<string>"  # dataclass's generated methods are compiled from text
        or hasattr(cls, "__post_init__")
        or type(cls) is not type
        or cls.__setattr__ is not object.__setattr__
        or cls.__new__ is not object.__new__
    ):
        return cls
    fields = dataclasses.fields(cls)
    if any(not f.init or f.kw_only or f.default_factory is not MISSING for f in fields):
        return cls
    parameters = list(inspect.signature(init).parameters.values())[1:]  # after self
    expected = [(f.name, inspect.Parameter.POSITIONAL_OR_KEYWORD) for f in fields]
    if [(p.name, p.kind) for p in parameters] != expected:  # an InitVar is a parameter and no field
        return cls
    defaults = [f.default for f in fields if f.default is not MISSING]
    if any(
        p.default is not d
        for p, d in zip(parameters[len(parameters) - len(defaults) :], defaults, strict=True)
    ):
        return cls
    try:
        made: Callable[..., _T] = maker(cls, tuple(f.name for f in fields), tuple(defaults))
    except (TypeError, ValueError):  # not a plain slotted class (a subclass, a __dict__ ...)
        return cls
    return made
