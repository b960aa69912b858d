/* A growable byte buffer with a hard cap (after curl's dynbuf): appending past
 * the cap fails with LF_ETOOBIG and leaves the contents as they were. The
 * data is always NUL-terminated so text can be used in place. */
#ifndef LF_BUF_H
#define LF_BUF_H

#include <stddef.h>

struct lf_buf {
    char *data;       /* owned; NULL until the first append */
    size_t len;       /* bytes used, not counting the NUL */
    size_t alloc;     /* bytes allocated */
    size_t max_bytes; /* cap on len */
};

/* Initializes an empty buffer that may hold up to max_bytes. */
void lf_buf_init(struct lf_buf *b, size_t max_bytes);

/* Frees the data and makes the buffer empty again (same cap). */
void lf_buf_release(struct lf_buf *b);

/* Appends n bytes. Errors: LF_ETOOBIG past the cap, LF_ENOMEM. */
int lf_buf_add(struct lf_buf *b, const void *p, size_t n);

/* Appends a NUL-terminated string. Errors as lf_buf_add. */
int lf_buf_adds(struct lf_buf *b, const char *s);

/* Appends printf-formatted text. Errors as lf_buf_add. */
int lf_buf_addf(struct lf_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Hands the data to the caller (free() it; never NULL on success: an empty
 * buffer gives ""), and leaves the buffer empty. Returns NULL on ENOMEM. */
char *lf_buf_detach(struct lf_buf *b, size_t *len);

#endif
