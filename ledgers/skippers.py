"""The XDR skippers the fast decoder walks with: compiled (`ledgers._xdrskip`) when built, else pure Python.

Both are generated from the same walks (`ledgers.skipgen`: ``ledgers/xdrskip.py`` and ``ledgers/_xdrskip.c``) and
accept and refuse the same bytes with the same errors. This is the one place that decides which one runs, at
import, from ``OBSRVR_XDRSKIP``:

- unset or ``auto``: the compiled module when it is importable and was generated from the same schema as
  ``xdrskip.py`` (a build left from an older ``_xdrskip.c`` is ignored, with a warning), else the Python one;
- ``python``: the Python one (the fallback, forced);
- ``c``: the compiled one, and an ``ImportError`` when it is not built (the Dockerfile checks its image so).

The decoder's modules call ``skippers.skip_<Type>(raw, offset)``; `use` switches the implementation in place
(tests run the fast decoder with both). `SkipError` and `UnknownArm` are the classes both raise.

The same choice covers the compiled builder of entry changes (``ledgers._fastchanges``, hand-written C built
beside ``_xdrskip``): ``entry_changes`` and ``entry_events`` are its ``changes`` and ``events`` functions with
``c``, None with ``python`` (then `ledgers.fastentries` and `ledgers.fastevents` read everything in Python);
``strkey`` is its strkey encoder with ``c`` (~20x stellar-sdk's, which `ledgers.xdrconv` uses otherwise: the same
strings), and ``slot_maker`` its ``maker`` (the model objects those builders make, filled slot by slot:
`ledgers.frozen.compiled_maker`). ``c`` requires both modules; ``auto`` picks ``c`` when both are built.
"""

from __future__ import annotations

import importlib
import os
import warnings
from types import ModuleType
from typing import Any

from ledgers import xdrskip

__all__ = [
    "IMPLEMENTATIONS",
    "SkipError",
    "UnknownArm",
    "entry_changes",
    "entry_events",
    "implementation",
    "slot_maker",
    "strkey",
    "use",
]

SkipError = xdrskip.SkipError
UnknownArm = xdrskip.UnknownArm
IMPLEMENTATIONS = ("c", "python")
ENV_VAR = "OBSRVR_XDRSKIP"

_current: list[str] = []
entry_changes: Any = None  # ledgers._fastchanges.changes when the compiled implementation is in use
entry_events: Any = None  # ledgers._fastchanges.events likewise
strkey: Any = None  # ledgers._fastchanges.strkey likewise
slot_maker: Any = None  # ledgers._fastchanges.maker likewise


def compiled() -> ModuleType | None:
    """The compiled skippers, or None when they are not built or were built from another schema."""
    try:
        module = importlib.import_module("ledgers._xdrskip")
    except ImportError:
        return None
    if getattr(module, "SCHEMA", None) != xdrskip.SCHEMA:
        warnings.warn(
            f"ledgers._xdrskip was built from another schema ({getattr(module, 'SCHEMA', None)}) than "
            f"ledgers/xdrskip.py ({xdrskip.SCHEMA}): using the Python skippers; reinstall (make install) to rebuild",
            RuntimeWarning,
            stacklevel=2,
        )
        return None
    return module


def compiled_changes() -> ModuleType | None:
    """The compiled builder of entry changes and events (``ledgers._fastchanges``), or None when it is not built."""
    try:
        return importlib.import_module("ledgers._fastchanges")
    except ImportError:
        return None


def use(name: str) -> None:
    """Make ``skip_<Type>`` of this module the functions of implementation `name` (``c`` or ``python``)."""
    global entry_changes, entry_events, strkey, slot_maker
    if name == "python":
        module = xdrskip
        builder = None
    elif name == "c":
        found = compiled()
        if found is None:
            raise ImportError("the compiled XDR skippers (ledgers._xdrskip) are not built for this schema")
        builder = compiled_changes()
        if builder is None:
            raise ImportError("the compiled entry-change builder (ledgers._fastchanges) is not built")
        module = found
    else:
        raise ValueError(f"unknown XDR skipper {name!r} (c or python)")
    globals().update({key: value for key, value in vars(module).items() if key.startswith("skip_")})
    entry_changes = None if builder is None else builder.changes
    entry_events = None if builder is None else builder.events
    strkey = None if builder is None else builder.strkey
    slot_maker = None if builder is None else builder.maker
    _current[:] = [name]


def implementation() -> str:
    """``c`` or ``python``: the skippers in use."""
    return _current[0]


def _choose(setting: str) -> str:
    if setting in ("", "auto"):
        return "c" if compiled() is not None and compiled_changes() is not None else "python"
    if setting in IMPLEMENTATIONS:
        return setting
    raise ValueError(f"{ENV_VAR}={setting!r}: expected auto, c or python")


def __getattr__(name: str) -> Any:  # only for names `use` did not set: typing sees skip_<Type> as Any
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


use(_choose(os.environ.get(ENV_VAR, "auto").strip().lower()))
