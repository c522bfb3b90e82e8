"""Generate the XDR skippers: one skip function per XDR type of stellar-sdk, from the schema in its docstrings.

XDR has no length prefixes, so a decoder that materialises only part of a ledger must still parse every byte of
the rest to find where the next value starts. Writing a skipper by hand for the ~480 types of the schema would
be long and would drift from the protocol; stellar-sdk's generated classes carry the XDR definition of each
type in their docstring (``XDR Source Code::``), so this module parses those definitions and emits Python
functions ``skip_<Type>(b, o) -> o`` that walk a value starting at offset ``o`` of ``b`` and return the offset
just after it, raising `SkipError` on anything stellar-sdk's own ``unpack`` would reject (an unknown union arm
or enum value, a string or opaque over its bound, an array longer than the bytes left) and ``struct.error``
on a read past the end.

Fixed-size types collapse to one offset addition; arrays of fixed-size types are skipped by multiplication.

Each type's walk is described once (`_Walks`: a list of steps) and rendered twice: as Python (``ledgers/xdrskip.py``)
and as a C extension (``ledgers/_xdrskip.c``, `ledgers.skipgen_c`), so both skippers accept and refuse the same
bytes; `ledgers.skippers` picks the compiled one when it is built.

Run ``python -m ledgers.skipgen`` to rewrite both files; tests/ledgers/test_skipgen.py checks the committed files
are what the generator gives for the installed stellar-sdk, so an upgrade of stellar-sdk that changes the schema
fails that test until they are regenerated (then ``make install`` recompiles the C one).
"""

from __future__ import annotations

import hashlib
import inspect
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stellar_sdk import xdr as x
from stellar_sdk.xdr import constants as xdr_constants

__all__ = ["generate", "generate_c", "main"]

_TOKEN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*|0x[0-9A-Fa-f]+|-?\d+|[{}();:<>\[\]*=,]")
_PRIMITIVE_SIZES = {
    "int": 4,
    "unsigned int": 4,
    "float": 4,
    "hyper": 8,
    "unsigned hyper": 8,
    "double": 8,
    "int32": 4,
    "uint32": 4,
    "int64": 8,
    "uint64": 8,
}


# -- the schema ---------------------------------------------------------------------------------------------------
@dataclass
class Decl:
    """One declaration: ``kind`` plain|fixed|var|optional|void, of type `type` (a name, or an inline Def)."""

    kind: str
    type: Any = None
    bound: int | None = None  # fixed length, or maximum of a variable one (None: unbounded)


@dataclass
class Def:
    """A struct, union, enum or typedef (``name`` empty for an inline one)."""

    kind: str
    name: str = ""
    fields: list[Decl] = field(default_factory=list)  # struct fields; typedef: one
    discriminant: Any = None  # union: the discriminant's type name
    arms: list[tuple[list[str], Decl]] = field(default_factory=list)  # union: (case labels, declaration)
    default: Decl | None = None  # union default arm


class _Parser:
    def __init__(self, text: str) -> None:
        text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
        text = re.sub(r"//[^\n]*", " ", text)
        self.tokens = _TOKEN.findall(text)
        self.i = 0

    def peek(self) -> str:
        return self.tokens[self.i] if self.i < len(self.tokens) else ""

    def take(self, expected: str | None = None) -> str:
        token = self.tokens[self.i]
        if expected is not None and token != expected:
            raise SyntaxError(f"expected {expected!r}, got {token!r} at token {self.i}")
        self.i += 1
        return token

    def definition(self) -> Def:
        keyword = self.take()
        if keyword == "typedef":
            decl, name = self.declaration()
            return Def("typedef", name, [decl])
        name = self.take() if self.peek() not in ("{", "switch") else ""
        return self.body(keyword, name)

    def body(self, keyword: str, name: str) -> Def:
        if keyword == "struct":
            self.take("{")
            fields = []
            while self.peek() != "}":
                decl, _ = self.declaration()
                self.take(";")
                fields.append(decl)
            self.take("}")
            return Def("struct", name, fields)
        if keyword == "enum":
            self.take("{")
            while self.take() != "}":
                pass
            return Def("enum", name)
        if keyword == "union":
            self.take("switch")
            self.take("(")
            disc = self.typespec()
            self.take()  # the discriminant's name
            self.take(")")
            self.take("{")
            union = Def("union", name, discriminant=disc)
            labels: list[str] = []
            while self.peek() != "}":
                if self.peek() == "case":
                    self.take()
                    labels.append(self.take())
                    self.take(":")
                    continue
                if self.peek() == "default":
                    self.take()
                    self.take(":")
                    union.default, _ = self.declaration()
                    self.take(";")
                    continue
                decl, _ = self.declaration()
                self.take(";")
                union.arms.append((labels, decl))
                labels = []
            self.take("}")
            return union
        raise SyntaxError(f"unknown definition {keyword!r}")

    def typespec(self) -> Any:
        word = self.take()
        if word == "unsigned":
            if self.peek() in ("int", "hyper"):
                return "unsigned " + self.take()
            return "unsigned int"
        if word in ("struct", "union", "enum"):
            return self.body(word, "")
        return word

    def declaration(self) -> tuple[Decl, str]:
        if self.peek() == "void":
            self.take()
            return Decl("void"), ""
        spec = self.typespec()
        if self.peek() == "*":
            self.take()
            return Decl("optional", spec), self.take()
        name = self.take()
        if self.peek() == "[":
            self.take()
            size = self.constant(self.take())
            self.take("]")
            return Decl("fixed", spec, size), name
        if self.peek() == "<":
            self.take()
            bound = None if self.peek() == ">" else self.constant(self.take())
            self.take(">")
            return Decl("var", spec, bound), name
        return Decl("plain", spec), name

    @staticmethod
    def constant(token: str) -> int:
        if token[0].isdigit() or token[0] == "-":
            return int(token, 0)
        return int(getattr(xdr_constants, token))


def _schema() -> dict[str, tuple[Def, Any]]:
    """Every named type of stellar-sdk's XDR: name → (definition, sdk class)."""
    out: dict[str, tuple[Def, Any]] = {}
    for name in sorted(dir(x)):
        cls = getattr(x, name)
        if not inspect.isclass(cls) or not cls.__module__.startswith("stellar_sdk.xdr."):
            continue
        doc = cls.__doc__ or ""
        if "XDR Source Code::" not in doc:
            continue
        definition = _Parser(doc.split("XDR Source Code::", 1)[1]).definition()
        if definition.name:  # inline (anonymous) types are walked inside the type that declares them
            out[definition.name] = (definition, cls)
    return out


# -- the walk of each type (one description, two renderings) ----------------------------------------------------
# A type's walk is a list of steps, rendered as Python (`_PythonRenderer`, ledgers/xdrskip.py) and as C
# (`ledgers.skipgen_c`, ledgers/_xdrskip.c), so both skippers follow the same rules by construction:
#   ("add", n)                      advance n bytes (a fixed-size part, not read)
#   ("bool",)                       a bool word, 0 or 1
#   ("enum", name)                  an enum word, one of `name`'s values
#   ("call", name)                  the walk of type `name` (its own function)
#   ("bytes", "opaque"|"string", bound)   a variable opaque or string, bound None if unbounded
#   ("optional", steps)             a presence flag (0 or 1), then `steps` if 1
#   ("repeat", count, steps)        `steps` `count` times (a fixed-length array of variable-size values)
#   ("array_fixed", size)           a count, then count values of `size` bytes each
#   ("array", steps)                a count, then `steps` count times
#   ("union", name, arms, default)  a discriminant; arms: (values, steps); default: steps, or None (unknown arm)
Step = tuple[Any, ...]


class _Walks:
    """The schema, with the steps of every type's walk."""

    def __init__(self) -> None:
        self.schema = _schema()
        self.sizes: dict[str, int | None] = {}

    # Fixed sizes: a type's size when every value of it has the same length, else None.
    def size(self, spec: Any) -> int | None:
        if isinstance(spec, Def):
            return self.def_size(spec)
        if spec in _PRIMITIVE_SIZES:
            return _PRIMITIVE_SIZES[spec]
        if spec in ("opaque", "string", "bool"):
            return None  # a bool's value is checked (spec_steps), so it is not collapsed into a fixed size
        if spec not in self.sizes:
            self.sizes[spec] = None  # recursion guard: recursive types are not fixed
            self.sizes[spec] = self.def_size(self.schema[spec][0])
        return self.sizes[spec]

    def def_size(self, d: Def) -> int | None:
        if d.kind == "enum":
            return None  # values are checked, so not collapsed
        if d.kind == "union":
            return None
        total = 0
        for decl in d.fields:
            one = self.decl_size(decl)
            if one is None:
                return None
            total += one
        return total

    def decl_size(self, decl: Decl) -> int | None:
        if decl.kind == "void":
            return 0
        if decl.kind in ("var", "optional"):
            return None
        if decl.type in ("opaque", "string"):
            if decl.kind == "fixed":
                return (_bound(decl) + 3) // 4 * 4
            return None
        one = self.size(decl.type)
        if one is None:
            return None
        return one * _bound(decl) if decl.kind == "fixed" else one

    def enum_values(self, name: str) -> list[int]:
        return sorted(int(member.value) for member in self.schema[name][1])

    def label_value(self, disc: Any, label: str) -> int:
        if re.fullmatch(r"-?\d+|0x[0-9A-Fa-f]+", label):
            return int(label, 0)
        if isinstance(disc, str) and disc in self.schema:
            return int(self.schema[disc][1][label].value)
        raise SyntaxError(f"cannot resolve case label {label!r} of a union on {disc!r}")

    def spec_steps(self, spec: Any) -> list[Step]:
        fixed = self.size(spec)
        if fixed is not None:
            return [("add", fixed)] if fixed else []
        if isinstance(spec, Def):
            return self.def_steps(spec)
        if spec == "bool":
            # stellar-sdk reads any non-zero word as True and writes 1 back: a 2 would be handed out as raw
            # bytes (ScValue, a contract data key's hash) that differ from the sdk path's, so it is refused.
            return [("bool",)]
        if self.schema[spec][0].kind == "enum":
            return [("enum", spec)]
        return [("call", spec)]

    def decl_steps(self, decl: Decl) -> list[Step]:
        if decl.kind == "void":
            return []
        spec = decl.type
        if spec in ("opaque", "string"):
            if decl.kind == "fixed":
                return [("add", (_bound(decl) + 3) // 4 * 4)]
            # stellar-sdk ignores the padding; a non-zero pad is refused so that a value handed out as its raw
            # bytes (ScValue) is always the canonical encoding stellar-sdk would write back.
            return [("bytes", spec, decl.bound)]
        if decl.kind == "plain":
            return self.spec_steps(spec)
        if decl.kind == "optional":
            # The presence flag must be 0 or 1, for the reason a bool must (see spec_steps).
            return [("optional", self.spec_steps(spec))]
        one = self.size(spec)
        if decl.kind == "fixed":
            if one is not None:
                return [("add", one * _bound(decl))]
            return [("repeat", _bound(decl), self.spec_steps(spec))]
        # stellar-sdk refuses a count larger than the bytes left; so do both skippers.
        if one is not None:
            return [("array_fixed", one)]
        return [("array", self.spec_steps(spec))]

    def def_steps(self, d: Def) -> list[Step]:
        if d.kind == "struct":
            return [step for decl in d.fields for step in self.decl_steps(decl)]
        if d.kind == "typedef":
            return self.decl_steps(d.fields[0])
        if d.kind == "union":
            arms = [
                (sorted({self.label_value(d.discriminant, label) for label in labels}), self.decl_steps(decl))
                for labels, decl in d.arms
            ]
            default = None if d.default is None else self.decl_steps(d.default)
            return [("union", d.name or "union", arms, default)]
        raise SyntaxError(f"cannot walk {d.kind}")

    def type_steps(self, name: str) -> list[Step]:
        """The steps of ``skip_<name>``."""
        d = self.schema[name][0]
        return self.spec_steps(name) if d.kind == "enum" else self.def_steps(d)

    def all_steps(self) -> dict[str, list[Step]]:
        """Every named type's steps, in name order."""
        return {name: self.type_steps(name) for name in self.schema}


def schema_digest(walks: dict[str, list[Step]]) -> str:
    """A digest of every walk: both generated modules carry it, so a compiled module built from another schema
    than the Python one (a stale build) is recognised and not used (`ledgers.skippers`)."""
    return hashlib.sha256(repr(sorted(walks.items())).encode()).hexdigest()[:16]


class _PythonRenderer:
    def __init__(self, walks: _Walks) -> None:
        self.walks = walks
        self.lines: list[str] = []  # module-level constants (enum value sets), in first-use order
        self.enum_sets: dict[str, str] = {}

    def enum_const(self, name: str) -> str:
        if name not in self.enum_sets:
            const = f"_E_{name}"
            self.enum_sets[name] = const
            self.lines.append(f"{const} = frozenset({self.walks.enum_values(name)!r})")
        return self.enum_sets[name]

    def render(self, steps: list[Step], indent: str, body: list[str], depth: int) -> None:
        for step in steps:
            self.render_step(step, indent, body, depth)

    def block(self, steps: list[Step], indent: str, body: list[str], depth: int) -> None:
        inner: list[str] = []
        self.render(steps, indent, inner, depth)
        body.extend(inner or [f"{indent}pass"])

    def render_step(self, step: Step, indent: str, body: list[str], depth: int) -> None:
        kind = step[0]
        if kind == "add":
            body.append(f"{indent}o += {step[1]}")
        elif kind == "bool":
            body.append(f"{indent}if _U32(b, o)[0] > 1:")
            body.append(f"{indent}    raise SkipError('non-canonical bool')")
            body.append(f"{indent}o += 4")
        elif kind == "enum":
            body.append(f"{indent}if _I32(b, o)[0] not in {self.enum_const(step[1])}:")
            body.append(f"{indent}    raise SkipError('invalid {step[1]} value')")
            body.append(f"{indent}o += 4")
        elif kind == "call":
            body.append(f"{indent}o = skip_{step[1]}(b, o)")
        elif kind == "bytes":
            _, spec, bound = step
            n = f"n{depth}"
            body.append(f"{indent}{n} = _U32(b, o)[0]")
            if bound is not None:
                body.append(f"{indent}if {n} > {bound}:")
                body.append(f"{indent}    raise SkipError('{spec} over its bound')")
            body.append(f"{indent}if {n} & 3 and any(b[o + 4 + {n} : o + 4 + ({n} + 3) // 4 * 4]):")
            body.append(f"{indent}    raise SkipError('non-zero padding')")
            body.append(f"{indent}o += 4 + ({n} + 3) // 4 * 4")
        elif kind == "optional":
            body.append(f"{indent}if _U32(b, o)[0] > 1:")
            body.append(f"{indent}    raise SkipError('non-canonical optional flag')")
            body.append(f"{indent}if _U32(b, o)[0]:")
            body.append(f"{indent}    o += 4")
            self.block(step[1], indent + "    ", body, depth + 1)
            body.append(f"{indent}else:")
            body.append(f"{indent}    o += 4")
        elif kind == "repeat":
            body.append(f"{indent}for _ in range({step[1]}):")
            self.render(step[2], indent + "    ", body, depth + 1)
        elif kind in ("array_fixed", "array"):
            n = f"n{depth}"
            body.append(f"{indent}{n} = _U32(b, o)[0]")
            body.append(f"{indent}o += 4")
            body.append(f"{indent}if {n} > len(b) - o:")
            body.append(f"{indent}    raise SkipError('array longer than the bytes left')")
            if kind == "array_fixed":
                if step[1]:
                    body.append(f"{indent}o += {n} * {step[1]}")
            else:
                body.append(f"{indent}for _ in range({n}):")
                self.render(step[1], indent + "    ", body, depth + 1)
        elif kind == "union":
            self.render_union(step, indent, body, depth)
        else:
            raise SyntaxError(f"unknown step {kind!r}")

    def render_union(self, step: Step, indent: str, body: list[str], depth: int) -> None:
        _, name, arms, default = step
        v = f"v{depth}"
        body.append(f"{indent}{v} = _I32(b, o)[0]")
        body.append(f"{indent}o += 4")
        keyword = "if"
        for values, steps in arms:
            test = f"{v} == {values[0]}" if len(values) == 1 else f"{v} in {tuple(values)!r}"
            body.append(f"{indent}{keyword} {test}:")
            self.block(steps, indent + "    ", body, depth + 1)
            keyword = "elif"
        if default is not None:
            if keyword == "if":  # no case arm: the default's steps run unconditionally
                self.render(default, indent, body, depth + 1)
            else:
                body.append(f"{indent}else:")
                self.block(default, indent + "    ", body, depth + 1)
        else:
            body.append(f"{indent}else:")
            body.append(f"{indent}    raise UnknownArm({name!r}, {v})")

    def function(self, name: str, steps: list[Step]) -> list[str]:
        body: list[str] = []
        self.render(steps, "    ", body, 0)
        return [f"def skip_{name}(b: Any, o: int) -> int:", *body, "    return o", "", ""]

    def module(self, walks: dict[str, list[Step]]) -> str:
        functions: list[str] = []
        for name, steps in walks.items():
            functions.extend(self.function(name, steps))
        header = [
            '"""Generated by ``python -m ledgers.skipgen`` from stellar-sdk '
            f'{_sdk_version()}\'s XDR schema: do not edit (see `ledgers.skipgen`)."""',
            "",
            "# ruff: noqa",
            "# mypy: ignore-errors",
            "from __future__ import annotations",
            "",
            "import struct",
            "from typing import Any",
            "",
            f"SCHEMA = {schema_digest(walks)!r}",
            "",
            "_U32 = struct.Struct('>L').unpack_from",
            "_I32 = struct.Struct('>l').unpack_from",
            "",
            "",
            "class SkipError(ValueError):",
            '    """Bytes stellar-sdk would refuse (bound, enum value, array count)."""',
            "",
            "",
            "class UnknownArm(SkipError):",
            '    """A union discriminant the schema does not know (a newer protocol, or corrupt bytes)."""',
            "",
            "    def __init__(self, union: str, value: int) -> None:",
            "        super().__init__(f'unknown arm {value} of {union}')",
            "        self.union = union",
            "        self.value = value",
            "",
            "",
        ]
        return "\n".join(header + self.lines + ["", ""] + functions).rstrip() + "\n"


def _bound(decl: Decl) -> int:
    if decl.bound is None:
        raise SyntaxError("a fixed-length declaration without its length")
    return decl.bound


def _sdk_version() -> str:
    from stellar_sdk import __version__

    return str(__version__.__version__) if hasattr(__version__, "__version__") else str(__version__)


def generate() -> str:
    """The text of ``ledgers/xdrskip.py`` for the installed stellar-sdk."""
    walks = _Walks()
    return _PythonRenderer(walks).module(walks.all_steps())


def generate_c() -> str:
    """The text of ``ledgers/_xdrskip.c`` (the same walks as `generate`, compiled: `ledgers.skipgen_c`)."""
    from ledgers.skipgen_c import render_c

    walks = _Walks()
    steps = walks.all_steps()
    header = (
        f"Generated by `python -m ledgers.skipgen` from stellar-sdk {_sdk_version()}'s XDR schema: do not edit "
        "(see ledgers/skipgen.py, ledgers/skipgen_c.py)."
    )
    return render_c(steps, walks.enum_values, schema_digest(steps), header)


def main() -> None:
    here = Path(__file__).parent
    for name, text in (("xdrskip.py", generate()), ("_xdrskip.c", generate_c())):
        (here / name).write_text(text)
        print(f"wrote {here / name}")


if __name__ == "__main__":
    main()
