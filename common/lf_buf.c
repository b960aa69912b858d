/* Capped buffers: see lf_buf.h. */
#include "lf_buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lf_err.h"

#define BUF_MIN_ALLOC_BYTES 64

void
lf_buf_init(struct lf_buf *b, size_t max_bytes)
{
    b->data = NULL;
    b->len = 0;
    b->alloc = 0;
    b->max_bytes = max_bytes;
}

void
lf_buf_release(struct lf_buf *b)
{
    free(b->data);
    lf_buf_init(b, b->max_bytes);
}

static int
grow(struct lf_buf *b, size_t need)
{
    size_t want;
    char *p;

    if (need > b->max_bytes)
        return LF_ETOOBIG;
    if (need + 1 <= b->alloc)
        return LF_OK;
    want = b->alloc ? b->alloc : BUF_MIN_ALLOC_BYTES;
    while (want < need + 1)
        want *= 2;
    if (want - 1 > b->max_bytes) /* (max_bytes + 1 would wrap at SIZE_MAX) */
        want = b->max_bytes + 1;
    p = realloc(b->data, want);
    if (p == NULL)
        return LF_ENOMEM;
    b->data = p;
    b->alloc = want;
    return LF_OK;
}

int
lf_buf_add(struct lf_buf *b, const void *p, size_t n)
{
    int rc;

    if (n > b->max_bytes - b->len)
        return LF_ETOOBIG;
    rc = grow(b, b->len + n);
    if (rc != LF_OK)
        return rc;
    if (n > 0)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return LF_OK;
}

int
lf_buf_adds(struct lf_buf *b, const char *s)
{
    return lf_buf_add(b, s, strlen(s));
}

int
lf_buf_addf(struct lf_buf *b, const char *fmt, ...)
{
    va_list ap;
    int n, rc;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return LF_ENOMEM;
    if ((size_t)n > b->max_bytes - b->len)
        return LF_ETOOBIG;
    rc = grow(b, b->len + (size_t)n);
    if (rc != LF_OK)
        return rc;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return LF_OK;
}

char *
lf_buf_detach(struct lf_buf *b, size_t *len)
{
    char *p = b->data;

    if (p == NULL)
        p = strdup("");
    if (len != NULL)
        *len = b->len;
    lf_buf_init(b, b->max_bytes);
    return p;
}
