/* Errors shared by every module: a negative code plus a one-line message.
 * Library code (cfg_, bl_, rt_, srv_store_) fills a struct lf_err and returns
 * the code; only the boundary (an HTTP handler, main) logs it. */
#ifndef LF_ERR_H
#define LF_ERR_H

#include <stddef.h>

enum lf_code {
    LF_OK = 0,
    LF_ENOMEM = -1,
    LF_EINVAL = -2,    /* bad input from a user: 400 */
    LF_ENOENT = -3,    /* no such object: 404 */
    LF_ECONFIG = -4,   /* bad setting: exit status 2 */
    LF_EBUNDLE = -5,   /* a bundle cannot be read or loaded */
    LF_EPYTHON = -6,   /* user code raised */
    LF_ETIMEDOUT = -7,
    LF_EBUSY = -8,     /* try again later: 503 */
    LF_EIO = -9,       /* file system or store failure: 500 */
    LF_ETOOBIG = -10,  /* over a size limit: 413 */
    LF_EEXIST = -11,   /* already exists: 400 or 409 */
    LF_EPERM = -12,    /* not allowed: 403 */
};

#define LF_ERR_MSG_BYTES 256

struct lf_err {
    enum lf_code code;
    char msg[LF_ERR_MSG_BYTES]; /* one line, lowercase, no final period */
    char *trace;                /* owned; set only for LF_EPYTHON */
};

/* Fills err (NULL allowed) with code and the formatted message and returns
 * code, so callers can write "return lf_err_set(err, LF_EINVAL, ...)". A
 * message too long for msg is cut. */
int lf_err_set(struct lf_err *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Frees what err owns (the trace) and resets it to LF_OK. NULL is a no-op. */
void lf_err_release(struct lf_err *err);

/* Short stable name of a code ("enomem", "einval", ...), for logs. */
const char *lf_code_name(int code);

#endif
