/* JSON <-> Python in C: see rt_conv.h. The parser is a recursive-descent
 * reader with a depth cap; the writer follows json.encoder's rules
 * (", " and ": " separators, ensure_ascii escapes, float repr, NaN and
 * Infinity) for exact built-in types and defers everything else to the json
 * module, which keeps the error messages users see identical. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "rt_conv.h"

#include <math.h>
#include <stdbool.h>
#include <string.h>

#include "lf_err.h"

#define PARSE_MAX_DEPTH 512
#define DUMP_MAX_DEPTH 100
#define NUMBER_MAX_CHARS 512

/* The json module's dumps, for the fallback. Process-wide because the
 * worker has one interpreter. */
static PyObject *json_dumps_fn;

int
rt_conv_init(void)
{
    PyObject *mod = PyImport_ImportModule("json"); /* new */

    if (mod == NULL)
        return -1;
    json_dumps_fn = PyObject_GetAttrString(mod, "dumps");
    Py_DECREF(mod);
    return json_dumps_fn ? 0 : -1;
}

/* ---- parsing ---- */

struct parser {
    const char *p, *end, *start;
    int depth;
};

static PyObject *
fail(struct parser *ps, const char *what)
{
    if (!PyErr_Occurred())
        PyErr_Format(PyExc_ValueError, "%s: char %zd", what, (Py_ssize_t)(ps->p - ps->start));
    return NULL;
}

static void
skip_ws(struct parser *ps)
{
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' ||
                               *ps->p == '\r'))
        ps->p++;
}

static bool
literal(struct parser *ps, const char *word)
{
    size_t n = strlen(word);

    if ((size_t)(ps->end - ps->p) >= n && memcmp(ps->p, word, n) == 0) {
        ps->p += n;
        return true;
    }
    return false;
}

static int
hex4(const char *s)
{
    int v = 0;

    for (int i = 0; i < 4; i++) {
        char c = s[i];

        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= c - '0';
        else if (c >= 'a' && c <= 'f')
            v |= c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            v |= c - 'A' + 10;
        else
            return -1;
    }
    return v;
}

static void
put_utf8(struct lf_buf *b, unsigned cp)
{
    char u[4];
    size_t n;

    if (cp < 0x80) {
        u[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        u[0] = (char)(0xc0 | (cp >> 6));
        u[1] = (char)(0x80 | (cp & 0x3f));
        n = 2;
    } else if (cp < 0x10000) {
        u[0] = (char)(0xe0 | (cp >> 12));
        u[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        u[2] = (char)(0x80 | (cp & 0x3f));
        n = 3;
    } else {
        u[0] = (char)(0xf0 | (cp >> 18));
        u[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
        u[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
        u[3] = (char)(0x80 | (cp & 0x3f));
        n = 4;
    }
    lf_buf_add(b, u, n);
}

static PyObject *
parse_string(struct parser *ps)
{
    const char *s = ++ps->p; /* after the opening quote */
    struct lf_buf b;
    PyObject *res;

    /* Fast path: no escapes, no control characters. */
    while (ps->p < ps->end && *ps->p != '"' && *ps->p != '\\' && (unsigned char)*ps->p >= 0x20)
        ps->p++;
    if (ps->p < ps->end && *ps->p == '"') {
        res = PyUnicode_DecodeUTF8(s, ps->p - s, "surrogatepass");
        ps->p++;
        return res;
    }
    lf_buf_init(&b, (size_t)(ps->end - s) * 2 + 16);
    lf_buf_add(&b, s, (size_t)(ps->p - s));
    while (ps->p < ps->end && *ps->p != '"') {
        char c = *ps->p;

        if ((unsigned char)c < 0x20) {
            lf_buf_release(&b);
            return fail(ps, "Invalid control character");
        }
        if (c != '\\') {
            lf_buf_add(&b, &c, 1);
            ps->p++;
            continue;
        }
        if (ps->end - ps->p < 2) {
            lf_buf_release(&b);
            return fail(ps, "Unterminated string");
        }
        c = ps->p[1];
        ps->p += 2;
        switch (c) {
        case '"': lf_buf_add(&b, "\"", 1); break;
        case '\\': lf_buf_add(&b, "\\", 1); break;
        case '/': lf_buf_add(&b, "/", 1); break;
        case 'b': lf_buf_add(&b, "\b", 1); break;
        case 'f': lf_buf_add(&b, "\f", 1); break;
        case 'n': lf_buf_add(&b, "\n", 1); break;
        case 'r': lf_buf_add(&b, "\r", 1); break;
        case 't': lf_buf_add(&b, "\t", 1); break;
        case 'u': {
            int cp = ps->end - ps->p >= 4 ? hex4(ps->p) : -1;

            if (cp < 0) {
                lf_buf_release(&b);
                return fail(ps, "Invalid \\uXXXX escape");
            }
            ps->p += 4;
            if (cp >= 0xd800 && cp <= 0xdbff && ps->end - ps->p >= 6 && ps->p[0] == '\\' &&
                ps->p[1] == 'u') {
                int lo = hex4(ps->p + 2);

                if (lo >= 0xdc00 && lo <= 0xdfff) {
                    cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                    ps->p += 6;
                }
            }
            put_utf8(&b, (unsigned)cp);
            break;
        }
        default:
            lf_buf_release(&b);
            return fail(ps, "Invalid \\escape");
        }
    }
    if (ps->p >= ps->end) {
        lf_buf_release(&b);
        return fail(ps, "Unterminated string");
    }
    ps->p++;
    res = PyUnicode_DecodeUTF8(b.data ? b.data : "", (Py_ssize_t)b.len, "surrogatepass");
    lf_buf_release(&b);
    return res;
}

static PyObject *
parse_number(struct parser *ps)
{
    const char *s = ps->p;
    char buf[NUMBER_MAX_CHARS + 1];
    bool is_float = false;
    size_t n;

    if (ps->p < ps->end && *ps->p == '-')
        ps->p++;
    if (ps->p < ps->end && *ps->p == '0') {
        ps->p++;
    } else if (ps->p < ps->end && *ps->p >= '1' && *ps->p <= '9') {
        while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9')
            ps->p++;
    } else {
        return fail(ps, "Expecting value");
    }
    if (ps->p + 1 < ps->end && *ps->p == '.' && ps->p[1] >= '0' && ps->p[1] <= '9') {
        is_float = true;
        ps->p++;
        while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9')
            ps->p++;
    }
    if (ps->p < ps->end && (*ps->p == 'e' || *ps->p == 'E')) {
        const char *save = ps->p++;

        if (ps->p < ps->end && (*ps->p == '+' || *ps->p == '-'))
            ps->p++;
        if (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9') {
            is_float = true;
            while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9')
                ps->p++;
        } else {
            ps->p = save;
        }
    }
    n = (size_t)(ps->p - s);
    if (n > NUMBER_MAX_CHARS)
        return fail(ps, "Number too long");
    memcpy(buf, s, n);
    buf[n] = '\0';
    if (!is_float)
        return PyLong_FromString(buf, NULL, 10);
    return PyFloat_FromDouble(PyOS_string_to_double(buf, NULL, NULL));
}

static PyObject *parse_value(struct parser *ps);

/* Consumes the opening bracket; true (the closing one consumed too) when
 * the array or object is empty. */
static bool
open_empty(struct parser *ps, char close)
{
    ps->p++;
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == close) {
        ps->p++;
        return true;
    }
    return false;
}

/* After an item of an array or object: 1 if a ',' follows, 0 if close
 * does (both consumed), -1 (with ValueError set) otherwise. */
static int
after_item(struct parser *ps, char close)
{
    skip_ws(ps);
    if (ps->p < ps->end && (*ps->p == ',' || *ps->p == close))
        return *ps->p++ == ',';
    fail(ps, "Expecting ',' delimiter");
    return -1;
}

static PyObject *
parse_array(struct parser *ps)
{
    PyObject *list = PyList_New(0); /* new */

    if (list == NULL || open_empty(ps, ']'))
        return list;
    for (;;) {
        PyObject *item = parse_value(ps); /* new */

        if (item == NULL || PyList_Append(list, item) != 0) {
            Py_XDECREF(item);
            Py_DECREF(list);
            return NULL;
        }
        Py_DECREF(item);
        switch (after_item(ps, ']')) {
        case 1: continue;
        case 0: return list;
        default: Py_DECREF(list); return NULL;
        }
    }
}

static PyObject *
parse_object(struct parser *ps)
{
    PyObject *dict = PyDict_New(); /* new */

    if (dict == NULL || open_empty(ps, '}'))
        return dict;
    for (;;) {
        PyObject *key = NULL, *value = NULL; /* new */

        skip_ws(ps);
        if (ps->p >= ps->end || *ps->p != '"') {
            Py_DECREF(dict);
            return fail(ps, "Expecting property name enclosed in double quotes");
        }
        key = parse_string(ps);
        if (key != NULL) {
            PyUnicode_InternInPlace(&key);
            skip_ws(ps);
            if (ps->p < ps->end && *ps->p == ':') {
                ps->p++;
                value = parse_value(ps);
            } else {
                fail(ps, "Expecting ':' delimiter");
            }
        }
        if (value == NULL || PyDict_SetItem(dict, key, value) != 0) {
            Py_XDECREF(key);
            Py_XDECREF(value);
            Py_DECREF(dict);
            return NULL;
        }
        Py_DECREF(key);
        Py_DECREF(value);
        switch (after_item(ps, '}')) {
        case 1: continue;
        case 0: return dict;
        default: Py_DECREF(dict); return NULL;
        }
    }
}

static PyObject *
parse_value(struct parser *ps)
{
    PyObject *res;

    skip_ws(ps);
    if (ps->p >= ps->end)
        return fail(ps, "Expecting value");
    if (++ps->depth > PARSE_MAX_DEPTH)
        return fail(ps, "JSON nested too deeply");
    switch (*ps->p) {
    case '{': res = parse_object(ps); break;
    case '[': res = parse_array(ps); break;
    case '"': res = parse_string(ps); break;
    default:
        if (literal(ps, "null"))
            res = Py_NewRef(Py_None);
        else if (literal(ps, "true"))
            res = Py_NewRef(Py_True);
        else if (literal(ps, "false"))
            res = Py_NewRef(Py_False);
        else if (literal(ps, "NaN"))
            res = PyFloat_FromDouble(Py_NAN);
        else if (literal(ps, "Infinity"))
            res = PyFloat_FromDouble(Py_HUGE_VAL);
        else if (literal(ps, "-Infinity"))
            res = PyFloat_FromDouble(-Py_HUGE_VAL);
        else
            res = parse_number(ps);
    }
    ps->depth--;
    return res;
}

PyObject *
rt_json_loads(const char *text, size_t len)
{
    struct parser ps = { text, text + len, text, 0 };
    PyObject *res = parse_value(&ps); /* new */

    if (res == NULL)
        return NULL;
    skip_ws(&ps);
    if (ps.p != ps.end) {
        Py_DECREF(res);
        return fail(&ps, "Extra data");
    }
    return res;
}

/* ---- serializing ---- */

/* Returned by dump() when the value needs the json module instead. */
#define DUMP_FALLBACK 1

static int
add(struct lf_buf *out, const char *s, size_t n)
{
    if (lf_buf_add(out, s, n) != LF_OK) {
        PyErr_NoMemory();
        return -1;
    }
    return 0;
}

#define ADDS(out, lit) add((out), (lit), sizeof(lit) - 1)

static int
quote_unicode(struct lf_buf *out, PyObject *s)
{
    static const char hex[] = "0123456789abcdef";
    Py_ssize_t n = PyUnicode_GET_LENGTH(s);
    int kind = PyUnicode_KIND(s);
    const void *data = PyUnicode_DATA(s);
    char esc[12];

    if (ADDS(out, "\"") != 0)
        return -1;
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_UCS4 c = PyUnicode_READ(kind, data, i);
        char ch = (char)c;
        int rc;

        if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
            rc = add(out, &ch, 1);
        } else if (c == '"') {
            rc = ADDS(out, "\\\"");
        } else if (c == '\\') {
            rc = ADDS(out, "\\\\");
        } else if (c == '\n') {
            rc = ADDS(out, "\\n");
        } else if (c == '\r') {
            rc = ADDS(out, "\\r");
        } else if (c == '\t') {
            rc = ADDS(out, "\\t");
        } else if (c == '\b') {
            rc = ADDS(out, "\\b");
        } else if (c == '\f') {
            rc = ADDS(out, "\\f");
        } else if (c >= 0x10000) {
            Py_UCS4 v = c - 0x10000, hi = 0xd800 | (v >> 10), lo = 0xdc00 | (v & 0x3ff);

            esc[0] = '\\', esc[1] = 'u';
            esc[2] = hex[(hi >> 12) & 15], esc[3] = hex[(hi >> 8) & 15];
            esc[4] = hex[(hi >> 4) & 15], esc[5] = hex[hi & 15];
            esc[6] = '\\', esc[7] = 'u';
            esc[8] = hex[(lo >> 12) & 15], esc[9] = hex[(lo >> 8) & 15];
            esc[10] = hex[(lo >> 4) & 15], esc[11] = hex[lo & 15];
            rc = add(out, esc, 12);
        } else {
            esc[0] = '\\', esc[1] = 'u';
            esc[2] = hex[(c >> 12) & 15], esc[3] = hex[(c >> 8) & 15];
            esc[4] = hex[(c >> 4) & 15], esc[5] = hex[c & 15];
            rc = add(out, esc, 6);
        }
        if (rc != 0)
            return -1;
    }
    return ADDS(out, "\"");
}

static int
dump_float(struct lf_buf *out, double v)
{
    char *text;
    int rc;

    if (isnan(v))
        return ADDS(out, "NaN");
    if (isinf(v))
        return v > 0 ? ADDS(out, "Infinity") : ADDS(out, "-Infinity");
    text = PyOS_double_to_string(v, 'r', 0, Py_DTSF_ADD_DOT_0, NULL);
    if (text == NULL)
        return -1;
    rc = add(out, text, strlen(text));
    PyMem_Free(text);
    return rc;
}

static int
dump_long(struct lf_buf *out, PyObject *obj)
{
    int overflow = 0;
    long long v = PyLong_AsLongLongAndOverflow(obj, &overflow);
    char buf[32];
    PyObject *text; /* new */
    Py_ssize_t n;
    const char *s;
    int rc;

    if (v == -1 && PyErr_Occurred())
        return -1;
    if (!overflow) {
        snprintf(buf, sizeof(buf), "%lld", v);
        return add(out, buf, strlen(buf));
    }
    text = PyObject_Str(obj);
    if (text == NULL)
        return -1;
    s = PyUnicode_AsUTF8AndSize(text, &n);
    rc = s ? add(out, s, (size_t)n) : -1;
    Py_DECREF(text);
    return rc;
}

static int dump(struct lf_buf *out, PyObject *obj, int depth);

static int
dump_key(struct lf_buf *out, PyObject *key)
{
    if (PyUnicode_CheckExact(key))
        return quote_unicode(out, key);
    if (key == Py_True)
        return ADDS(out, "\"true\"");
    if (key == Py_False)
        return ADDS(out, "\"false\"");
    if (key == Py_None)
        return ADDS(out, "\"null\"");
    if (PyLong_CheckExact(key) || PyFloat_CheckExact(key)) {
        int rc = ADDS(out, "\"");

        if (rc == 0)
            rc = PyLong_CheckExact(key) ? dump_long(out, key)
                                        : dump_float(out, PyFloat_AS_DOUBLE(key));
        return rc == 0 ? ADDS(out, "\"") : rc;
    }
    return DUMP_FALLBACK;
}

static int
dump_seq(struct lf_buf *out, PyObject *seq, int depth)
{
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    PyObject **items = PySequence_Fast_ITEMS(seq); /* borrowed */
    int rc;

    if (ADDS(out, "[") != 0)
        return -1;
    for (Py_ssize_t i = 0; i < n; i++) {
        if (i > 0 && ADDS(out, ", ") != 0)
            return -1;
        if ((rc = dump(out, items[i], depth + 1)) != 0)
            return rc;
    }
    return ADDS(out, "]");
}

static int
dump_dict(struct lf_buf *out, PyObject *dict, int depth)
{
    PyObject *key, *value; /* borrowed */
    Py_ssize_t pos = 0;
    bool first = true;
    int rc;

    if (ADDS(out, "{") != 0)
        return -1;
    while (PyDict_Next(dict, &pos, &key, &value)) {
        if (!first && ADDS(out, ", ") != 0)
            return -1;
        first = false;
        if ((rc = dump_key(out, key)) != 0)
            return rc;
        if (ADDS(out, ": ") != 0)
            return -1;
        if ((rc = dump(out, value, depth + 1)) != 0)
            return rc;
    }
    return ADDS(out, "}");
}

/* Returns 0, -1 with an exception set, or DUMP_FALLBACK. */
static int
dump(struct lf_buf *out, PyObject *obj, int depth)
{
    if (depth > DUMP_MAX_DEPTH)
        return DUMP_FALLBACK;
    if (obj == Py_None)
        return ADDS(out, "null");
    if (obj == Py_True)
        return ADDS(out, "true");
    if (obj == Py_False)
        return ADDS(out, "false");
    if (PyUnicode_CheckExact(obj))
        return quote_unicode(out, obj);
    if (PyLong_CheckExact(obj))
        return dump_long(out, obj);
    if (PyFloat_CheckExact(obj))
        return dump_float(out, PyFloat_AS_DOUBLE(obj));
    if (PyList_CheckExact(obj) || PyTuple_CheckExact(obj))
        return dump_seq(out, obj, depth);
    if (PyDict_CheckExact(obj))
        return dump_dict(out, obj, depth);
    return DUMP_FALLBACK;
}

int
rt_json_dumps(PyObject *obj, struct lf_buf *out)
{
    size_t mark = out->len;
    PyObject *text; /* new */
    const char *s;
    Py_ssize_t n;
    int rc = dump(out, obj, 0);

    if (rc != DUMP_FALLBACK)
        return rc;
    /* Undo the partial output and let the json module do the whole value. */
    out->len = mark;
    if (out->data != NULL)
        out->data[mark] = '\0';
    text = PyObject_CallOneArg(json_dumps_fn, obj);
    if (text == NULL)
        return -1;
    s = PyUnicode_AsUTF8AndSize(text, &n);
    rc = s ? add(out, s, (size_t)n) : -1;
    Py_DECREF(text);
    return rc;
}

int
rt_json_quote_ascii(struct lf_buf *out, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    int rc = lf_buf_add(out, "\"", 1);

    for (size_t i = 0; i < n && rc == LF_OK; i++) {
        unsigned char c = (unsigned char)s[i];

        if (c == '"' || c == '\\') {
            char esc[2] = { '\\', (char)c };

            rc = lf_buf_add(out, esc, 2);
        } else if (c < 0x20 || c >= 0x7f) {
            char esc[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15] };

            rc = lf_buf_add(out, esc, 6);
        } else {
            rc = lf_buf_add(out, s + i, 1);
        }
    }
    return rc == LF_OK ? lf_buf_add(out, "\"", 1) : rc;
}
