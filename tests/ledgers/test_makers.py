"""The compiled makers (``ledgers._fastchanges.maker``, `ledgers.frozen.compiled_maker`): objects filled slot by
slot are the objects their class builds, and a class the fill could get wrong is refused or left to its own
``__init__``.

That the decoder's rows are the same with them is the corpus equivalence (test_fast_decoder.py, test_fastchanges.py
compare the compiled builders, which use the makers, with the Python readers, which do not).
"""

from __future__ import annotations

import dataclasses
import sys
from typing import Any

import pytest

from ledgers import fastentries, fastevents, skippers
from ledgers.entry_types import AccountEntry, EntryChange, EntryKey, OfferEntry, TrustlineEntry, TtlEntry
from ledgers.frozen import compiled_maker, frozen_model
from ledgers.model import ContractEvent, TransactionEvent
from ledgers.scval import ScValue
from tests.ledgers import skipimpl

pytestmark = pytest.mark.skipif(
    "c" not in skipimpl.available(),
    reason="the compiled decoder parts (ledgers._fastchanges) are not built here",
)

MODELS = (
    EntryChange,
    AccountEntry,
    TrustlineEntry,
    OfferEntry,
    TtlEntry,
    EntryKey,
    ContractEvent,
    TransactionEvent,
)


def _maker() -> Any:
    from ledgers import _fastchanges  # type: ignore[attr-defined]

    return _fastchanges.maker


def _slots(obj: object) -> dict[str, Any]:
    return {name: getattr(obj, name) for name in type(obj).__slots__}  # type: ignore[attr-defined]


@pytest.mark.parametrize("cls", MODELS, ids=lambda cls: cls.__name__)
def test_a_made_object_is_the_one_its_class_builds(cls: type) -> None:
    make = compiled_maker(cls, _maker())
    assert make is not cls, f"{cls.__name__} is built by its __init__, not filled"
    fields = dataclasses.fields(cls)
    required = [f for f in fields if f.default is dataclasses.MISSING]
    # A distinct object per field: a value stored in another field's slot shows.
    values = [object() for _ in fields]
    for args in (values, values[: len(required)]):
        made, built = make(*args), cls(*args)
        assert type(made) is cls
        assert _slots(made) == _slots(built)
        assert all(getattr(made, f.name) is getattr(built, f.name) for f in fields)
        assert made == built and hash(made) == hash(built) and repr(made) == repr(built)
    # Each made object holds each of its values once and gives them back when freed: none leaked, none dropped.
    before = [sys.getrefcount(value) for value in values]
    made_many = [make(*values) for _ in range(100)]
    assert [sys.getrefcount(value) for value in values] == [count + 100 for count in before]
    del made_many
    assert [sys.getrefcount(value) for value in values] == before
    with pytest.raises(TypeError, match="positional arguments"):
        make(*values, "one too many")
    with pytest.raises(TypeError, match="positional arguments"):
        make(*values[: len(required) - 1])
    with pytest.raises(TypeError, match="positional arguments only"):
        make(**{fields[0].name: values[0]})


_FIRST_DEFAULT, _SECOND_DEFAULT = object(), object()


@frozen_model
class _WithDefaults:
    required: object
    first: object = _FIRST_DEFAULT
    second: object = _SECOND_DEFAULT


def test_defaults_fill_the_slots_left_out_and_are_held_by_each_object() -> None:
    make = compiled_maker(_WithDefaults, _maker())
    assert make is not _WithDefaults
    given = object()
    made = make(given)
    assert (made.required, made.first, made.second) == (given, _FIRST_DEFAULT, _SECOND_DEFAULT)
    assert made == _WithDefaults(given)
    assert make(given, given).first is given
    before = sys.getrefcount(_FIRST_DEFAULT), sys.getrefcount(_SECOND_DEFAULT)
    made_many = [make(given) for _ in range(50)]
    assert (sys.getrefcount(_FIRST_DEFAULT), sys.getrefcount(_SECOND_DEFAULT)) == (
        before[0] + 50,
        before[1] + 50,
    )
    del made_many
    assert (sys.getrefcount(_FIRST_DEFAULT), sys.getrefcount(_SECOND_DEFAULT)) == before


def test_a_maker_holds_its_class_and_defaults_while_it_lives() -> None:
    counts = sys.getrefcount(_WithDefaults), sys.getrefcount(_FIRST_DEFAULT)
    makers = [
        _maker()(_WithDefaults, ("required", "first", "second"), (_FIRST_DEFAULT, None)) for _ in range(10)
    ]
    assert sys.getrefcount(_WithDefaults) == counts[0] + 10
    assert sys.getrefcount(_FIRST_DEFAULT) == counts[1] + 10
    del makers
    assert (sys.getrefcount(_WithDefaults), sys.getrefcount(_FIRST_DEFAULT)) == counts


def test_a_made_value_is_what_from_xdr_bytes_gives() -> None:
    make = fastevents._value_maker(_maker())
    data = bytes.fromhex("0000000f000000087472616e73666572")  # SCV_SYMBOL "transfer"
    made, read = make(data), ScValue.from_xdr_bytes(data)
    assert type(made) is ScValue
    assert _slots(made) == _slots(read)
    assert made == read and made.to_json() == read.to_json() == "transfer"


def test_the_builders_contexts_hold_makers_only_with_the_compiled_parts() -> None:
    previous = skippers.implementation()
    try:
        for name in ("python", "c"):
            skippers.use(name)
            entries, events = fastentries._changes_context(), fastevents._events_context()
            made = [type(item).__name__ == "Maker" for item in (*entries[:6], *events[:3])]
            assert made == [name == "c"] * 9
    finally:
        skippers.use(previous)


def _classes_whose_init_does_more() -> list[type]:
    @frozen_model
    class Checked:
        value: int

        def __post_init__(self) -> None:
            if self.value < 0:
                raise ValueError("negative")

    @frozen_model
    class Listed:
        items: list[int] = dataclasses.field(default_factory=list)

    @frozen_model
    class Derived:
        value: int
        double: int = dataclasses.field(init=False, default=0)

    @frozen_model
    class WithInitVar:
        value: int
        scale: dataclasses.InitVar[int]
        scaled: int = 0

    @frozen_model
    class KeywordOnly:
        value: int = dataclasses.field(kw_only=True)
        other: int = 0

    @frozen_model
    class OwnInit:
        code: str

        def __init__(self, code: str) -> None:
            self.code = code.lower()

    @dataclasses.dataclass(slots=True, init=False)
    class NoGeneratedInit:
        value: int

    class Counting(type):
        def __call__(cls, *args: Any) -> Any:
            return super().__call__(*args)

    @frozen_model
    class WithMetaclass(metaclass=Counting):
        value: int

    @frozen_model
    class GuardedStores:
        value: int

        def __setattr__(self, name: str, value: Any) -> None:
            object.__setattr__(self, name, value)

    @dataclasses.dataclass
    class NotSlotted:
        value: int

    @frozen_model
    class Base:
        value: int

    @frozen_model
    class Sub(Base):
        other: int = 0

    return [
        Checked, Listed, Derived, WithInitVar, KeywordOnly, OwnInit, NoGeneratedInit, WithMetaclass, GuardedStores,
        NotSlotted, Sub,
    ]  # fmt: skip


@pytest.mark.parametrize("cls", _classes_whose_init_does_more(), ids=lambda cls: cls.__name__)
def test_a_class_whose_init_does_more_is_left_to_it(cls: type) -> None:
    assert compiled_maker(cls, _maker()) is cls


def test_without_the_compiled_maker_the_class_builds_itself() -> None:
    assert compiled_maker(EntryChange, None) is EntryChange


class _Plain:
    def __init__(self, a: int) -> None:
        self.a = a


class _Slotted:
    __slots__ = ("a", "b")


class _Sub(_Slotted):
    __slots__ = ("c",)


class _OwnNew:
    __slots__ = ("a",)

    def __new__(cls) -> _OwnNew:
        return super().__new__(cls)


@pytest.mark.parametrize(
    ("cls", "names", "defaults", "error"),
    [
        (_Plain, ("a",), (), TypeError),  # attributes in a __dict__
        (_Sub, ("a", "b", "c"), (), TypeError),  # slots of a base class too
        (_OwnNew, ("a",), (), TypeError),  # its own __new__
        (int, (), (), TypeError),  # not a heap type
        (_Slotted, ("a",), (), ValueError),  # a slot left unset
        (_Slotted, ("a", "a"), (), ValueError),  # named twice
        (_Slotted, ("a", "z"), (), ValueError),  # not a slot
        (_Slotted, ("a", "b"), (1, 2, 3), ValueError),  # more defaults than names
        (_Slotted, ("a", 2), (), TypeError),  # a name that is not a str
    ],
    ids=["dict", "subclass", "own-new", "builtin", "unset", "twice", "unknown", "defaults", "not-str"],
)
def test_the_maker_refuses_what_it_could_fill_wrongly(
    cls: type, names: tuple[Any, ...], defaults: tuple[Any, ...], error: type[Exception]
) -> None:
    with pytest.raises(error, match="maker"):
        _maker()(cls, names, defaults)


def test_a_plain_slotted_class_is_filled_by_name_not_slot_order() -> None:
    make = _maker()(_Slotted, ("b", "a"), ("second",))  # slots are stored sorted: a, b
    made = make("first")
    assert (made.a, made.b) == ("second", "first")
    assert "maker of" in repr(make)
