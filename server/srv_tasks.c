/* Predictions (spec 2.5, 5.3, 5.5): POST /v1/sync-tasks hands the request
 * body to the runtime and suspends the connection; the runtime's reply
 * (on its control thread) fills the response and resumes it. The worker's
 * response object is spliced into the answer as the text it sent, so the
 * hot path parses no JSON twice. GET /v1/results/{id} serves the pickles
 * of return_pickled requests to their owner. */
#include "srv_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lf_buf.h"
#include "lf_file.h"
#include "lf_util.h"

#define RESULT_FILE_MAX_BYTES (1024ULL * 1024 * 1024)
#define TAG_TEXT_BYTES (RT_TAG_BYTES + 1)

void
srv_owner_tag(const char *owner, char out[RT_TAG_BYTES + 1])
{
    snprintf(out, TAG_TEXT_BYTES, "%016llx", (unsigned long long)lf_hash64(owner, strlen(owner)));
}

/* Runs on the runtime's control thread. */
static void
on_reply(void *ctx, const struct rt_reply *rep)
{
    struct srv_req *r = ctx;

    if (rep->outcome == RT_OK) {
        struct lf_buf b;
        char *text;
        size_t len;

        lf_buf_init(&b, rep->len + 128);
        lf_buf_adds(&b, "{\"status\":\"SUCCESS\",\"result\":");
        lf_buf_add(&b, rep->body, rep->len);
        lf_buf_adds(&b, ",\"traceback\":null,\"status_code\":200}");
        text = lf_buf_detach(&b, &len);
        if (text != NULL)
            srv_resp_take(r, 200, NULL, text, len);
        else
            srv_resp_detail(r, 500, "out of memory");
    } else if (rep->outcome == RT_FAILED || rep->outcome == RT_WORKER_LOST) {
        cJSON *o = cJSON_CreateObject();

        cJSON_AddStringToObject(o, "status", "FAILURE");
        cJSON_AddNullToObject(o, "result");
        cJSON_AddItemToObject(o, "traceback", cJSON_CreateString(rep->body));
        cJSON_AddNumberToObject(o, "status_code", 500);
        srv_resp_json(r, 200, o);
    } else {
        srv_resp_detail(r, rep->http_status, "%s", rep->body);
    }
    srv_req_resume(r);
}

bool
srv_predict_request_valid(struct srv_req *r)
{
    struct srv_valid v;
    const cJSON *url, *args;

    srv_valid_init(&v, "body");
    url = srv_valid_get(&v, r->json, "url", SRV_J_STRING, false);
    args = srv_valid_get(&v, r->json, "args", SRV_J_ANY, false);
    srv_valid_get(&v, r->json, "return_pickled", SRV_J_BOOL, false);
    srv_valid_get(&v, r->json, "cloudpickle", SRV_J_STRING, false);
    srv_valid_callback_url(&v, r->json, "callback_url");
    srv_valid_callback_auth(&v, r->json, "callback_auth");
    if (!srv_valid_ok(&v)) {
        srv_valid_respond(&v, r);
        return false;
    }
    srv_valid_release(&v);
    if (url == NULL && args == NULL) {
        srv_resp_detail(r, 400, "Invalid request: Input needs either url or args.");
        return false;
    }
    return true;
}

bool
srv_predict_target(struct srv_req *r, const char *id, struct srv_ep_rec *rec)
{
    struct lf_err err = { 0 };

    if (id == NULL) {
        struct srv_valid v;

        srv_valid_init(&v, "query");
        srv_valid_fail(&v, "model_endpoint_id", "field required", "value_error.missing");
        srv_valid_respond(&v, r);
        return false;
    }
    if (srv_store_ep_get(r->srv->store, r->owner, id, rec, &err) == LF_OK &&
        strcmp(rec->status, "DELETE_IN_PROGRESS") != 0)
        return true;
    srv_ep_rec_release(rec);
    if (err.code != LF_OK && err.code != LF_ENOENT)
        srv_resp_err(r, &err);
    else
        srv_resp_detail(r, 404, "The specified endpoint could not be found.");
    return false;
}

void
srv_h_sync_task(struct srv_req *r)
{
    const char *id = srv_req_query(r, "model_endpoint_id");
    struct srv_ep_rec rec = { .doc = NULL };
    struct lf_err err = { 0 };
    char tag[TAG_TEXT_BYTES];
    const char *type;
    bool sync;
    char *body;

    if (id == NULL || !srv_epcache_get(r->srv->epcache, id, r->owner, &sync)) {
        if (!srv_predict_target(r, id, &rec))
            return;
        type = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(rec.doc, "endpoint_type"));
        sync = type != NULL && strcmp(type, "sync") == 0;
        srv_epcache_put(r->srv->epcache, id, r->owner, sync);
        srv_ep_rec_release(&rec);
    }
    if (!sync) {
        srv_resp_detail(r, 400, "Unsupported inference type: Endpoint %s does not serve sync "
                        "tasks.", id);
        return;
    }
    if (!srv_predict_request_valid(r))
        return;
    body = malloc(r->body.len + 1);
    if (body == NULL) {
        srv_resp_detail(r, 500, "out of memory");
        return;
    }
    memcpy(body, r->body.data, r->body.len);
    body[r->body.len] = '\0';
    srv_owner_tag(r->owner, tag);
    srv_req_suspend(r);
    if (rt_predict(r->srv->rt, id, tag, body, r->body.len, NULL, on_reply, r, &err) != LF_OK) {
        srv_resp_detail(r, 503, "%s", err.msg);
        srv_req_resume(r);
    }
}

void
srv_h_result_get(struct srv_req *r)
{
    const char *id = r->params[0];
    char tag[TAG_TEXT_BYTES], path[PATH_MAX];
    struct lf_err err = { 0 };
    char *data = NULL;
    size_t len = 0;

    if (strspn(id, "0123456789abcdef-") != strlen(id) || strlen(id) > 64) {
        srv_resp_detail(r, 404, "Result not found.");
        return;
    }
    srv_owner_tag(r->owner, tag);
    snprintf(path, sizeof(path), "%s/results/%s/%s.pkl", r->srv->cfg.data_dir, tag, id);
    if (lf_file_read(path, RESULT_FILE_MAX_BYTES, &data, &len, &err) != LF_OK) {
        if (err.code == LF_ENOENT)
            srv_resp_detail(r, 404, "Result not found.");
        else
            srv_resp_err(r, &err);
        return;
    }
    srv_resp_raw(r, 200, "application/octet-stream", data, len);
    free(data);
}
