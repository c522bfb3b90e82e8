/* ledgers._fastchanges: the commonest ledger entry changes built in C, for the fast decoder (ledgers.fastentries).
 *
 * Hand-written (not generated). One function, ``changes(raw, offset, count, change_at, context)``, builds the
 * ``count`` EntryChange objects of a ``LedgerEntryChanges`` list whose first change starts at ``offset`` (after the
 * count). Account, trustline, offer, TTL, liquidity pool and claimable balance entries, and removed account and
 * offer keys (the bulk of a pubnet ledger's changes) are read here into the same model objects
 * `ledgers.fastentries` builds; any other change (other keys and entry types: contract data ...) and any
 * change whose bytes this code does not expect (an unknown arm, a non-canonical flag, a read past the end) is
 * handed to the Python reader ``change_at(raw, offset) -> (EntryChange, offset after)``, so hostile bytes meet the
 * Python path's checks and errors: nothing here raises on bytes, every read is bounds-checked first.
 *
 * ``context`` is the tuple of Python objects the builder needs (see `ledgers.fastentries._CHANGES_CONTEXT`).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>
#include <stdint.h>
#include <string.h>

enum {
    CTX_ENTRY_CHANGE,
    CTX_ACCOUNT_ENTRY,
    CTX_TRUSTLINE_ENTRY,
    CTX_OFFER_ENTRY,
    CTX_TTL_ENTRY,
    CTX_ENTRY_KEY,
    CTX_ACCOUNT_KEY,    /* cached EntryKey("account", ...) */
    CTX_TRUSTLINE_KEY,  /* cached EntryKey("trustline", ...) */
    CTX_ASSET_STRING,   /* xdrconv._asset_string(code, issuer) */
    CTX_POOL_STRKEY,    /* xdrconv.pool_strkey(hash) */
    CTX_NATIVE,         /* "native" */
    CTX_POOL_PREFIX,    /* "pool_share:" */
    CTX_KIND_NAMES,     /* tuple indexed by LedgerEntryChangeType: created, updated, removed, state, restored */
    CTX_TYPE_NAMES,     /* tuple: account, trustline, offer, ttl, liquidity_pool, claimable_balance */
    CTX_POOL_ENTRY,
    CTX_BALANCE_ENTRY,
    CTX_BALANCE_STRKEY, /* xdrconv.balance_strkey(hash) */
    CTX_SKIP_PREDICATE, /* skippers.skip_ClaimPredicate(raw, offset) -> offset after */
    CTX_SKIP_ENTRY,     /* skippers.skip_LedgerEntry(raw, offset) -> offset after */
    CTX_SIZE
};

typedef struct {
    const unsigned char *p;
    Py_ssize_t n;
} Buf;

/* Whether `k` bytes from `o` lie inside the buffer. */
#define HAS(b, o, k) ((o) >= 0 && (k) >= 0 && (o) <= (b)->n - (k))

static uint32_t u32(const Buf *b, Py_ssize_t o) {
    const unsigned char *q = b->p + o;
    return ((uint32_t)q[0] << 24) | ((uint32_t)q[1] << 16) | ((uint32_t)q[2] << 8) | (uint32_t)q[3];
}

static int64_t i64(const Buf *b, Py_ssize_t o) {
    return (int64_t)(((uint64_t)u32(b, o) << 32) | (uint64_t)u32(b, o + 4));
}

/* CRC16-XModem a byte at a time from a table of the 256 one-byte CRCs (filled when the module is imported): eight
 * steps a byte, once per account strkey built here, showed in building entry changes (docs/decisions.md cpu17). */
static uint16_t crc16_table[256];

static void crc16_fill_table(void) {
    for (int byte = 0; byte < 256; byte++) {
        uint16_t crc = (uint16_t)(byte << 8);
        for (int bit = 0; bit < 8; bit++)
            crc = (crc & 0x8000) ? (uint16_t)((crc << 1) ^ 0x1021) : (uint16_t)(crc << 1);
        crc16_table[byte] = crc;
    }
}

static uint16_t crc16_xmodem(const unsigned char *data, size_t len) {
    uint16_t crc = 0;
    for (size_t i = 0; i < len; i++)
        crc = (uint16_t)((crc << 8) ^ crc16_table[((crc >> 8) ^ data[i]) & 0xff]);
    return crc;
}

/* The strkey of `len` bytes under `version` (SEP-23): RFC 4648 base32, without padding, of the version byte, the
 * bytes and their CRC16-XModem (little-endian); as stellar_sdk.StrKey writes it. `len` is at most STRKEY_MAX. */
#define STRKEY_MAX 128
static PyObject *strkey_of(unsigned char version, const unsigned char *bytes, Py_ssize_t len) {
    static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    unsigned char data[STRKEY_MAX + 3];
    Py_ssize_t total = len + 3;
    data[0] = version;
    memcpy(data + 1, bytes, (size_t)len);
    uint16_t crc = crc16_xmodem(data, (size_t)len + 1);
    data[len + 1] = (unsigned char)(crc & 0xff);
    data[len + 2] = (unsigned char)(crc >> 8);
    PyObject *out = PyUnicode_New((total * 8 + 4) / 5, 127);
    if (out == NULL)
        return NULL;
    Py_UCS1 *chars = PyUnicode_1BYTE_DATA(out);
    Py_ssize_t k = 0;
    for (Py_ssize_t i = 0; i < total; i += 5) { /* 5 bytes = 8 characters; the last group padded with zero bits */
        unsigned char g[5] = {0, 0, 0, 0, 0};
        Py_ssize_t have = total - i < 5 ? total - i : 5;
        memcpy(g, data + i, (size_t)have);
        uint64_t bits = ((uint64_t)g[0] << 32) | ((uint64_t)g[1] << 24) | ((uint64_t)g[2] << 16) |
                        ((uint64_t)g[3] << 8) | (uint64_t)g[4];
        Py_ssize_t count = (have * 8 + 4) / 5; /* characters that hold at least one bit of these bytes */
        for (Py_ssize_t c = 0; c < count; c++)
            chars[k++] = (Py_UCS1)alphabet[(bits >> (35 - 5 * c)) & 31];
    }
    return out;
}

/* The ``G…`` strkey of a 32-byte ed25519 key. */
static PyObject *account_strkey(const unsigned char *key) {
    return strkey_of(6 << 3, key, 32);
}

static PyObject *hex32(const unsigned char *bytes) {
    static const char digits[] = "0123456789abcdef";
    PyObject *out = PyUnicode_New(64, 127);
    if (out == NULL)
        return NULL;
    Py_UCS1 *chars = PyUnicode_1BYTE_DATA(out);
    for (int i = 0; i < 32; i++) {
        chars[2 * i] = (Py_UCS1)digits[bytes[i] >> 4];
        chars[2 * i + 1] = (Py_UCS1)digits[bytes[i] & 15];
    }
    return out;
}

static PyObject *call(PyObject *callable, PyObject *const *args, size_t nargs) {
    return PyObject_Vectorcall(callable, args, nargs, NULL);
}

/* -- model objects filled slot by slot ------------------------------------------------------------------------
 *
 * A Maker builds objects of one slotted class without running its ``__init__``: the object is allocated and each
 * of its slots given the argument (or default) of the same position of the Maker's `names`. Calling a plain
 * slotted dataclass's ``__init__`` from C is a Python frame per object, ~110-160 ns; a fill ~20 ns, and a
 * mainnet ledger builds ~12,000 entries, keys, changes and events and ~4,000 values here (docs/decisions.md
 * "slots19"). `maker(cls, names, defaults)` accepts only a class whose every instance attribute is one of its
 * slots (a heap type straight under ``object``, without ``__dict__``, with object's ``__new__``) and whose slots
 * `names` lists exactly once each, so a made object has every slot set, as its ``__init__`` would; that the
 * ``__init__`` does nothing more (no ``__post_init__``, the fields in that order) is for the Python side to
 * check (`ledgers.frozen.compiled_maker`). A Maker is also callable from Python, with the same arguments. It
 * holds its class and defaults and takes no part in cyclic garbage collection: the builders' contexts keep theirs
 * for the life of the process, and a class must not hold its own maker (that cycle would never be freed). */
#define MAKER_MAX 16

typedef struct {
    PyObject_HEAD
    PyTypeObject *type;
    Py_ssize_t size;     /* slots: `names` */
    Py_ssize_t required; /* arguments without a default */
    Py_ssize_t offsets[MAKER_MAX];
    PyObject *defaults[MAKER_MAX]; /* for positions required..size-1 */
} Maker;

static PyTypeObject MakerType;

static PyObject *make(Maker *m, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs < m->required || nargs > m->size) {
        PyErr_Format(PyExc_TypeError, "%s maker takes %zd to %zd positional arguments (%zd given)",
                     m->type->tp_name, m->required, m->size, nargs);
        return NULL;
    }
    PyObject *obj = m->type->tp_alloc(m->type, 0);
    if (obj == NULL)
        return NULL;
    for (Py_ssize_t i = 0; i < m->size; i++) {
        PyObject *value = i < nargs ? args[i] : m->defaults[i];
        *(PyObject **)((char *)obj + m->offsets[i]) = Py_NewRef(value);
    }
    return obj;
}

/* A class, or a Maker (`call` is the fallback for anything else: a class, a function). */
static PyObject *build(PyObject *callable, PyObject *const *args, size_t nargs) {
    if (Py_IS_TYPE(callable, &MakerType))
        return make((Maker *)callable, args, (Py_ssize_t)nargs);
    return call(callable, args, nargs);
}

static PyObject *maker_call(PyObject *self, PyObject *args, PyObject *kwargs) {
    if (kwargs != NULL && PyDict_GET_SIZE(kwargs) != 0) {
        PyErr_SetString(PyExc_TypeError, "a maker takes positional arguments only");
        return NULL;
    }
    return make((Maker *)self, &PyTuple_GET_ITEM(args, 0), PyTuple_GET_SIZE(args));
}

static void maker_dealloc(PyObject *self) {
    Maker *m = (Maker *)self;
    for (Py_ssize_t i = m->required; i < m->size; i++)
        Py_XDECREF(m->defaults[i]);
    Py_XDECREF(m->type);
    Py_TYPE(self)->tp_free(self);
}

static PyObject *maker_repr(PyObject *self) {
    return PyUnicode_FromFormat("<maker of %s>", ((Maker *)self)->type->tp_name);
}

static PyTypeObject MakerType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "ledgers._fastchanges.Maker",
    .tp_basicsize = sizeof(Maker),
    .tp_dealloc = maker_dealloc,
    .tp_repr = maker_repr,
    .tp_call = maker_call,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Builds objects of one slotted class slot by slot (see maker()).",
};

/* maker(cls, names, defaults): see above. */
static PyObject *new_maker(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
    (void)module;
    if (nargs != 3 || !PyType_Check(args[0]) || !PyTuple_Check(args[1]) || !PyTuple_Check(args[2])) {
        PyErr_SetString(PyExc_TypeError, "maker(cls: type, names: tuple of str, defaults: tuple)");
        return NULL;
    }
    PyTypeObject *type = (PyTypeObject *)args[0];
    PyObject *names = args[1], *defaults = args[2];
    Py_ssize_t size = PyTuple_GET_SIZE(names), ndefaults = PyTuple_GET_SIZE(defaults);
    if (!PyType_HasFeature(type, Py_TPFLAGS_HEAPTYPE) || type->tp_base != &PyBaseObject_Type ||
        type->tp_new != PyBaseObject_Type.tp_new || type->tp_dictoffset != 0 || type->tp_itemsize != 0 ||
        type->tp_members == NULL) {
        PyErr_Format(PyExc_TypeError, "maker: %s is not a plain slotted class", type->tp_name);
        return NULL;
    }
    if (size > MAKER_MAX || ndefaults > size) {
        PyErr_SetString(PyExc_ValueError, "maker: at most 16 names, and no more defaults than names");
        return NULL;
    }
    Py_ssize_t members = 0;
    for (PyMemberDef *member = type->tp_members; member->name != NULL; member++) {
        if (member->type != T_OBJECT_EX || (member->flags & READONLY)) {
            PyErr_Format(PyExc_TypeError, "maker: %s.%s is not a writable object slot", type->tp_name,
                         member->name);
            return NULL;
        }
        members++;
    }
    if (members != size) {
        PyErr_Format(PyExc_ValueError, "maker: %s has %zd slots, %zd names given", type->tp_name, members, size);
        return NULL;
    }
    Maker *m = PyObject_New(Maker, &MakerType);
    if (m == NULL)
        return NULL;
    m->type = NULL;
    m->size = size;
    m->required = size - ndefaults;
    for (Py_ssize_t i = 0; i < MAKER_MAX; i++)
        m->defaults[i] = NULL;
    for (Py_ssize_t i = 0; i < size; i++) {
        PyObject *name = PyTuple_GET_ITEM(names, i);
        const char *text = PyUnicode_Check(name) ? PyUnicode_AsUTF8(name) : NULL;
        if (text == NULL) {
            if (!PyErr_Occurred())
                PyErr_SetString(PyExc_TypeError, "maker: names must be str");
            goto error;
        }
        PyMemberDef *found = NULL;
        for (PyMemberDef *member = type->tp_members; member->name != NULL; member++)
            if (strcmp(member->name, text) == 0)
                found = member;
        for (Py_ssize_t j = 0; found != NULL && j < i; j++)
            if (m->offsets[j] == found->offset)
                found = NULL; /* named twice: then some slot is not named at all */
        if (found == NULL) {
            PyErr_Format(PyExc_ValueError, "maker: %R is not a slot of %s, or is named twice", name, type->tp_name);
            goto error;
        }
        m->offsets[i] = found->offset;
    }
    for (Py_ssize_t i = m->required; i < size; i++)
        m->defaults[i] = Py_NewRef(PyTuple_GET_ITEM(defaults, i - m->required));
    m->type = (PyTypeObject *)Py_NewRef(type);
    return (PyObject *)m;
error:
    Py_DECREF(m);
    return NULL;
}

/* Take a built model object out of the cyclic collector's lists. The collector is most of what materialising a
 * ledger costs (it traverses every live object on each full collection, and a ledger's changes are ~100k
 * objects); an entry, its key and its change hold only strings, ints, None, a tuple of two ints and each other,
 * so they cannot be part of a reference cycle and reference counting alone frees them. (A processor assigning
 * a container to a field could make one: the types are frozen for the type checker, which refuses that.) */
static PyObject *untracked(PyObject *obj) {
    if (obj != NULL && PyObject_IS_GC(obj) && PyObject_GC_IsTracked(obj))
        PyObject_GC_UnTrack(obj);
    return obj;
}

/* Result of reading one entry: 1 built, 0 declined (hand the change to Python), -1 Python error set. */
typedef struct {
    PyObject *entry;
    PyObject *key;
    Py_ssize_t end; /* where the entry's data ends: LedgerEntry.ext starts there */
} Read;

static void read_clear(Read *r) {
    Py_CLEAR(r->entry);
    Py_CLEAR(r->key);
}

/* How a reader ends without building: 0 when it only declined bytes (the change goes to Python), -1 on an error. */
static int unbuilt(Read *r, int declined) {
    read_clear(r);
    return declined && !PyErr_Occurred() ? 0 : -1;
}

/* The strkey of the 32-byte hash at `o`, by the context's Python encoder `which` (pool or claimable balance ids). */
static PyObject *hash_strkey(const Buf *b, PyObject *const *ctx, int which, Py_ssize_t o) {
    PyObject *hash = PyBytes_FromStringAndSize((const char *)b->p + o, 32);
    if (hash == NULL)
        return NULL;
    PyObject *args[1] = {hash};
    PyObject *out = call(ctx[which], args, 1);
    Py_DECREF(hash);
    return out;
}

/* An Asset (native, alphanum4, alphanum12) at *o: a new reference in *out, *o moved past it. 0 declines. */
static int asset_at(const Buf *b, PyObject *const *ctx, Py_ssize_t *o, PyObject **out) {
    Py_ssize_t p = *o;
    if (!HAS(b, p, 4))
        return 0;
    uint32_t kind = u32(b, p);
    Py_ssize_t code_len;
    if (kind == 0) {
        *out = Py_NewRef(ctx[CTX_NATIVE]);
        *o = p + 4;
        return 1;
    }
    if (kind == 1)
        code_len = 4;
    else if (kind == 2)
        code_len = 12;
    else
        return 0;
    /* code, then the issuer's AccountID: key type (0), key */
    if (!HAS(b, p, 4 + code_len + 36) || u32(b, p + 4 + code_len) != 0)
        return 0;
    PyObject *code = PyBytes_FromStringAndSize((const char *)b->p + p + 4, code_len);
    if (code == NULL)
        return -1;
    PyObject *issuer = PyBytes_FromStringAndSize((const char *)b->p + p + 8 + code_len, 32);
    if (issuer == NULL) {
        Py_DECREF(code);
        return -1;
    }
    PyObject *args[2] = {code, issuer};
    *out = call(ctx[CTX_ASSET_STRING], args, 2);
    Py_DECREF(code);
    Py_DECREF(issuer);
    if (*out == NULL)
        return -1;
    *o = p + 4 + code_len + 36;
    return 1;
}

/* An AccountID (key type 0, then 32 bytes) at o: its strkey, or NULL with *declined set / an error. */
static PyObject *account_at(const Buf *b, Py_ssize_t o, int *declined) {
    if (!HAS(b, o, 36) || u32(b, o) != 0) {
        *declined = 1;
        return NULL;
    }
    return account_strkey(b->p + o + 4);
}

#define BUILD(target, expr)      \
    do {                         \
        target = (expr);         \
        if (target == NULL)      \
            goto fail;           \
    } while (0)

/* `asset_at` in a reader with `fail` and `decline` labels: an error fails it, bytes it does not take decline. */
#define ASSET(offset, out)                             \
    do {                                               \
        int asset_got = asset_at(b, ctx, offset, out); \
        if (asset_got < 0)                             \
            goto fail;                                 \
        if (asset_got == 0)                            \
            goto decline;                              \
    } while (0)

static int read_account(const Buf *b, PyObject *const *ctx, Py_ssize_t o, PyObject *modified, Read *r) {
    PyObject *account = NULL, *balance = NULL, *seq = NULL, *subentries = NULL, *inflation = NULL;
    PyObject *flags = NULL, *home = NULL, *buying = NULL, *selling = NULL;
    int declined = 0, result = -1;
    account = account_at(b, o, &declined);
    if (account == NULL)
        goto fail;
    if (!HAS(b, o + 36, 24))
        goto decline;
    BUILD(balance, PyLong_FromLongLong(i64(b, o + 36)));
    BUILD(seq, PyLong_FromLongLong(i64(b, o + 44)));
    BUILD(subentries, PyLong_FromUnsignedLong(u32(b, o + 52)));
    o += 56;
    uint32_t present = u32(b, o);
    if (present == 1) {
        inflation = account_at(b, o + 4, &declined);
        if (inflation == NULL)
            goto fail;
        o += 40;
    } else if (present == 0) {
        inflation = Py_NewRef(Py_None);
        o += 4;
    } else
        goto decline;
    if (!HAS(b, o, 8))
        goto decline;
    BUILD(flags, PyLong_FromUnsignedLong(u32(b, o)));
    uint32_t domain_len = u32(b, o + 4);
    Py_ssize_t padded = ((Py_ssize_t)domain_len + 3) / 4 * 4;
    if (domain_len > 32 || !HAS(b, o + 8, padded + 4 + 4))
        goto decline;
    BUILD(home, PyUnicode_DecodeUTF8((const char *)b->p + o + 8, domain_len, "replace"));
    o += 8 + padded + 4; /* home domain, thresholds */
    uint32_t signers = u32(b, o);
    o += 4;
    if (signers > 20)
        goto decline;
    for (uint32_t i = 0; i < signers; i++) { /* Signer: SignerKey, weight */
        if (!HAS(b, o, 4))
            goto decline;
        uint32_t kind = u32(b, o);
        if (kind <= 2) {
            o += 36;
        } else if (kind == 3) { /* signed payload: key, opaque<64> */
            if (!HAS(b, o + 36, 4))
                goto decline;
            uint32_t n = u32(b, o + 36);
            if (n > 64)
                goto decline;
            o += 40 + ((Py_ssize_t)n + 3) / 4 * 4;
        } else
            goto decline;
        o += 4;
    }
    if (!HAS(b, o, 4))
        goto decline;
    uint32_t ext = u32(b, o);
    Py_ssize_t end;
    if (ext == 0) {
        buying = PyLong_FromLong(0);
        selling = PyLong_FromLong(0);
        if (buying == NULL || selling == NULL)
            goto fail;
        end = o + 4;
    } else if (ext == 1) {
        if (!HAS(b, o + 4, 20))
            goto decline;
        BUILD(buying, PyLong_FromLongLong(i64(b, o + 4)));
        BUILD(selling, PyLong_FromLongLong(i64(b, o + 12)));
        Py_ssize_t p = o + 20; /* AccountEntryExtensionV1's own extension: void, or v2 */
        uint32_t v1_ext = u32(b, p);
        if (v1_ext == 0) {
            end = p + 4;
        } else if (v1_ext == 2) { /* sponsored and sponsoring counts, sponsoring ids, then void or v3 */
            if (!HAS(b, p, 16))
                goto decline;
            uint32_t count = u32(b, p + 12);
            if (count > 20)
                goto decline;
            p += 16;
            for (uint32_t i = 0; i < count; i++) {
                if (!HAS(b, p, 4))
                    goto decline;
                uint32_t has_id = u32(b, p);
                if (has_id == 0)
                    p += 4;
                else if (has_id == 1 && HAS(b, p + 4, 4) && u32(b, p + 4) == 0)
                    p += 40;
                else
                    goto decline;
            }
            if (!HAS(b, p, 4))
                goto decline;
            uint32_t v2_ext = u32(b, p);
            if (v2_ext == 0)
                end = p + 4;
            else if (v2_ext == 3 && HAS(b, p + 4, 4) && u32(b, p + 4) == 0)
                end = p + 20; /* ExtensionPoint, seqLedger, seqTime */
            else
                goto decline;
        } else
            goto decline;
    } else
        goto decline;
    {
        PyObject *args[10] = {account, balance, seq, subentries, buying, selling, flags, home, modified, inflation};
        BUILD(r->entry, untracked(build(ctx[CTX_ACCOUNT_ENTRY], args, 10)));
        PyObject *key_args[1] = {account};
        BUILD(r->key, untracked(call(ctx[CTX_ACCOUNT_KEY], key_args, 1)));
    }
    r->end = end;
    result = 1;
    goto done;
decline:
    declined = 1;
fail:
    read_clear(r);
    if (declined && !PyErr_Occurred())
        result = 0;
done:
    Py_XDECREF(account);
    Py_XDECREF(balance);
    Py_XDECREF(seq);
    Py_XDECREF(subentries);
    Py_XDECREF(inflation);
    Py_XDECREF(flags);
    Py_XDECREF(home);
    Py_XDECREF(buying);
    Py_XDECREF(selling);
    return result;
}

static int read_trustline(const Buf *b, PyObject *const *ctx, Py_ssize_t o, PyObject *modified, Read *r) {
    PyObject *account = NULL, *asset = NULL, *pool = NULL, *balance = NULL, *limit = NULL, *flags = NULL;
    PyObject *buying = NULL, *selling = NULL;
    int declined = 0, result = -1, got;
    account = account_at(b, o, &declined);
    if (account == NULL)
        goto fail;
    o += 36;
    if (!HAS(b, o, 4))
        goto decline;
    if (u32(b, o) == 3) { /* pool share */
        if (!HAS(b, o + 4, 32))
            goto decline;
        BUILD(pool, hash_strkey(b, ctx, CTX_POOL_STRKEY, o + 4));
        BUILD(asset, PyUnicode_Concat(ctx[CTX_POOL_PREFIX], pool));
        o += 36;
    } else {
        got = asset_at(b, ctx, &o, &asset);
        if (got < 0)
            goto fail;
        if (got == 0)
            goto decline;
        pool = Py_NewRef(Py_None);
    }
    if (!HAS(b, o, 24))
        goto decline;
    BUILD(balance, PyLong_FromLongLong(i64(b, o)));
    BUILD(limit, PyLong_FromLongLong(i64(b, o + 8)));
    BUILD(flags, PyLong_FromUnsignedLong(u32(b, o + 16)));
    o += 20;
    uint32_t ext = u32(b, o);
    Py_ssize_t end;
    if (ext == 0) {
        BUILD(buying, PyLong_FromLong(0));
        BUILD(selling, PyLong_FromLong(0));
        end = o + 4;
    } else if (ext == 1) {
        if (!HAS(b, o + 4, 20))
            goto decline;
        BUILD(buying, PyLong_FromLongLong(i64(b, o + 4)));
        BUILD(selling, PyLong_FromLongLong(i64(b, o + 12)));
        uint32_t v1_ext = u32(b, o + 20); /* void, or v2: pool use count, then its own extension (void) */
        if (v1_ext == 0)
            end = o + 24;
        else if (v1_ext == 2 && HAS(b, o + 24, 8) && u32(b, o + 28) == 0)
            end = o + 32;
        else
            goto decline;
    } else
        goto decline;
    {
        PyObject *args[9] = {account, asset, balance, limit, flags, buying, selling, modified, pool};
        BUILD(r->entry, untracked(build(ctx[CTX_TRUSTLINE_ENTRY], args, 9)));
        PyObject *key_args[3] = {account, asset, pool};
        BUILD(r->key, untracked(call(ctx[CTX_TRUSTLINE_KEY], key_args, 3)));
    }
    r->end = end;
    result = 1;
    goto done;
decline:
    declined = 1;
fail:
    read_clear(r);
    if (declined && !PyErr_Occurred())
        result = 0;
done:
    Py_XDECREF(account);
    Py_XDECREF(asset);
    Py_XDECREF(pool);
    Py_XDECREF(balance);
    Py_XDECREF(limit);
    Py_XDECREF(flags);
    Py_XDECREF(buying);
    Py_XDECREF(selling);
    return result;
}

static int read_offer(const Buf *b, PyObject *const *ctx, Py_ssize_t o, PyObject *modified, Read *r) {
    PyObject *seller = NULL, *offer_id = NULL, *selling = NULL, *buying = NULL, *amount = NULL, *price = NULL;
    PyObject *flags = NULL;
    int declined = 0, result = -1, got;
    seller = account_at(b, o, &declined);
    if (seller == NULL)
        goto fail;
    if (!HAS(b, o + 36, 8))
        goto decline;
    BUILD(offer_id, PyLong_FromLongLong(i64(b, o + 36)));
    o += 44;
    got = asset_at(b, ctx, &o, &selling);
    if (got <= 0)
        goto maybe_decline;
    got = asset_at(b, ctx, &o, &buying);
    if (got <= 0)
        goto maybe_decline;
    /* amount, price (n, d), flags, extension (only arm 0) */
    if (!HAS(b, o, 24) || u32(b, o + 20) != 0)
        goto decline;
    BUILD(amount, PyLong_FromLongLong(i64(b, o)));
    BUILD(price, Py_BuildValue("(ii)", (int)(int32_t)u32(b, o + 8), (int)(int32_t)u32(b, o + 12)));
    BUILD(flags, PyLong_FromUnsignedLong(u32(b, o + 16)));
    {
        PyObject *args[8] = {seller, offer_id, selling, buying, amount, price, flags, modified};
        BUILD(r->entry, untracked(build(ctx[CTX_OFFER_ENTRY], args, 8)));
        PyObject *key_args[4] = {PyTuple_GET_ITEM(ctx[CTX_TYPE_NAMES], 2), seller, Py_None, offer_id};
        BUILD(r->key, untracked(build(ctx[CTX_ENTRY_KEY], key_args, 4)));
    }
    r->end = o + 24;
    result = 1;
    goto done;
maybe_decline:
    if (got < 0)
        goto fail;
decline:
    declined = 1;
fail:
    read_clear(r);
    if (declined && !PyErr_Occurred())
        result = 0;
done:
    Py_XDECREF(seller);
    Py_XDECREF(offer_id);
    Py_XDECREF(selling);
    Py_XDECREF(buying);
    Py_XDECREF(amount);
    Py_XDECREF(price);
    Py_XDECREF(flags);
    return result;
}

static int read_ttl(const Buf *b, PyObject *const *ctx, Py_ssize_t o, PyObject *modified, Read *r) {
    if (!HAS(b, o, 36))
        return 0;
    PyObject *key_hash = hex32(b->p + o);
    if (key_hash == NULL)
        return -1;
    PyObject *live = PyLong_FromUnsignedLong(u32(b, o + 32));
    if (live == NULL) {
        Py_DECREF(key_hash);
        return -1;
    }
    PyObject *args[3] = {key_hash, live, modified};
    r->entry = untracked(build(ctx[CTX_TTL_ENTRY], args, 3));
    if (r->entry != NULL) { /* EntryKey(entry_type, account_id, ..., contract_id, key_hash): positional */
        PyObject *key_args[9] = {PyTuple_GET_ITEM(ctx[CTX_TYPE_NAMES], 3),
                                 Py_None, Py_None, Py_None, Py_None, Py_None, Py_None, Py_None, key_hash};
        r->key = untracked(build(ctx[CTX_ENTRY_KEY], key_args, 9));
    }
    Py_DECREF(key_hash);
    Py_DECREF(live);
    if (r->entry == NULL || r->key == NULL) {
        read_clear(r);
        return -1;
    }
    r->end = o + 36;
    return 1;
}

/* A constant-product LiquidityPoolEntry: pool id, body type (0), both assets, fee, reserves, shares, trustlines. */
static int read_pool(const Buf *b, PyObject *const *ctx, Py_ssize_t o, PyObject *modified, Read *r) {
    PyObject *pool = NULL, *asset_a = NULL, *asset_b = NULL, *fee = NULL, *reserve_a = NULL, *reserve_b = NULL;
    PyObject *shares = NULL, *trustlines = NULL;
    int declined = 0, result = -1;
    if (!HAS(b, o, 36) || u32(b, o + 32) != 0)
        goto decline;
    BUILD(pool, hash_strkey(b, ctx, CTX_POOL_STRKEY, o));
    o += 36;
    ASSET(&o, &asset_a);
    ASSET(&o, &asset_b);
    if (!HAS(b, o, 36))
        goto decline;
    BUILD(fee, PyLong_FromLong((long)(int32_t)u32(b, o)));
    BUILD(reserve_a, PyLong_FromLongLong(i64(b, o + 4)));
    BUILD(reserve_b, PyLong_FromLongLong(i64(b, o + 12)));
    BUILD(shares, PyLong_FromLongLong(i64(b, o + 20)));
    BUILD(trustlines, PyLong_FromLongLong(i64(b, o + 28)));
    {
        PyObject *args[9] = {pool, asset_a, asset_b, reserve_a, reserve_b, shares, fee, trustlines, modified};
        BUILD(r->entry, untracked(build(ctx[CTX_POOL_ENTRY], args, 9)));
        /* EntryKey(entry_type, account_id, asset, offer_id, data_name, balance_id, pool_id) */
        PyObject *key_args[7] = {PyTuple_GET_ITEM(ctx[CTX_TYPE_NAMES], 4), Py_None, Py_None, Py_None, Py_None,
                                 Py_None, pool};
        BUILD(r->key, untracked(build(ctx[CTX_ENTRY_KEY], key_args, 7)));
    }
    r->end = o + 36;
    result = 1;
    goto done;
decline:
    declined = 1;
fail:
    result = unbuilt(r, declined);
done:
    Py_XDECREF(pool);
    Py_XDECREF(asset_a);
    Py_XDECREF(asset_b);
    Py_XDECREF(fee);
    Py_XDECREF(reserve_a);
    Py_XDECREF(reserve_b);
    Py_XDECREF(shares);
    Py_XDECREF(trustlines);
    return result;
}

/* The context's skipper `which` over the bytes at `o`: 1 and the offset after them in *after (checked to lie past
 * `o` and inside the buffer), 0 when it refuses them (the Python reader raises its own error for them), -1 on an
 * error that is not about the bytes (MemoryError, KeyboardInterrupt ...). */
static int skipped(const Buf *b, PyObject *raw, PyObject *const *ctx, int which, Py_ssize_t o, Py_ssize_t *after) {
    PyObject *offset = PyLong_FromSsize_t(o);
    if (offset == NULL)
        return -1;
    PyObject *args[2] = {raw, offset};
    PyObject *end = call(ctx[which], args, 2);
    Py_DECREF(offset);
    if (end == NULL) {
        if (!PyErr_ExceptionMatches(PyExc_Exception) || PyErr_ExceptionMatches(PyExc_MemoryError))
            return -1;
        PyErr_Clear();
        return 0;
    }
    *after = PyLong_AsSsize_t(end);
    Py_DECREF(end);
    if (*after == -1 && PyErr_Occurred())
        return -1;
    return *after > o && *after <= b->n ? 1 : 0;
}

/* A ClaimableBalanceEntry: its V0 id, the claimants (V0: destination, then a predicate, skipped by the compiled
 * skipper), the asset, the amount and the extension (void, or v1: its own void extension, then flags). The whole
 * LedgerEntry at `entry` is first skipped as the Python reader skips it, so that both refuse the same bytes (a
 * predicate nested too deep for the skipper's depth limit counted from the entry, say). */
static int read_claimable(const Buf *b, PyObject *raw, PyObject *const *ctx, Py_ssize_t entry, Py_ssize_t o,
                          PyObject *modified, Read *r) {
    PyObject *balance = NULL, *claimants = NULL, *asset = NULL, *amount = NULL, *flags = NULL;
    int declined = 0, result = -1, got;
    Py_ssize_t after;
    got = skipped(b, raw, ctx, CTX_SKIP_ENTRY, entry, &after);
    if (got < 0)
        goto fail;
    if (got == 0 || !HAS(b, o, 40) || u32(b, o) != 0)
        goto decline;
    BUILD(balance, hash_strkey(b, ctx, CTX_BALANCE_STRKEY, o + 4));
    uint32_t count = u32(b, o + 36);
    o += 40;
    BUILD(claimants, PyList_New(0)); /* not sized by `count`: a hostile count must not allocate */
    for (uint32_t i = 0; i < count; i++) {
        if (!HAS(b, o, 4) || u32(b, o) != 0)
            goto decline;
        PyObject *destination = account_at(b, o + 4, &declined);
        if (destination == NULL)
            goto fail;
        int appended = PyList_Append(claimants, destination);
        Py_DECREF(destination);
        if (appended < 0)
            goto fail;
        got = skipped(b, raw, ctx, CTX_SKIP_PREDICATE, o + 40, &after);
        if (got < 0)
            goto fail;
        if (got == 0)
            goto decline;
        o = after;
    }
    ASSET(&o, &asset);
    if (!HAS(b, o, 12))
        goto decline;
    BUILD(amount, PyLong_FromLongLong(i64(b, o)));
    uint32_t ext = u32(b, o + 8);
    Py_ssize_t end;
    if (ext == 0) {
        BUILD(flags, PyLong_FromLong(0));
        end = o + 12;
    } else if (ext == 1 && HAS(b, o + 12, 8) && u32(b, o + 12) == 0) {
        BUILD(flags, PyLong_FromUnsignedLong(u32(b, o + 16)));
        end = o + 20;
    } else
        goto decline;
    {
        PyObject *tuple = PyList_AsTuple(claimants);
        if (tuple == NULL)
            goto fail;
        Py_SETREF(claimants, untracked(tuple));
        PyObject *args[6] = {balance, asset, amount, claimants, flags, modified};
        BUILD(r->entry, untracked(build(ctx[CTX_BALANCE_ENTRY], args, 6)));
        PyObject *key_args[6] = {PyTuple_GET_ITEM(ctx[CTX_TYPE_NAMES], 5), Py_None, Py_None, Py_None, Py_None,
                                 balance};
        BUILD(r->key, untracked(build(ctx[CTX_ENTRY_KEY], key_args, 6)));
    }
    r->end = end;
    result = 1;
    goto done;
decline:
    declined = 1;
fail:
    result = unbuilt(r, declined);
done:
    Py_XDECREF(balance);
    Py_XDECREF(claimants);
    Py_XDECREF(asset);
    Py_XDECREF(amount);
    Py_XDECREF(flags);
    return result;
}

/* A removed change's LedgerKey at `o`, for accounts and offers (the removals a pubnet ledger holds most: filled
 * offers); 1 built, 0 declined (any other key: Python reads it), -1 error. */
static int removed_at(const Buf *b, PyObject *const *ctx, Py_ssize_t o, PyObject **out, Py_ssize_t *next) {
    if (!HAS(b, o, 4))
        return 0;
    uint32_t type = u32(b, o);
    int declined = 0;
    PyObject *key = NULL;
    Py_ssize_t end;
    if (type == 0) {
        PyObject *account = account_at(b, o + 4, &declined);
        if (account == NULL)
            return declined && !PyErr_Occurred() ? 0 : -1;
        PyObject *args[1] = {account};
        key = call(ctx[CTX_ACCOUNT_KEY], args, 1);
        Py_DECREF(account);
        end = o + 40;
    } else if (type == 2) {
        if (!HAS(b, o + 40, 8))
            return 0;
        PyObject *seller = account_at(b, o + 4, &declined);
        if (seller == NULL)
            return declined && !PyErr_Occurred() ? 0 : -1;
        PyObject *offer_id = PyLong_FromLongLong(i64(b, o + 40));
        if (offer_id == NULL) {
            Py_DECREF(seller);
            return -1;
        }
        PyObject *args[4] = {PyTuple_GET_ITEM(ctx[CTX_TYPE_NAMES], 2), seller, Py_None, offer_id};
        key = untracked(build(ctx[CTX_ENTRY_KEY], args, 4));
        Py_DECREF(seller);
        Py_DECREF(offer_id);
        end = o + 48;
    } else
        return 0;
    if (key == NULL)
        return -1;
    PyObject *args[4] = {PyTuple_GET_ITEM(ctx[CTX_KIND_NAMES], 2),
                         PyTuple_GET_ITEM(ctx[CTX_TYPE_NAMES], type == 0 ? 0 : 2), key, Py_None};
    *out = untracked(build(ctx[CTX_ENTRY_CHANGE], args, 4));
    Py_DECREF(key);
    if (*out == NULL)
        return -1;
    *next = end;
    return 1;
}

/* One change at `o` (its LedgerEntryChangeType): the EntryChange in *out and the offset after it in *next;
 * 1 built, 0 declined, -1 error. */
static int change_at(const Buf *b, PyObject *raw, PyObject *const *ctx, Py_ssize_t o, PyObject **out,
                     Py_ssize_t *next) {
    if (!HAS(b, o, 12))
        return 0;
    uint32_t kind = u32(b, o);
    if (kind > 4)
        return 0;
    if (kind == 2) /* removed: a LedgerKey */
        return removed_at(b, ctx, o + 4, out, next);
    Py_ssize_t start = o + 4;
    uint32_t entry_type = u32(b, start + 4);
    PyObject *modified = PyLong_FromUnsignedLong(u32(b, start));
    if (modified == NULL)
        return -1;
    Read r = {NULL, NULL, 0};
    int got, type_index;
    switch (entry_type) {
    case 0:
        got = read_account(b, ctx, start + 8, modified, &r);
        type_index = 0;
        break;
    case 1:
        got = read_trustline(b, ctx, start + 8, modified, &r);
        type_index = 1;
        break;
    case 2:
        got = read_offer(b, ctx, start + 8, modified, &r);
        type_index = 2;
        break;
    case 9:
        got = read_ttl(b, ctx, start + 8, modified, &r);
        type_index = 3;
        break;
    case 5:
        got = read_pool(b, ctx, start + 8, modified, &r);
        type_index = 4;
        break;
    case 4:
        got = read_claimable(b, raw, ctx, start, start + 8, modified, &r);
        type_index = 5;
        break;
    default:
        got = 0;
        type_index = 0;
    }
    Py_DECREF(modified);
    if (got <= 0)
        return got;
    /* LedgerEntry.ext: void, or v1 (an optional sponsoring AccountID, then its own void extension). */
    Py_ssize_t e = r.end;
    if (!HAS(b, e, 4))
        goto decline;
    uint32_t ext = u32(b, e);
    if (ext == 0) {
        *next = e + 4;
    } else if (ext == 1 && HAS(b, e + 4, 4)) {
        uint32_t present = u32(b, e + 4);
        Py_ssize_t q;
        if (present == 0)
            q = e + 8;
        else if (present == 1 && HAS(b, e + 8, 4) && u32(b, e + 8) == 0)
            q = e + 44;
        else
            goto decline;
        if (!HAS(b, q, 4) || u32(b, q) != 0)
            goto decline;
        *next = q + 4;
    } else
        goto decline;
    {
        PyObject *args[4] = {PyTuple_GET_ITEM(ctx[CTX_KIND_NAMES], kind),
                             PyTuple_GET_ITEM(ctx[CTX_TYPE_NAMES], type_index), r.key, r.entry};
        *out = untracked(build(ctx[CTX_ENTRY_CHANGE], args, 4));
    }
    read_clear(&r);
    return *out == NULL ? -1 : 1;
decline:
    read_clear(&r);
    return 0;
}

/* The arguments both builders start with: raw (a buffer, held in *view), the first item's offset, the count. */
static int list_args(PyObject *const *args, Py_ssize_t *o, Py_ssize_t *count, Py_buffer *view) {
    *o = PyLong_AsSsize_t(args[1]);
    if (*o == -1 && PyErr_Occurred())
        return -1;
    *count = PyLong_AsSsize_t(args[2]);
    if (*count == -1 && PyErr_Occurred())
        return -1;
    return PyObject_GetBuffer(args[0], view, PyBUF_SIMPLE);
}

static PyObject *changes(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
    (void)module;
    if (nargs != 5) {
        PyErr_SetString(PyExc_TypeError, "changes(raw, offset, count, change_at, context)");
        return NULL;
    }
    PyObject *raw = args[0], *fallback = args[3], *context = args[4];
    if (!PyTuple_Check(context) || PyTuple_GET_SIZE(context) != CTX_SIZE) {
        PyErr_SetString(PyExc_TypeError, "context: a tuple of the builder's classes and names");
        return NULL;
    }
    PyObject *const *ctx = &PyTuple_GET_ITEM(context, 0);
    if (!PyTuple_Check(ctx[CTX_KIND_NAMES]) || PyTuple_GET_SIZE(ctx[CTX_KIND_NAMES]) != 5 ||
        !PyTuple_Check(ctx[CTX_TYPE_NAMES]) || PyTuple_GET_SIZE(ctx[CTX_TYPE_NAMES]) != 6) {
        PyErr_SetString(PyExc_TypeError, "context: kind names (5) and type names (6) as tuples");
        return NULL;
    }
    Py_buffer view;
    Py_ssize_t o, count;
    if (list_args(args, &o, &count, &view) < 0)
        return NULL;
    Buf b = {(const unsigned char *)view.buf, view.len};
    /* Not sized by `count`: a hostile count must not allocate; reads past the end go to Python, which raises. */
    PyObject *out = PyList_New(0);
    if (out == NULL)
        goto error;
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *change = NULL;
        Py_ssize_t next = 0;
        int got = change_at(&b, raw, ctx, o, &change, &next);
        if (got < 0)
            goto error;
        if (got == 0) {
            PyObject *offset = PyLong_FromSsize_t(o);
            if (offset == NULL)
                goto error;
            PyObject *call_args[2] = {raw, offset};
            PyObject *pair = call(fallback, call_args, 2);
            Py_DECREF(offset);
            if (pair == NULL)
                goto error;
            if (!PyTuple_Check(pair) || PyTuple_GET_SIZE(pair) != 2) {
                Py_DECREF(pair);
                PyErr_SetString(PyExc_TypeError, "change_at must return (change, offset)");
                goto error;
            }
            change = Py_NewRef(PyTuple_GET_ITEM(pair, 0));
            next = PyLong_AsSsize_t(PyTuple_GET_ITEM(pair, 1));
            Py_DECREF(pair);
            if (next == -1 && PyErr_Occurred()) {
                Py_DECREF(change);
                goto error;
            }
        }
        int appended = PyList_Append(out, change);
        Py_DECREF(change);
        if (appended < 0)
            goto error;
        o = next;
    }
    PyBuffer_Release(&view);
    PyObject *result = PyList_AsTuple(out);
    Py_DECREF(out);
    return result;
error:
    Py_XDECREF(out);
    PyBuffer_Release(&view);
    return NULL;
}


/* -- contract events ------------------------------------------------------------------------------------------ */
enum {
    EV_CONTRACT_EVENT,
    EV_TRANSACTION_EVENT,
    EV_SCVALUE,       /* ScValue.from_xdr_bytes */
    EV_SKIP_SCVAL,    /* skippers.skip_SCVal(raw, offset) -> offset after */
    EV_CONTRACT_KEY,  /* xdrconv.contract_strkey(hash) */
    EV_TYPE_NAMES,    /* by ContractEventType: system, contract, diagnostic */
    EV_STAGE_NAMES,   /* by TransactionEventStage */
    EV_SIZE
};

/* An ScValue of the bytes [o, end) where end is what skip_SCVal says; 0 declines (skipper error cleared). */
static int scvalue_at(const Buf *b, PyObject *raw, PyObject *const *ev, Py_ssize_t *o, PyObject **out) {
    Py_ssize_t end;
    int got = skipped(b, raw, ev, EV_SKIP_SCVAL, *o, &end); /* a refused value: the Python reader raises */
    if (got <= 0)
        return got;
    PyObject *bytes = PyBytes_FromStringAndSize((const char *)b->p + *o, end - *o);
    if (bytes == NULL)
        return -1;
    PyObject *value_args[1] = {bytes};
    *out = untracked(build(ev[EV_SCVALUE], value_args, 1));
    Py_DECREF(bytes);
    if (*out == NULL)
        return -1;
    *o = end;
    return 1;
}

/* The ContractEvent at `o` (at its ExtensionPoint); `in_call` the diagnostic flag (None elsewhere). */
static int event_at(const Buf *b, PyObject *raw, PyObject *const *ev, Py_ssize_t *o, PyObject *in_call,
                    PyObject **out) {
    PyObject *contract = NULL, *topics = NULL, *data = NULL;
    int result = -1, got;
    Py_ssize_t p = *o;
    if (!HAS(b, p, 8) || u32(b, p) != 0)
        return 0;
    uint32_t present = u32(b, p + 4);
    p += 8;
    if (present == 1) {
        if (!HAS(b, p, 32))
            return 0;
        PyObject *hash = PyBytes_FromStringAndSize((const char *)b->p + p, 32);
        if (hash == NULL)
            return -1;
        PyObject *args[1] = {hash};
        contract = call(ev[EV_CONTRACT_KEY], args, 1);
        Py_DECREF(hash);
        if (contract == NULL)
            return -1;
        p += 32;
    } else if (present == 0) {
        contract = Py_NewRef(Py_None);
    } else
        return 0;
    if (!HAS(b, p, 12))
        goto decline;
    uint32_t kind = u32(b, p);
    uint32_t count = u32(b, p + 8);
    if (kind > 2 || u32(b, p + 4) != 0 || (Py_ssize_t)count > (b->n - p) / 4)
        goto decline;
    p += 12;
    topics = PyTuple_New(count);
    if (topics == NULL)
        goto done;
    for (uint32_t i = 0; i < count; i++) {
        PyObject *topic = NULL;
        got = scvalue_at(b, raw, ev, &p, &topic);
        if (got <= 0)
            goto maybe_decline;
        PyTuple_SET_ITEM(topics, i, topic);
    }
    got = scvalue_at(b, raw, ev, &p, &data);
    if (got <= 0)
        goto maybe_decline;
    {
        PyObject *args[5] = {PyTuple_GET_ITEM(ev[EV_TYPE_NAMES], kind), contract, untracked(topics), data, in_call};
        *out = untracked(build(ev[EV_CONTRACT_EVENT], args, 5));
    }
    if (*out == NULL)
        goto done;
    *o = p;
    result = 1;
    goto done;
maybe_decline:
    if (got < 0)
        goto done;
decline:
    result = 0;
done:
    Py_XDECREF(contract);
    Py_XDECREF(topics);
    Py_XDECREF(data);
    return result;
}

/* ``events(raw, offset, count, shape, context)``: the events of a list whose first item is at `offset`: shape 0
 * ``ContractEvent<>``, 1 ``DiagnosticEvent<>`` (a bool, then the event), 2 ``TransactionEvent<>`` (a stage, then
 * the event). None when anything is not as expected: the caller then reads the whole list in Python. */
static PyObject *events(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
    (void)module;
    if (nargs != 5) {
        PyErr_SetString(PyExc_TypeError, "events(raw, offset, count, shape, context)");
        return NULL;
    }
    PyObject *raw = args[0], *context = args[4];
    long shape = PyLong_AsLong(args[3]);
    if (shape == -1 && PyErr_Occurred())
        return NULL;
    if (!PyTuple_Check(context) || PyTuple_GET_SIZE(context) != EV_SIZE ||
        !PyTuple_Check(PyTuple_GET_ITEM(context, EV_TYPE_NAMES)) ||
        PyTuple_GET_SIZE(PyTuple_GET_ITEM(context, EV_TYPE_NAMES)) != 3 ||
        !PyTuple_Check(PyTuple_GET_ITEM(context, EV_STAGE_NAMES)) ||
        PyTuple_GET_SIZE(PyTuple_GET_ITEM(context, EV_STAGE_NAMES)) != 3) {
        PyErr_SetString(PyExc_TypeError, "context: the event builder's classes and names");
        return NULL;
    }
    PyObject *const *ev = &PyTuple_GET_ITEM(context, 0);
    Py_buffer view;
    Py_ssize_t o, count;
    if (list_args(args, &o, &count, &view) < 0)
        return NULL;
    Buf b = {(const unsigned char *)view.buf, view.len};
    PyObject *out = PyList_New(0);
    if (out == NULL)
        goto error;
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *in_call = Py_None, *event = NULL;
        uint32_t stage = 0;
        if (shape != 0) {
            if (!HAS(&b, o, 4))
                goto decline;
            uint32_t word = u32(&b, o);
            if (shape == 1) {
                if (word > 1)
                    goto decline;
                in_call = word ? Py_True : Py_False;
            } else {
                if (word > 2)
                    goto decline;
                stage = word;
            }
            o += 4;
        }
        int got = event_at(&b, raw, ev, &o, in_call, &event);
        if (got < 0)
            goto error;
        if (got == 0)
            goto decline;
        if (shape == 2) {
            PyObject *pair_args[2] = {PyTuple_GET_ITEM(ev[EV_STAGE_NAMES], stage), event};
            PyObject *wrapped = untracked(build(ev[EV_TRANSACTION_EVENT], pair_args, 2));
            Py_DECREF(event);
            if (wrapped == NULL)
                goto error;
            event = wrapped;
        }
        int appended = PyList_Append(out, event);
        Py_DECREF(event);
        if (appended < 0)
            goto error;
    }
    PyBuffer_Release(&view);
    PyObject *result = PyList_AsTuple(out);
    Py_DECREF(out);
    return untracked(result);
decline:
    Py_DECREF(out);
    PyBuffer_Release(&view);
    Py_RETURN_NONE;
error:
    Py_XDECREF(out);
    PyBuffer_Release(&view);
    return NULL;
}

/* strkey(version, data): `strkey_of` for Python (ledgers.xdrconv's encoders, when this module is built); `data`
 * any bytes-like object, as stellar-sdk's encoders take. */
static PyObject *strkey(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 2 || !PyLong_Check(args[0])) {
        PyErr_SetString(PyExc_TypeError, "strkey(version: int, data: bytes)");
        return NULL;
    }
    long version = PyLong_AsLong(args[0]);
    if (version == -1 && PyErr_Occurred())
        return NULL;
    Py_buffer view;
    if (PyObject_GetBuffer(args[1], &view, PyBUF_SIMPLE) < 0)
        return NULL;
    PyObject *out = NULL;
    if (version < 0 || version > 255 || view.len > STRKEY_MAX)
        PyErr_SetString(PyExc_ValueError, "strkey: version is one byte and data at most 128 bytes");
    else
        out = strkey_of((unsigned char)version, (const unsigned char *)view.buf, view.len);
    PyBuffer_Release(&view);
    return out;
}

static PyMethodDef methods[] = {
    {"changes", (PyCFunction)(void (*)(void))changes, METH_FASTCALL,
     "changes(raw, offset, count, change_at, context) -> tuple of EntryChange"},
    {"events", (PyCFunction)(void (*)(void))events, METH_FASTCALL,
     "events(raw, offset, count, shape, context) -> tuple of events, or None (read them in Python)"},
    {"maker", (PyCFunction)(void (*)(void))new_maker, METH_FASTCALL,
     "maker(cls, names, defaults) -> a callable building cls objects slot by slot (see ledgers.frozen)"},
    {"strkey", (PyCFunction)(void (*)(void))strkey, METH_FASTCALL,
     "strkey(version, data) -> the strkey of data under the version byte (as stellar_sdk.StrKey encodes)"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT, "ledgers._fastchanges",
    "Ledger entry changes built in C for the fast decoder (see ledgers.fastentries).", -1, methods,
};

PyMODINIT_FUNC PyInit__fastchanges(void) {
    crc16_fill_table();
    if (PyType_Ready(&MakerType) < 0)
        return NULL;
    return PyModule_Create(&module_def);
}
