/* Error values: see lf_err.h. */
#include "lf_err.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

int
lf_err_set(struct lf_err *err, int code, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL)
        return code;
    err->code = code;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    va_end(ap);
    return code;
}

void
lf_err_release(struct lf_err *err)
{
    if (err == NULL)
        return;
    free(err->trace);
    err->trace = NULL;
    err->code = LF_OK;
    err->msg[0] = '\0';
}

const char *
lf_code_name(int code)
{
    switch (code) {
    case LF_OK: return "ok";
    case LF_ENOMEM: return "enomem";
    case LF_EINVAL: return "einval";
    case LF_ENOENT: return "enoent";
    case LF_ECONFIG: return "econfig";
    case LF_EBUNDLE: return "ebundle";
    case LF_EPYTHON: return "epython";
    case LF_ETIMEDOUT: return "etimedout";
    case LF_EBUSY: return "ebusy";
    case LF_EIO: return "eio";
    case LF_ETOOBIG: return "etoobig";
    case LF_EEXIST: return "eexist";
    case LF_EPERM: return "eperm";
    default: return "unknown";
    }
}
