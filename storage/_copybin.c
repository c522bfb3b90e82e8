/* storage._copybin: rows written as PostgreSQL's binary COPY payload in C, for `storage.copy_writes`.
 *
 * Hand-written. One function, ``encode(rows, names, kinds, converters)``, returns the whole payload of a
 * ``COPY ... FROM STDIN (FORMAT binary)`` of `rows` (dicts; a missing key is None) into the columns `names`, or
 * None when some value is not one this code writes exactly as the Python path would: the caller then takes that
 * path (`copy_writes._records` and asyncpg's encoders), which converts, writes or refuses the value as before.
 * So nothing here decides what a value means; it only writes, faster, the values whose encoding is unambiguous.
 *
 * ``kinds`` has one byte per column, chosen by `copy_writes._plan` from the staged column type:
 *   't'  text / varchar: a str, written as UTF-8 (asyncpg's text encoder; a str that is not valid UTF-8 falls back)
 *   'i'  integer: an int (exactly) in int32's range            'q'  bigint: an int (exactly) in int64's range
 *   'b'  boolean: True or False
 *   'a'  an `Amount` staged as text: an int (exactly) written as its decimal digits (what `_amount_texts` sends)
 *   'd'  a `UTCDateTime` staged as ``timestamp``: a datetime (exactly), naive (taken as UTC) or in
 *        ``datetime.timezone.utc``, as microseconds since 2000-01-01 (the bind processor and asyncpg's
 *        ``timestamp`` encoder); years 1 and 9999 fall back (asyncpg writes its infinities there)
 *   'j'  JSON: ``converters[i](value)`` (the column's bind processor, None included), a str or None
 *   'J'  JSON written as `copy_writes._json_text` writes it, without its Python frame: ``converters[i]`` is the
 *        tuple ``(encoder, encode_basestring_ascii, null_text)`` of that function's own callables; None is
 *        ``null_text``, a str (exactly) ``encode_basestring_ascii(value)``, anything else the join of
 *        ``encoder(value, 0)``'s chunks
 * None is NULL in every kind but 'j' and 'J', whose converter decides. Any other value, or a converter raising an
 * `Exception`, means None is returned (the Python path raises the same error, from the same converter).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <datetime.h>
#include <stdint.h>
#include <string.h>

typedef struct {
    char *data;
    Py_ssize_t size;
    Py_ssize_t capacity;
} Out;

static int out_reserve(Out *out, Py_ssize_t more) {
    if (out->size + more <= out->capacity) {
        return 0;
    }
    Py_ssize_t capacity = out->capacity ? out->capacity : 65536;
    while (capacity < out->size + more) {
        if (capacity > PY_SSIZE_T_MAX / 2) {
            PyErr_NoMemory();
            return -1;
        }
        capacity *= 2;
    }
    char *grown = PyMem_Realloc(out->data, (size_t)capacity);
    if (grown == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    out->data = grown;
    out->capacity = capacity;
    return 0;
}

static void put_u16(Out *out, uint16_t v) {
    unsigned char *q = (unsigned char *)out->data + out->size;
    q[0] = (unsigned char)(v >> 8);
    q[1] = (unsigned char)v;
    out->size += 2;
}

static void put_u32(Out *out, uint32_t v) {
    unsigned char *q = (unsigned char *)out->data + out->size;
    q[0] = (unsigned char)(v >> 24);
    q[1] = (unsigned char)(v >> 16);
    q[2] = (unsigned char)(v >> 8);
    q[3] = (unsigned char)v;
    out->size += 4;
}

static void put_u64(Out *out, uint64_t v) {
    put_u32(out, (uint32_t)(v >> 32));
    put_u32(out, (uint32_t)v);
}

/* A field of `n` bytes: its length, then the bytes. */
static int put_field(Out *out, const char *bytes, Py_ssize_t n) {
    if (n > INT32_MAX) {
        return 1; /* longer than a field can be: the Python path refuses it as it does */
    }
    if (out_reserve(out, 4 + n) < 0) {
        return -1;
    }
    put_u32(out, (uint32_t)n);
    memcpy(out->data + out->size, bytes, (size_t)n);
    out->size += n;
    return 0;
}

/* Days from 1970-01-01 to a proleptic Gregorian date (H. Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t y, int64_t m, int64_t d) {
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

#define PG_EPOCH_DAYS 10957 /* 2000-01-01 in days from 1970-01-01 */

/* Text of a str as UTF-8, NULL (error cleared) when it has none (lone surrogates). */
static const char *utf8_of(PyObject *value, Py_ssize_t *n) {
    const char *bytes = PyUnicode_AsUTF8AndSize(value, n);
    if (bytes == NULL) {
        PyErr_Clear();
    }
    return bytes;
}

/* `copy_writes._json_text(value)` from its parts (see kind 'J'): a new reference, or NULL with an error set. */
static PyObject *json_text(PyObject *parts, PyObject *value) {
    if (value == Py_None) {
        return Py_NewRef(PyTuple_GET_ITEM(parts, 2));
    }
    if (PyUnicode_CheckExact(value)) {
        return PyObject_CallOneArg(PyTuple_GET_ITEM(parts, 1), value);
    }
    PyObject *chunks = PyObject_CallFunction(PyTuple_GET_ITEM(parts, 0), "Oi", value, 0);
    if (chunks == NULL) {
        return NULL;
    }
    PyObject *empty = PyUnicode_New(0, 0);
    PyObject *text = empty == NULL ? NULL : PyUnicode_Join(empty, chunks);
    Py_XDECREF(empty);
    Py_DECREF(chunks);
    return text;
}

/* One value of kind `kind` written: 0, 1 when the Python path must write this batch, -1 on an error (memory). */
static int put_value(Out *out, char kind, PyObject *value, PyObject *converter) {
    PyObject *converted = NULL;
    if (kind == 'J' || kind == 'j') {
        converted = kind == 'J' ? json_text(converter, value) : PyObject_CallOneArg(converter, value);
        if (converted == NULL) {
            if (PyErr_ExceptionMatches(PyExc_Exception)) {
                PyErr_Clear();
                return 1;
            }
            return -1;
        }
        value = converted;
        kind = 't';
    }
    int status;
    if (value == Py_None) {
        if (out_reserve(out, 4) < 0) {
            status = -1;
        } else {
            put_u32(out, 0xFFFFFFFFu); /* NULL */
            status = 0;
        }
    } else if (kind == 't') {
        Py_ssize_t n;
        const char *bytes = PyUnicode_Check(value) ? utf8_of(value, &n) : NULL;
        status = bytes == NULL ? 1 : put_field(out, bytes, n);
    } else if (kind == 'i' || kind == 'q' || kind == 'a') {
        if (!PyLong_CheckExact(value)) {
            status = 1;
        } else {
            int overflow = 0;
            long long v = PyLong_AsLongLongAndOverflow(value, &overflow);
            if (v == -1 && PyErr_Occurred()) {
                status = -1;
            } else if (kind == 'a') {
                if (overflow) {
                    /* Past int64 (an i128 amount): its decimal text, as str() writes it. */
                    PyObject *text = PyObject_Str(value);
                    if (text == NULL) {
                        status = -1;
                    } else {
                        Py_ssize_t n;
                        const char *bytes = utf8_of(text, &n);
                        status = bytes == NULL ? 1 : put_field(out, bytes, n);
                        Py_DECREF(text);
                    }
                } else {
                    char digits[24];
                    int n = snprintf(digits, sizeof digits, "%lld", v);
                    status = put_field(out, digits, n);
                }
            } else if (overflow || (kind == 'i' && (v < INT32_MIN || v > INT32_MAX))) {
                status = 1; /* out of the column's range: asyncpg's OverflowError, from the Python path */
            } else if (out_reserve(out, 12) < 0) {
                status = -1;
            } else if (kind == 'i') {
                put_u32(out, 4);
                put_u32(out, (uint32_t)(int32_t)v);
                status = 0;
            } else {
                put_u32(out, 8);
                put_u64(out, (uint64_t)(int64_t)v);
                status = 0;
            }
        }
    } else if (kind == 'b') {
        if (value != Py_True && value != Py_False) {
            status = 1;
        } else if (out_reserve(out, 5) < 0) {
            status = -1;
        } else {
            put_u32(out, 1);
            out->data[out->size++] = value == Py_True ? 1 : 0;
            status = 0;
        }
    } else if (kind == 'd') {
        PyObject *tz = PyDateTime_CheckExact(value) ? PyDateTime_DATE_GET_TZINFO(value) : NULL;
        int year = PyDateTime_CheckExact(value) ? PyDateTime_GET_YEAR(value) : 0;
        if (tz == NULL || (tz != Py_None && tz != PyDateTime_TimeZone_UTC) || year <= 1 || year >= 9999) {
            status = 1;
        } else if (out_reserve(out, 12) < 0) {
            status = -1;
        } else {
            int64_t days = days_from_civil(year, PyDateTime_GET_MONTH(value), PyDateTime_GET_DAY(value));
            int64_t seconds = (days - PG_EPOCH_DAYS) * 86400 + PyDateTime_DATE_GET_HOUR(value) * 3600 +
                              PyDateTime_DATE_GET_MINUTE(value) * 60 + PyDateTime_DATE_GET_SECOND(value);
            put_u32(out, 8);
            put_u64(out, (uint64_t)(seconds * 1000000 + PyDateTime_DATE_GET_MICROSECOND(value)));
            status = 0;
        }
    } else {
        status = 1;
    }
    Py_XDECREF(converted);
    return status;
}

static PyObject *encode(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 4) {
        PyErr_SetString(PyExc_TypeError, "encode(rows, names, kinds, converters)");
        return NULL;
    }
    PyObject *names = args[1], *kinds = args[2], *converters = args[3];
    if (!PyTuple_Check(names) || !PyBytes_Check(kinds) || !PyTuple_Check(converters)) {
        PyErr_SetString(PyExc_TypeError, "names and converters must be tuples, kinds bytes");
        return NULL;
    }
    Py_ssize_t columns = PyTuple_GET_SIZE(names);
    if (PyBytes_GET_SIZE(kinds) != columns || PyTuple_GET_SIZE(converters) != columns || columns > 32767) {
        PyErr_SetString(PyExc_ValueError, "one kind and one converter per name, at most 32767 columns");
        return NULL;
    }
    const char *kind_of = PyBytes_AS_STRING(kinds);
    for (Py_ssize_t c = 0; c < columns; c++) {
        PyObject *converter = PyTuple_GET_ITEM(converters, c);
        if (kind_of[c] == 'j' && !PyCallable_Check(converter)) {
            PyErr_SetString(PyExc_TypeError, "a JSON column needs a callable converter");
            return NULL;
        }
        if (kind_of[c] == 'J' &&
            !(PyTuple_Check(converter) && PyTuple_GET_SIZE(converter) == 3 &&
              PyCallable_Check(PyTuple_GET_ITEM(converter, 0)) && PyCallable_Check(PyTuple_GET_ITEM(converter, 1)) &&
              PyUnicode_CheckExact(PyTuple_GET_ITEM(converter, 2)))) {
            PyErr_SetString(PyExc_TypeError, "a 'J' column needs (encoder, encode_basestring_ascii, null_text)");
            return NULL;
        }
    }
    PyObject *rows = PySequence_Fast(args[0], "rows must be a sequence");
    if (rows == NULL) {
        return NULL;
    }
    Out out = {NULL, 0, 0};
    int status = out_reserve(&out, 19);
    if (status == 0) {
        memcpy(out.data, "PGCOPY\n\377\r\n\0", 11);
        out.size = 11;
        put_u32(&out, 0); /* flags */
        put_u32(&out, 0); /* header extension length */
    }
    /* The size and each row are read again at every row, and the row and value held while a converter runs: a
     * converter is Python code, which could change the list or the row under us. */
    for (Py_ssize_t r = 0; r < PySequence_Fast_GET_SIZE(rows) && status == 0; r++) {
        PyObject *row = PySequence_Fast_GET_ITEM(rows, r);
        if (!PyDict_CheckExact(row)) {
            status = 1; /* another mapping: read by the Python path */
            break;
        }
        if (out_reserve(&out, 2) < 0) {
            status = -1;
            break;
        }
        put_u16(&out, (uint16_t)columns);
        Py_INCREF(row);
        for (Py_ssize_t c = 0; c < columns && status == 0; c++) {
            PyObject *value = PyDict_GetItemWithError(row, PyTuple_GET_ITEM(names, c));
            if (value == NULL) {
                if (PyErr_Occurred()) {
                    status = -1;
                    break;
                }
                value = Py_None;
            }
            Py_INCREF(value);
            status = put_value(&out, kind_of[c], value, PyTuple_GET_ITEM(converters, c));
            Py_DECREF(value);
        }
        Py_DECREF(row);
    }
    Py_DECREF(rows);
    PyObject *result = NULL;
    if (status == 0 && out_reserve(&out, 2) == 0) {
        put_u16(&out, 0xFFFF); /* trailer */
        result = PyBytes_FromStringAndSize(out.data, out.size);
    } else if (status == 1) {
        result = Py_NewRef(Py_None);
    }
    PyMem_Free(out.data);
    return result;
}

static PyMethodDef methods[] = {
    {"encode", (PyCFunction)(void (*)(void))encode, METH_FASTCALL,
     "encode(rows, names, kinds, converters) -> the binary COPY payload of rows, or None (see the module)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT, "storage._copybin",
    "Binary COPY payloads of rows, in C (storage.copy_writes).", -1, methods,
};

PyMODINIT_FUNC PyInit__copybin(void) {
    PyDateTime_IMPORT;
    if (PyDateTimeAPI == NULL) {
        return NULL;
    }
    return PyModule_Create(&module_def);
}
