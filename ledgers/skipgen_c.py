"""Render the walks of `ledgers.skipgen` as a C extension module, ``ledgers/_xdrskip.c`` (``ledgers._xdrskip``).

The compiled module has the functions of ``ledgers/xdrskip.py`` (``skip_<Type>(buffer, offset) -> offset``), with
the same acceptance rules because both are rendered from the same steps: the same `SkipError` / `UnknownArm`
(the classes of ``ledgers.xdrskip``, with the same messages) and ``struct.error`` on a read past the end (with
``struct``'s message). Inside C the types call each other as C functions over one buffer taken once per call.

Two things the Python skipper leaves to the interpreter are explicit here:
- nesting: every call of a type's walk counts one level; past `MAX_DEPTH` levels the walk raises
  ``RecursionError`` (what the Python skipper raises when the interpreter's stack runs out), so hostile input
  cannot overflow the C stack. stellar-sdk refuses values nested deeper than 512 types
  (``DEFAULT_XDR_MAX_DEPTH``), and a skipper's walk of a value has at most as many levels as stellar-sdk's
  unpack of it, so nothing stellar-sdk reads is refused;
- a negative start offset is refused with ``ValueError`` (``struct`` would count it from the end; no caller
  passes one).
"""

from __future__ import annotations

from typing import Any

__all__ = ["MAX_DEPTH", "render_c"]

MAX_DEPTH = 512

_PRELUDE = r"""
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>

#define MAX_DEPTH %(max_depth)d
#if defined(__GNUC__) || defined(__clang__)
#define UNLIKELY(x) __builtin_expect(!!(x), 0)
#else
#define UNLIKELY(x) (x)
#endif

typedef struct {
    const unsigned char *b;
    int64_t n;
    int depth;
} Walk;

static PyObject *SkipError, *UnknownArm, *StructError;

/* Errors: each sets the Python exception and returns -1, the walk's "failed" offset (offsets are >= 0). */
static int64_t short_read(const Walk *w, int64_t o) {
    PyErr_Format(StructError,
                 "unpack_from requires a buffer of at least %%lld bytes for unpacking 4 bytes at offset %%lld "
                 "(actual buffer size is %%lld)",
                 (long long)(o + 4), (long long)o, (long long)w->n);
    return -1;
}

static int64_t skip_error(const char *message) {
    PyErr_SetString(SkipError, message);
    return -1;
}

static int64_t unknown_arm(const char *name, int32_t value) {
    PyObject *exc = PyObject_CallFunction(UnknownArm, "si", name, (int)value);
    if (exc != NULL) {
        PyErr_SetObject(UnknownArm, exc);
        Py_DECREF(exc);
    }
    return -1;
}

static int64_t too_deep(void) {
    PyErr_SetString(PyExc_RecursionError, "XDR nested deeper than " Py_STRINGIFY(MAX_DEPTH) " levels");
    return -1;
}

static inline uint32_t word_at(const Walk *w, int64_t o) {
    const unsigned char *p = w->b + o;
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

/* Any non-zero byte in b[start:end], clipped to the buffer as a Python slice is (start >= 0). */
static int any_nonzero(const Walk *w, int64_t start, int64_t end) {
    if (end > w->n) end = w->n;
    for (int64_t i = start; i < end; i++) {
        if (w->b[i]) return 1;
    }
    return 0;
}

/* Read one 32-bit word at o into `dst` (uint32_t or int32_t), or fail as struct.unpack_from does. */
#define READ(dst, type)                                      \
    do {                                                     \
        if (UNLIKELY(o > w->n - 4)) return short_read(w, o); \
        dst = (type)word_at(w, o);                           \
    } while (0)
#define CALL(name)                             \
    do {                                       \
        if ((o = name(w, o)) < 0) return -1;   \
    } while (0)
#define ENTER \
    if (UNLIKELY(++w->depth > MAX_DEPTH)) return too_deep()
#define LEAVE w->depth--

typedef int64_t (*skip_fn)(Walk *, int64_t);

/* skip_<Type>(buffer, offset) -> offset, as in ledgers/xdrskip.py. */
static PyObject *call(PyObject *const *args, Py_ssize_t nargs, skip_fn walk, const char *name) {
    if (nargs != 2) {
        PyErr_Format(PyExc_TypeError, "%%s() takes 2 positional arguments but %%zd were given", name, nargs);
        return NULL;
    }
    Py_ssize_t start = PyLong_AsSsize_t(args[1]);
    if (start == -1 && PyErr_Occurred()) return NULL;
    if (start < 0) {
        PyErr_Format(PyExc_ValueError, "%%s(): negative offset %%zd", name, start);
        return NULL;
    }
    Walk w = {NULL, 0, 0};
    int64_t end;
    if (PyBytes_CheckExact(args[0])) {
        w.b = (const unsigned char *)PyBytes_AS_STRING(args[0]);
        w.n = PyBytes_GET_SIZE(args[0]);
        end = walk(&w, start);
    } else {
        Py_buffer view;
        if (PyObject_GetBuffer(args[0], &view, PyBUF_SIMPLE) < 0) return NULL;
        w.b = (const unsigned char *)view.buf;
        w.n = view.len;
        end = walk(&w, start);
        PyBuffer_Release(&view);
    }
    if (end < 0) return NULL;
    return PyLong_FromLongLong(end);
}
"""

_MODULE_INIT = r"""
static struct PyModuleDef xdrskip_module = {
    PyModuleDef_HEAD_INIT, "ledgers._xdrskip",
    "The compiled XDR skippers (generated by ledgers.skipgen; see ledgers.skipgen_c).", -1, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__xdrskip(void) {
    PyObject *python = PyImport_ImportModule("ledgers.xdrskip");
    if (python == NULL) return NULL;
    SkipError = PyObject_GetAttrString(python, "SkipError");
    UnknownArm = PyObject_GetAttrString(python, "UnknownArm");
    Py_DECREF(python);
    if (SkipError == NULL || UnknownArm == NULL) return NULL;
    PyObject *structmod = PyImport_ImportModule("struct");
    if (structmod == NULL) return NULL;
    StructError = PyObject_GetAttrString(structmod, "error");
    Py_DECREF(structmod);
    if (StructError == NULL) return NULL;
    PyObject *module = PyModule_Create(&xdrskip_module);
    if (module == NULL) return NULL;
    if (PyModule_AddStringConstant(module, "SCHEMA", "%(digest)s") < 0 ||
        PyModule_AddIntConstant(module, "MAX_DEPTH", MAX_DEPTH) < 0 ||
        PyModule_AddObjectRef(module, "SkipError", SkipError) < 0 ||
        PyModule_AddObjectRef(module, "UnknownArm", UnknownArm) < 0) {
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
"""


class _CRenderer:
    def __init__(self, enum_values: Any) -> None:
        self.enum_values = enum_values  # name -> sorted values
        self.enums: dict[str, list[str]] = {}  # name -> its check function's lines

    def enum_check(self, name: str) -> str:
        if name not in self.enums:
            values = self.enum_values(name)
            if values == list(range(values[0], values[-1] + 1)):
                test = f"v >= {values[0]} && v <= {values[-1]}"
            else:
                test = " || ".join(f"v == {v}" for v in values)
            self.enums[name] = [f"static inline int valid_{name}(int32_t v) {{ return {test}; }}"]
        return f"valid_{name}"

    def render(self, steps: list[Any], indent: str, body: list[str], depth: int) -> None:
        for step in steps:
            self.render_step(step, indent, body, depth)

    def render_step(self, step: Any, indent: str, body: list[str], depth: int) -> None:
        kind = step[0]
        i2 = indent + "    "
        if kind == "add":
            if step[1]:
                body.append(f"{indent}o += {step[1]};")
        elif kind == "bool":
            body.append(f"{indent}{{")
            body.append(f"{i2}uint32_t flag;")
            body.append(f"{i2}READ(flag, uint32_t);")
            body.append(f'{i2}if (flag > 1) return skip_error("non-canonical bool");')
            body.append(f"{i2}o += 4;")
            body.append(f"{indent}}}")
        elif kind == "enum":
            body.append(f"{indent}{{")
            body.append(f"{i2}int32_t value;")
            body.append(f"{i2}READ(value, int32_t);")
            body.append(
                f'{i2}if (!{self.enum_check(step[1])}(value)) return skip_error("invalid {step[1]} value");'
            )
            body.append(f"{i2}o += 4;")
            body.append(f"{indent}}}")
        elif kind == "call":
            body.append(f"{indent}CALL(skip_{step[1]});")
        elif kind == "bytes":
            _, spec, bound = step
            n = f"n{depth}"
            body.append(f"{indent}{{")
            body.append(f"{i2}uint32_t {n};")
            body.append(f"{i2}READ({n}, uint32_t);")
            if bound is not None:
                body.append(f'{i2}if ({n} > {bound}u) return skip_error("{spec} over its bound");')
            padded = f"((int64_t){n} + 3) / 4 * 4"
            body.append(f"{i2}if (({n} & 3) && any_nonzero(w, o + 4 + {n}, o + 4 + {padded}))")
            body.append(f'{i2}    return skip_error("non-zero padding");')
            body.append(f"{i2}o += 4 + {padded};")
            body.append(f"{indent}}}")
        elif kind == "optional":
            body.append(f"{indent}{{")
            body.append(f"{i2}uint32_t present;")
            body.append(f"{i2}READ(present, uint32_t);")
            body.append(f'{i2}if (present > 1) return skip_error("non-canonical optional flag");')
            body.append(f"{i2}o += 4;")
            inner: list[str] = []
            self.render(step[1], i2 + "    ", inner, depth + 1)
            if inner:
                body.append(f"{i2}if (present) {{")
                body.extend(inner)
                body.append(f"{i2}}}")
            body.append(f"{indent}}}")
        elif kind == "repeat":
            body.append(f"{indent}for (int i{depth} = 0; i{depth} < {step[1]}; i{depth}++) {{")
            self.render(step[2], i2, body, depth + 1)
            body.append(f"{indent}}}")
        elif kind in ("array_fixed", "array"):
            n = f"n{depth}"
            body.append(f"{indent}{{")
            body.append(f"{i2}uint32_t {n};")
            body.append(f"{i2}READ({n}, uint32_t);")
            body.append(f"{i2}o += 4;")
            body.append(
                f'{i2}if ((int64_t){n} > w->n - o) return skip_error("array longer than the bytes left");'
            )
            if kind == "array_fixed":
                if step[1]:
                    body.append(f"{i2}o += (int64_t){n} * {step[1]};")
            else:
                body.append(f"{i2}for (uint32_t i{depth} = 0; i{depth} < {n}; i{depth}++) {{")
                self.render(step[1], i2 + "    ", body, depth + 1)
                body.append(f"{i2}}}")
            body.append(f"{indent}}}")
        elif kind == "union":
            self.render_union(step, indent, body, depth)
        else:
            raise SyntaxError(f"unknown step {kind!r}")

    def render_union(self, step: Any, indent: str, body: list[str], depth: int) -> None:
        _, name, arms, default = step
        v = f"v{depth}"
        i2 = indent + "    "
        body.append(f"{indent}{{")
        body.append(f"{i2}int32_t {v};")
        body.append(f"{i2}READ({v}, int32_t);")
        body.append(f"{i2}o += 4;")
        body.append(f"{i2}switch ({v}) {{")
        for values, steps in arms:
            labels = " ".join(f"case {value}:" for value in values)
            body.append(f"{i2}{labels} {{")
            self.render(steps, i2 + "    ", body, depth + 1)
            body.append(f"{i2}    break;")
            body.append(f"{i2}}}")
        body.append(f"{i2}default: {{")
        if default is not None:
            self.render(default, i2 + "    ", body, depth + 1)
            body.append(f"{i2}    break;")
        else:
            body.append(f'{i2}    return unknown_arm("{name}", {v});')
        body.append(f"{i2}}}")
        body.append(f"{i2}}}")
        body.append(f"{indent}}}")

    def function(self, name: str, steps: list[Any]) -> list[str]:
        body: list[str] = []
        self.render(steps, "    ", body, 0)
        return [
            f"static int64_t skip_{name}(Walk *w, int64_t o) {{",
            "    ENTER;",
            *body,
            "    LEAVE;",
            "    return o;",
            "}",
            "",
        ]


def render_c(walks: dict[str, list[Any]], enum_values: Any, digest: str, header: str) -> str:
    """The text of ``ledgers/_xdrskip.c``: `walks` (type name -> steps, `ledgers.skipgen`), `enum_values` (name ->
    its sorted values), `digest` (`ledgers.skipgen.schema_digest`), `header` (the first comment's text)."""
    renderer = _CRenderer(enum_values)
    functions: list[str] = []
    for name, steps in walks.items():
        functions.extend(renderer.function(name, steps))
    declarations = [f"static int64_t skip_{name}(Walk *w, int64_t o);" for name in walks]
    wrappers = [
        f"static PyObject *py_{name}(PyObject *m, PyObject *const *args, Py_ssize_t nargs) "
        f'{{ return call(args, nargs, skip_{name}, "skip_{name}"); }}'
        for name in walks
    ]
    methods = [
        "static PyMethodDef methods[] = {",
        *(
            f'    {{"skip_{name}", (PyCFunction)(void (*)(void))py_{name}, METH_FASTCALL, NULL}},'
            for name in walks
        ),
        "    {NULL, NULL, 0, NULL},",
        "};",
    ]
    enums = [line for lines in renderer.enums.values() for line in lines]
    parts = [
        f"/* {header} */",
        _PRELUDE.strip("\n") % {"max_depth": MAX_DEPTH},
        "",
        *enums,
        "",
        *declarations,
        "",
        *functions,
        *wrappers,
        "",
        *methods,
        _MODULE_INIT.rstrip("\n") % {"digest": digest},
    ]
    return "\n".join(parts) + "\n"
