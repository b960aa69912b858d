/* File formats of batch jobs (spec 8): reading the input CSV the client
 * uploads, and writing the PICKLE result format. Both are pure: they work
 * on memory given by the caller, keep no state and do no I/O, so they are
 * safe from any thread. */
#ifndef SRV_BATCHFMT_H
#define SRV_BATCHFMT_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "lf_buf.h"
#include "lf_err.h"

/* Containers (arrays and objects) nested deeper than this are refused by
 * srv_pickle_json: it recurses once per level. */
#define SRV_PICKLE_MAX_DEPTH 64

/* ---- input CSV (spec 8.1) ---- */

/* One task of a batch job: one data row of the CSV. */
struct srv_batch_row {
    char *id;    /* owned; the row's "id" text, as written (may be "") */
    char *url;   /* owned; the non-empty "url" text, or NULL when args is used */
    cJSON *args; /* owned; the JSON value the base64 "args" decodes to, or NULL when url is used */
};

/* The rows of an input CSV, in input order. */
struct srv_batch_input {
    struct srv_batch_row *rows; /* owned; n entries (NULL when n is 0) */
    size_t n;
};

/* Parses the batch input CSV text (len bytes; it need not be NUL-terminated
 * and is only read) into out->rows, one per data row, in input order.
 *
 * The format is what the official client writes with Python's
 * csv.DictWriter (excel dialect): comma-separated, a header row, fields
 * quoted with '"' when they hold a comma, quote or line end, quotes inside
 * doubled. What people write by hand is accepted as well: CRLF, LF or CR line
 * ends, a final line end or none, a UTF-8 byte order mark, columns in any
 * order, and columns other than the ones below (ignored). Blank lines
 * anywhere are skipped, as DictReader does; text after a closing quote is kept
 * as it is (`"a"b` reads as `ab`), as Python's non-strict reader does.
 *
 * The header (the first non-blank line) must name an "id" column and a "url"
 * or an "args" column, each at most once (names are case-sensitive). "args"
 * holds standard base64 (padding optional; spaces and tabs around it are
 * ignored) of UTF-8 JSON text, which may be any JSON value. With both
 * columns, a row uses url when it is non-empty and args otherwise. Every row
 * must have as many fields as the header. At most max_rows rows are allowed.
 *
 * On success, out owns the rows: release them with srv_batch_input_release.
 * On error, out is left empty ({NULL, 0}; releasing it is harmless).
 *
 * Errors (err->msg names the physical line, 1-based, where the record or the
 * offending quote starts):
 *   LF_EINVAL  "line 1: no header" (no non-blank line at all),
 *              "line 1: no \"id\" column", "line 1: no \"args\" or \"url\" column",
 *              "line 1: duplicate \"id\" column",
 *              "line 5: unterminated quoted field", "line 2: NUL byte",
 *              "line 4: expected 2 fields, found 3",
 *              "line 2: empty url" (url column only), "line 2: empty args"
 *              (args column only), "line 2: empty url and args" (both),
 *              "line 3: args is not valid base64",
 *              "line 7: args does not decode to JSON" (bad JSON, bad UTF-8,
 *              or a NUL byte in the decoded text),
 *              "line 2: id is not valid UTF-8", "line 2: url is not valid UTF-8";
 *   LF_ETOOBIG "more than 10 rows" past max_rows;
 *   LF_ENOMEM. */
int srv_batch_input_parse(const char *text, size_t len, size_t max_rows,
                          struct srv_batch_input *out, struct lf_err *err);

/* Frees every row and leaves in empty ({NULL, 0}). NULL is a no-op. */
void srv_batch_input_release(struct srv_batch_input *in);

/* ---- PICKLE results (spec 8.2) ---- */

/* Appends to out a Python pickle (protocol 2: PROTO 2 ... STOP) of the JSON
 * value v, which pickle.loads in Python 3 turns into what json.loads of v's
 * JSON text gives:
 *   object -> dict, keys in v's order (a repeated key: the last value wins,
 *             as with json.loads)
 *   array  -> list
 *   string -> str (BINUNICODE; the text must be valid UTF-8)
 *   number -> int when it is a whole number with |v| < 2^53, else float
 *             (BINFLOAT). cJSON keeps only a double, so JSON "1.0" becomes
 *             the int 1 (equal in Python, but json.dumps writes "1")
 *   true, false, null -> True, False, None
 * The pickle uses no memo (no PUT/GET opcodes), so it is larger than
 * Python's own when a value repeats, but loads the same.
 *
 * v is borrowed (only read). On success the pickle follows what out already
 * held; on error out is left as it was.
 *
 * Errors: LF_ETOOBIG when out would pass its cap (or a string is 4 GiB or
 * longer); LF_EINVAL for containers nested deeper than SRV_PICKLE_MAX_DEPTH,
 * a string that is not valid UTF-8, or a cJSON item of no JSON type (raw or
 * invalid); LF_ENOMEM. */
int srv_pickle_json(const cJSON *v, struct lf_buf *out, struct lf_err *err);

#endif
