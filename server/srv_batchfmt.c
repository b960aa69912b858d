/* Batch job file formats: see srv_batchfmt.h. The CSV reader follows what
 * the reference server accepts through Python's csv.DictReader (spec 8.2
 * step 4) wherever that is well defined, and turns everything else into an
 * error that names the line. Line numbers count physical lines, so a quoted
 * field that spans lines moves the numbers of the records after it. */
#include "srv_batchfmt.h"

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lf_util.h"

/* ==== input CSV ==== */

#define NO_COL SIZE_MAX
#define FIELDS_MIN_CAP 8
#define ROWS_MIN_CAP 16

/* One field of the current record: a span of csv.buf (NUL-terminated). */
struct span {
    size_t off, len;
};

/* The reader's state. buf holds the unquoted fields of the record last read,
 * one after another; fields[] points into it. */
struct csv {
    const char *p, *end;
    size_t line;      /* physical line p is on */
    struct lf_buf buf;
    struct span *fields;
    size_t nf, cap_f;
};

static int
oom(struct lf_err *err)
{
    return lf_err_set(err, LF_ENOMEM, "out of memory");
}

static bool
is_eol(char c)
{
    return c == '\n' || c == '\r';
}

/* Moves past the line end at p ("\r\n", "\n" or "\r") and counts it. */
static void
eat_eol(struct csv *c)
{
    if (*c->p == '\r' && c->p + 1 < c->end && c->p[1] == '\n')
        c->p++;
    c->p++;
    c->line++;
}

static int
push_field(struct csv *c, size_t off, struct lf_err *err)
{
    if (c->nf == c->cap_f) {
        size_t cap = c->cap_f == 0 ? FIELDS_MIN_CAP : 2 * c->cap_f;
        struct span *f = realloc(c->fields, cap * sizeof(*f));

        if (f == NULL)
            return oom(err);
        c->fields = f;
        c->cap_f = cap;
    }
    c->fields[c->nf].off = off;
    c->fields[c->nf].len = c->buf.len - off;
    c->nf++;
    /* The NUL lets a field be used as a C string in place. */
    return lf_buf_add(&c->buf, "", 1) == LF_OK ? LF_OK : oom(err);
}

/* Appends the bytes from p up to (not including) the first of stop's
 * characters (or a NUL byte) to buf, and moves p there. */
static int
take_run(struct csv *c, const char *stop, struct lf_err *err)
{
    const char *s = c->p;

    while (c->p < c->end && *c->p != '\0' && strchr(stop, *c->p) == NULL)
        c->p++;
    if (c->p > s && lf_buf_add(&c->buf, s, (size_t)(c->p - s)) != LF_OK)
        return oom(err);
    return LF_OK;
}

/* The rest of a quoted field, p just past its opening quote: up to the
 * closing quote, "" standing for one quote, line ends kept as written. */
static int
read_quoted(struct csv *c, struct lf_err *err)
{
    size_t qline = c->line;
    int rc;

    for (;;) {
        if ((rc = take_run(c, "\"\r\n", err)) != LF_OK)
            return rc;
        if (c->p == c->end)
            return lf_err_set(err, LF_EINVAL, "line %zu: unterminated quoted field", qline);
        if (*c->p == '\0')
            return lf_err_set(err, LF_EINVAL, "line %zu: NUL byte", c->line);
        if (is_eol(*c->p)) {
            const char *s = c->p;

            eat_eol(c);
            if (lf_buf_add(&c->buf, s, (size_t)(c->p - s)) != LF_OK)
                return oom(err);
            continue;
        }
        c->p++; /* a quote: doubled, or the closing one */
        if (c->p < c->end && *c->p == '"') {
            if (lf_buf_add(&c->buf, "\"", 1) != LF_OK)
                return oom(err);
            c->p++;
            continue;
        }
        return LF_OK;
    }
}

/* Reads the next non-blank record into c->buf and c->fields. Returns 1 when
 * one was read (*rec_line = its first line), 0 at the end of the text, or a
 * negative code. */
static int
csv_next(struct csv *c, size_t *rec_line, struct lf_err *err)
{
    int rc;

    while (c->p < c->end && is_eol(*c->p))
        eat_eol(c); /* blank lines, which DictReader skips too */
    if (c->p == c->end)
        return 0;
    *rec_line = c->line;
    c->buf.len = 0;
    c->nf = 0;
    for (;;) {
        size_t off = c->buf.len;

        if (*c->p == '"') {
            c->p++;
            if ((rc = read_quoted(c, err)) != LF_OK)
                return rc;
        }
        /* Unquoted text, or what follows a closing quote (kept, as
         * Python's non-strict reader keeps it). */
        if ((rc = take_run(c, ",\r\n", err)) != LF_OK)
            return rc;
        if (c->p < c->end && *c->p == '\0')
            return lf_err_set(err, LF_EINVAL, "line %zu: NUL byte", c->line);
        if ((rc = push_field(c, off, err)) != LF_OK)
            return rc;
        if (c->p < c->end && *c->p == ',') {
            c->p++;
            if (c->p < c->end)
                continue;
            /* A comma at the very end leaves one more, empty field. */
            return push_field(c, c->buf.len, err) == LF_OK ? 1 : LF_ENOMEM;
        }
        if (c->p < c->end)
            eat_eol(c);
        return 1;
    }
}

/* The field at index col of the current record. */
static const char *
field(const struct csv *c, size_t col, size_t *len)
{
    *len = c->fields[col].len;
    return c->buf.data + c->fields[col].off;
}

/* Finds the header's columns. */
static int
read_header(struct csv *c, size_t line, size_t *id_col, size_t *url_col, size_t *args_col,
            struct lf_err *err)
{
    static const char *const names[] = {"id", "url", "args"};
    size_t *cols[] = {id_col, url_col, args_col};

    *id_col = *url_col = *args_col = NO_COL;
    for (size_t i = 0; i < c->nf; i++) {
        size_t len;
        const char *name = field(c, i, &len);

        for (size_t k = 0; k < 3; k++) {
            if (strcmp(name, names[k]) != 0)
                continue;
            if (*cols[k] != NO_COL)
                return lf_err_set(err, LF_EINVAL, "line %zu: duplicate \"%s\" column", line,
                                  names[k]);
            *cols[k] = i;
        }
    }
    if (*id_col == NO_COL)
        return lf_err_set(err, LF_EINVAL, "line %zu: no \"id\" column", line);
    if (*url_col == NO_COL && *args_col == NO_COL)
        return lf_err_set(err, LF_EINVAL, "line %zu: no \"args\" or \"url\" column", line);
    return LF_OK;
}

static bool
is_blank(char ch)
{
    return ch == ' ' || ch == '\t';
}

/* Decodes an args field: base64 of UTF-8 JSON text (spec 8.1 step 2). */
static int
decode_args(const char *s, size_t len, size_t line, cJSON **out, struct lf_err *err)
{
    char *text = NULL;
    size_t n, pad = 0;

    while (len > 0 && is_blank(*s))
        s++, len--;
    while (len > 0 && is_blank(s[len - 1]))
        len--;
    /* lf_base64_decode drops any run of '='; Python's b64decode wants the
     * padding, when there is some, to fill the last group of four. */
    while (pad < len && s[len - 1 - pad] == '=')
        pad++;
    if (pad > 2 || (pad > 0 && len % 4 != 0) || lf_base64_decode(s, len, &text, &n) != 0) {
        /* lf_base64_decode fails on bad input and ENOMEM alike; bad input
         * is far the likelier, and the message fits both well enough. */
        return lf_err_set(err, LF_EINVAL, "line %zu: args is not valid base64", line);
    }
    /* json.loads takes the whole text, valid UTF-8 only; cJSON would stop
     * at a NUL byte and pass bad UTF-8 through. */
    if (memchr(text, '\0', n) == NULL && lf_utf8_valid(text, n))
        *out = cJSON_ParseWithOpts(text, NULL, 1);
    free(text);
    if (*out == NULL)
        return lf_err_set(err, LF_EINVAL, "line %zu: args does not decode to JSON", line);
    return LF_OK;
}

static int
dup_field(const char *s, size_t len, size_t line, const char *what, char **out,
          struct lf_err *err)
{
    /* Ids and urls end up in JSON documents, which must be UTF-8. */
    if (!lf_utf8_valid(s, len))
        return lf_err_set(err, LF_EINVAL, "line %zu: %s is not valid UTF-8", line, what);
    *out = strndup(s, len);
    return *out == NULL ? oom(err) : LF_OK;
}

/* Fills row from the current record. */
static int
read_row(const struct csv *c, size_t line, size_t id_col, size_t url_col, size_t args_col,
         struct srv_batch_row *row, struct lf_err *err)
{
    const char *s;
    size_t len = 0;
    int rc;

    s = field(c, id_col, &len);
    if ((rc = dup_field(s, len, line, "id", &row->id, err)) != LF_OK)
        return rc;
    if (url_col != NO_COL) {
        s = field(c, url_col, &len);
        if (len > 0)
            return dup_field(s, len, line, "url", &row->url, err);
        if (args_col == NO_COL)
            return lf_err_set(err, LF_EINVAL, "line %zu: empty url", line);
    }
    s = field(c, args_col, &len);
    if (len == 0)
        return lf_err_set(err, LF_EINVAL, "line %zu: empty %s", line,
                          url_col != NO_COL ? "url and args" : "args");
    return decode_args(s, len, line, &row->args, err);
}

static int
add_row(struct srv_batch_input *in, size_t *cap, struct lf_err *err)
{
    if (in->n == *cap) {
        size_t ncap = *cap == 0 ? ROWS_MIN_CAP : 2 * *cap;
        struct srv_batch_row *r = realloc(in->rows, ncap * sizeof(*r));

        if (r == NULL)
            return oom(err);
        in->rows = r;
        *cap = ncap;
    }
    memset(&in->rows[in->n], 0, sizeof(in->rows[0]));
    in->n++;
    return LF_OK;
}

int
srv_batch_input_parse(const char *text, size_t len, size_t max_rows,
                      struct srv_batch_input *out, struct lf_err *err)
{
    /* text may be NULL when len is 0: no arithmetic on it then. */
    struct csv c = {.p = text, .end = len > 0 ? text + len : text, .line = 1};
    size_t id_col, url_col, args_col, ncols, line = 1, cap = 0;
    int rc;

    out->rows = NULL;
    out->n = 0;
    /* No cap of our own: a record's fields take at most its length plus
     * one byte, and the text is already in memory. (Not SIZE_MAX, which
     * lf_buf's "cap + 1" would wrap to 0.) */
    lf_buf_init(&c.buf, SIZE_MAX / 2);
    if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0)
        c.p += 3;
    rc = csv_next(&c, &line, err);
    if (rc == 0)
        rc = lf_err_set(err, LF_EINVAL, "line 1: no header");
    if (rc < 0)
        goto out;
    rc = read_header(&c, line, &id_col, &url_col, &args_col, err);
    if (rc != LF_OK)
        goto out;
    ncols = c.nf;

    while ((rc = csv_next(&c, &line, err)) == 1) {
        if (c.nf != ncols) {
            rc = lf_err_set(err, LF_EINVAL, "line %zu: expected %zu fields, found %zu", line,
                            ncols, c.nf);
            goto out;
        }
        if (out->n == max_rows) {
            rc = lf_err_set(err, LF_ETOOBIG, "more than %zu rows", max_rows);
            goto out;
        }
        if ((rc = add_row(out, &cap, err)) != LF_OK)
            goto out;
        rc = read_row(&c, line, id_col, url_col, args_col, &out->rows[out->n - 1], err);
        if (rc != LF_OK)
            goto out;
    }
out:
    lf_buf_release(&c.buf);
    free(c.fields);
    if (rc != LF_OK)
        srv_batch_input_release(out);
    return rc;
}

void
srv_batch_input_release(struct srv_batch_input *in)
{
    if (in == NULL)
        return;
    for (size_t i = 0; i < in->n; i++) {
        free(in->rows[i].id);
        free(in->rows[i].url);
        cJSON_Delete(in->rows[i].args);
    }
    free(in->rows);
    in->rows = NULL;
    in->n = 0;
}

/* ==== pickle writer ==== */

/* Opcodes of Python's pickle protocol 2 (Lib/pickle.py names). */
#define OP_PROTO '\x80'
#define OP_STOP '.'
#define OP_NONE 'N'
#define OP_NEWTRUE '\x88'
#define OP_NEWFALSE '\x89'
#define OP_BININT1 'K'
#define OP_BININT2 'M'
#define OP_BININT 'J'
#define OP_LONG1 '\x8a'
#define OP_BINFLOAT 'G'
#define OP_BINUNICODE 'X'
#define OP_EMPTY_LIST ']'
#define OP_APPEND 'a'
#define OP_APPENDS 'e'
#define OP_EMPTY_DICT '}'
#define OP_SETITEM 's'
#define OP_SETITEMS 'u'
#define OP_MARK '('

/* Items per MARK ... APPENDS/SETITEMS group, as Python's pickler writes. */
#define PICKLE_BATCH 1000
/* Numbers below this in magnitude are exact in a double. */
#define PICKLE_EXACT_LIMIT 9007199254740992.0 /* 2^53 */

static int
put(struct lf_buf *out, const void *p, size_t n, struct lf_err *err)
{
    int rc = lf_buf_add(out, p, n);

    if (rc == LF_ETOOBIG)
        return lf_err_set(err, rc, "pickle is larger than %zu bytes", out->max_bytes);
    return rc == LF_OK ? LF_OK : oom(err);
}

static int
put_op(struct lf_buf *out, char op, struct lf_err *err)
{
    return put(out, &op, 1, err);
}

/* An integer as Python pickles it: the smallest of BININT1 (unsigned 8
 * bits), BININT2 (unsigned 16), BININT (signed 32), else LONG1 with the
 * fewest little-endian two's complement bytes. */
static int
put_int(struct lf_buf *out, int64_t v, struct lf_err *err)
{
    unsigned char b[10];
    uint64_t u = (uint64_t)v;
    size_t n;

    for (size_t i = 0; i < 8; i++)
        b[2 + i] = (unsigned char)(u >> (8 * i));
    if (v >= 0 && v <= 0xff) {
        b[0] = OP_BININT1, b[1] = b[2];
        return put(out, b, 2, err);
    }
    if (v >= 0 && v <= 0xffff) {
        b[1] = OP_BININT2;
        return put(out, b + 1, 3, err);
    }
    if (v >= INT32_MIN && v <= INT32_MAX) {
        b[1] = OP_BININT;
        return put(out, b + 1, 5, err);
    }
    /* Drop top bytes that only repeat the sign of the byte below them. */
    for (n = 8; n > 1; n--) {
        unsigned char top = b[2 + n - 1], next = b[2 + n - 2];

        if (!((top == 0x00 && !(next & 0x80)) || (top == 0xff && (next & 0x80))))
            break;
    }
    b[0] = OP_LONG1, b[1] = (unsigned char)n;
    return put(out, b, 2 + n, err);
}

static int
put_number(struct lf_buf *out, double d, struct lf_err *err)
{
    unsigned char b[9];
    uint64_t bits;

    if (fabs(d) < PICKLE_EXACT_LIMIT && d == trunc(d))
        return put_int(out, (int64_t)d, err);
    memcpy(&bits, &d, sizeof(bits));
    b[0] = OP_BINFLOAT;
    for (size_t i = 0; i < 8; i++)
        b[1 + i] = (unsigned char)(bits >> (56 - 8 * i)); /* big-endian */
    return put(out, b, sizeof(b), err);
}

static int
put_string(struct lf_buf *out, const char *s, struct lf_err *err)
{
    size_t len = strlen(s);
    unsigned char b[5];
    int rc;

    /* Python decodes BINUNICODE with "surrogatepass", but bytes that are
     * not UTF-8 at all would make pickle.loads raise. */
    if (!lf_utf8_valid(s, len))
        return lf_err_set(err, LF_EINVAL, "cannot pickle a string that is not valid UTF-8");
    if (len > UINT32_MAX)
        return lf_err_set(err, LF_ETOOBIG, "cannot pickle a string of 4 GiB or more");
    b[0] = OP_BINUNICODE;
    for (size_t i = 0; i < 4; i++)
        b[1 + i] = (unsigned char)(len >> (8 * i));
    if ((rc = put(out, b, sizeof(b), err)) != LF_OK)
        return rc;
    return put(out, s, len, err);
}

static int pickle_value(const cJSON *v, int depth, struct lf_buf *out, struct lf_err *err);

/* The items of an array or object (keys with values), in groups the way
 * Python's batch_appends/batch_setitems write them. */
static int
put_items(const cJSON *v, int depth, struct lf_buf *out, struct lf_err *err)
{
    bool dict = cJSON_IsObject(v);
    const cJSON *it = v->child;
    int rc;

    while (it != NULL) {
        size_t n = 0;

        for (const cJSON *e = it; e != NULL && n < PICKLE_BATCH; e = e->next)
            n++;
        if (n > 1 && (rc = put_op(out, OP_MARK, err)) != LF_OK)
            return rc;
        for (size_t i = 0; i < n; i++, it = it->next) {
            if (dict && (rc = put_string(out, it->string != NULL ? it->string : "", err)) != LF_OK)
                return rc;
            if ((rc = pickle_value(it, depth, out, err)) != LF_OK)
                return rc;
        }
        rc = put_op(out, dict ? (n > 1 ? OP_SETITEMS : OP_SETITEM)
                              : (n > 1 ? OP_APPENDS : OP_APPEND), err);
        if (rc != LF_OK)
            return rc;
    }
    return LF_OK;
}

/* depth: the number of containers around v. */
static int
pickle_value(const cJSON *v, int depth, struct lf_buf *out, struct lf_err *err)
{
    int rc;

    if (cJSON_IsNull(v))
        return put_op(out, OP_NONE, err);
    if (cJSON_IsTrue(v))
        return put_op(out, OP_NEWTRUE, err);
    if (cJSON_IsFalse(v))
        return put_op(out, OP_NEWFALSE, err);
    if (cJSON_IsNumber(v))
        return put_number(out, v->valuedouble, err);
    if (cJSON_IsString(v))
        return put_string(out, v->valuestring != NULL ? v->valuestring : "", err);
    if (!cJSON_IsArray(v) && !cJSON_IsObject(v))
        return lf_err_set(err, LF_EINVAL, "cannot pickle a cJSON item of type %d", v->type & 0xff);
    if (depth >= SRV_PICKLE_MAX_DEPTH)
        return lf_err_set(err, LF_EINVAL, "cannot pickle JSON nested deeper than %d",
                          SRV_PICKLE_MAX_DEPTH);
    rc = put_op(out, cJSON_IsArray(v) ? OP_EMPTY_LIST : OP_EMPTY_DICT, err);
    if (rc != LF_OK)
        return rc;
    return put_items(v, depth + 1, out, err);
}

int
srv_pickle_json(const cJSON *v, struct lf_buf *out, struct lf_err *err)
{
    static const char proto[] = {OP_PROTO, 2};
    size_t start = out->len;
    int rc;

    if (v == NULL)
        return lf_err_set(err, LF_EINVAL, "cannot pickle a NULL value");
    rc = put(out, proto, sizeof(proto), err);
    if (rc == LF_OK)
        rc = pickle_value(v, 0, out, err);
    if (rc == LF_OK)
        rc = put_op(out, OP_STOP, err);
    if (rc != LF_OK && out->data != NULL) {
        /* Drop the part written, so a failed pickle leaves no trace. */
        out->len = start;
        out->data[start] = '\0';
    }
    return rc;
}
