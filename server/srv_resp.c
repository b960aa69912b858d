/* Response helpers: every handler answers through these, so JSON bodies,
 * content types and the mapping of error codes to statuses live in one
 * place. */
#include "srv_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lf_log.h"

static void
set_body(struct srv_req *r, int status, char *body, size_t len, const char *content_type)
{
    free(r->resp.body);
    r->resp.status = status;
    r->resp.body = body;
    r->resp.body_len = len;
    r->resp.content_type = content_type;
}

void
srv_resp_json(struct srv_req *r, int status, cJSON *obj)
{
    char *text = obj ? cJSON_PrintUnformatted(obj) : NULL;

    cJSON_Delete(obj);
    if (text == NULL) {
        static const char oom[] = "{\"detail\":\"out of memory\"}";

        srv_resp_raw(r, 500, NULL, oom, sizeof(oom) - 1);
        return;
    }
    set_body(r, status, text, strlen(text), NULL);
}

void
srv_resp_detail(struct srv_req *r, int status, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    cJSON *obj = cJSON_CreateObject();

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    cJSON_AddStringToObject(obj, "detail", msg);
    srv_resp_json(r, status, obj);
}

void
srv_resp_take(struct srv_req *r, int status, const char *content_type, char *body, size_t len)
{
    set_body(r, status, body, len, content_type);
}

void
srv_resp_raw(struct srv_req *r, int status, const char *content_type, const char *body,
             size_t len)
{
    char *copy = malloc(len + 1);

    if (copy == NULL) {
        set_body(r, 500, NULL, 0, NULL);
        return;
    }
    memcpy(copy, body, len);
    copy[len] = '\0';
    set_body(r, status, copy, len, content_type);
}

void
srv_resp_err(struct srv_req *r, const struct lf_err *err)
{
    switch (err->code) {
    case LF_ENOENT: srv_resp_detail(r, 404, "%s", err->msg); return;
    case LF_EINVAL: srv_resp_detail(r, 400, "%s", err->msg); return;
    case LF_EEXIST: srv_resp_detail(r, 400, "%s", err->msg); return;
    case LF_ETOOBIG: srv_resp_detail(r, 413, "%s", err->msg); return;
    case LF_EPERM: srv_resp_detail(r, 403, "%s", err->msg); return;
    case LF_EBUSY: srv_resp_detail(r, 503, "%s", err->msg); return;
    default:
        lf_log(LF_LOG_ERR, "http", "method=%s path=%s error=%s msg=\"%s\"", r->method, r->path,
               lf_code_name(err->code), err->msg);
        srv_resp_detail(r, 500, "Internal error: %s", lf_code_name(err->code));
        return;
    }
}

void
srv_h_health(struct srv_req *r)
{
    srv_resp_raw(r, 200, NULL, "", 0);
}
