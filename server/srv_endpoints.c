/* Model endpoints (spec 2.4, 6): create, list, get, update with merge
 * semantics, delete, and creation logs. A write stores the new settings
 * with status UPDATE_PENDING and hands the new generation to the runtime;
 * the status then moves on by itself (srv_deploy.c). */
#include "srv_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lf_util.h"

#define DEFAULT_STORAGE "16Gi"
#define SETTINGS_MSG_BYTES 512

static const char *const endpoint_types[] = { "sync", "async", NULL };
static const char *const orders[] = { "newest", "oldest", "alphabetical", NULL };

static cJSON *
dup_or_null(const cJSON *doc, const char *key)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(doc, key);

    return item ? cJSON_Duplicate(item, true) : cJSON_CreateNull();
}

/* A quantity as the string the reference reads back from Kubernetes. */
static cJSON *
quantity_text(const cJSON *doc, const char *key)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(doc, key);
    char buf[64];

    if (cJSON_IsString(item))
        return cJSON_CreateString(item->valuestring);
    if (cJSON_IsNumber(item)) {
        snprintf(buf, sizeof(buf), "%.15g", item->valuedouble);
        return cJSON_CreateString(buf);
    }
    return cJSON_CreateNull();
}

static bool
flag(const cJSON *doc, const char *key, bool fallback)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(doc, key);

    return cJSON_IsBool(item) ? cJSON_IsTrue(item) : fallback;
}

/* GetModelEndpointV1Response for rec. Returns a new cJSON. */
static cJSON *
endpoint_view(struct rt *rt, const struct srv_ep_rec *rec)
{
    static const char *const copied[] = { "endpoint_type", "metadata", "bundle_name",
                                          "post_inference_hooks", "default_callback_url",
                                          "default_callback_auth", "labels", "aws_role",
                                          "results_s3_bucket", "created_by", NULL };
    static const char *const limits[] = { "min_workers", "max_workers", "per_worker", NULL };
    const cJSON *doc = rec->doc;
    const char *type = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(doc,
                                                                             "endpoint_type"));
    bool built = rec->generation > 1 || strcmp(rec->status, "READY") == 0;
    char dest[SRV_ID_BYTES + 32], deployment[SRV_ID_BYTES + 32], when[LF_TIME_ISO_BYTES];
    cJSON *out = cJSON_CreateObject(), *ds, *rs;
    struct rt_counts counts;

    snprintf(dest, sizeof(dest), "launch-endpoint-id-%s", rec->id);
    snprintf(deployment, sizeof(deployment), "launch-endpoint-id-%s", rec->id);
    for (char *p = deployment; *p != '\0'; p++)
        *p = *p == '_' ? '-' : *p;
    cJSON_AddStringToObject(out, "id", rec->id);
    cJSON_AddStringToObject(out, "name", rec->name);
    for (int i = 0; copied[i] != NULL; i++)
        cJSON_AddItemToObject(out, copied[i], dup_or_null(doc, copied[i]));
    cJSON_AddStringToObject(out, "destination",
                            !built ? "UNKNOWN"
                                   : type && strcmp(type, "sync") == 0 ? deployment : dest);
    cJSON_AddStringToObject(out, "deployment_name", deployment);
    cJSON_AddStringToObject(out, "status", rec->status);
    lf_time_iso8601(rec->created_us, when);
    cJSON_AddStringToObject(out, "created_at", when);
    lf_time_iso8601(rec->updated_us, when);
    cJSON_AddStringToObject(out, "last_updated_at", when);
    ds = cJSON_AddObjectToObject(out, "deployment_state");
    for (int i = 0; limits[i] != NULL; i++)
        cJSON_AddItemToObject(ds, limits[i], dup_or_null(doc, limits[i]));
    rt_endpoint_counts(rt, rec->id, &counts);
    cJSON_AddNumberToObject(ds, "available_workers", counts.available_workers);
    cJSON_AddNumberToObject(ds, "unavailable_workers", counts.unavailable_workers);
    rs = cJSON_AddObjectToObject(out, "resource_state");
    cJSON_AddItemToObject(rs, "cpus", quantity_text(doc, "cpus"));
    cJSON_AddItemToObject(rs, "gpus", dup_or_null(doc, "gpus"));
    cJSON_AddItemToObject(rs, "memory", quantity_text(doc, "memory"));
    cJSON_AddItemToObject(rs, "gpu_type", dup_or_null(doc, "gpu_type"));
    cJSON_AddItemToObject(rs, "storage", quantity_text(doc, "storage"));
    cJSON_AddBoolToObject(rs, "optimize_costs", flag(doc, "optimize_costs", false));
    cJSON_AddNumberToObject(out, "num_queued_items", counts.queued);
    cJSON_AddBoolToObject(out, "public_inference", flag(doc, "public_inference", false));
    return out;
}

static void
respond_task_id(struct srv_req *r)
{
    char uuid[LF_UUID_BYTES];
    cJSON *obj = cJSON_CreateObject();

    lf_uuid4(uuid);
    cJSON_AddStringToObject(obj, "endpoint_creation_task_id", uuid);
    srv_resp_json(r, 200, obj);
}

/* Points doc at bundle_id of r's owner (model_bundle_id and bundle_name).
 * Returns false with the 404 answered. */
static bool
attach_bundle(struct srv_req *r, cJSON *doc, const char *bundle_id, const char *not_found)
{
    struct lf_err err = { 0 };
    cJSON *bundle = NULL;
    const char *name;

    if (srv_store_bundle_get(r->srv->store, r->owner, bundle_id, &bundle, &err) != LF_OK) {
        if (err.code == LF_ENOENT)
            srv_resp_detail(r, 404, "%s", not_found);
        else
            srv_resp_err(r, &err);
        return false;
    }
    name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(bundle, "name"));
    cJSON_DeleteItemFromObjectCaseSensitive(doc, "model_bundle_id");
    cJSON_DeleteItemFromObjectCaseSensitive(doc, "bundle_name");
    cJSON_AddStringToObject(doc, "model_bundle_id", bundle_id);
    cJSON_AddStringToObject(doc, "bundle_name", name ? name : "");
    cJSON_Delete(bundle);
    return true;
}

/* Hands rec to the runtime; a failure there marks the endpoint failed, and
 * the answer stays 200 because the settings are stored. */
static void
deploy(struct srv_req *r, const struct srv_ep_rec *rec)
{
    struct lf_err err = { 0 };
    char line[LF_ERR_MSG_BYTES + 32];

    if (srv_deploy_apply(r->srv, rec, &err) == LF_OK)
        return;
    snprintf(line, sizeof(line), "cannot deploy: %s\n", err.msg);
    srv_store_ep_set_status(r->srv->store, rec->id, rec->generation, "UPDATE_FAILED", line, NULL);
}

static bool
check_settings(struct srv_req *r, const cJSON *doc)
{
    char msg[SETTINGS_MSG_BYTES];

    if (srv_ep_settings_check(doc, msg, sizeof(msg)))
        return true;
    srv_resp_detail(r, 400, "%s", msg);
    return false;
}

void
srv_h_endpoint_create(struct srv_req *r)
{
    const cJSON *body = r->json, *bundle_id;
    const char *type;
    struct srv_ep_rec rec;
    struct srv_valid v;
    struct lf_err err = { 0 };

    memset(&rec, 0, sizeof(rec));
    rec.doc = cJSON_CreateObject();
    srv_valid_init(&v, "body");
    srv_ep_name_valid(&v, body);
    bundle_id = srv_valid_get(&v, body, "model_bundle_id", SRV_J_STRING, true);
    type = srv_valid_enum(&v, body, "endpoint_type", endpoint_types, true);
    srv_ep_settings_apply(&v, body, rec.doc, true);
    if (!srv_valid_ok(&v)) {
        srv_valid_respond(&v, r);
        goto out;
    }
    if (!cJSON_HasObjectItem(rec.doc, "storage"))
        cJSON_AddStringToObject(rec.doc, "storage", DEFAULT_STORAGE);
    if (!cJSON_HasObjectItem(rec.doc, "labels"))
        cJSON_AddObjectToObject(rec.doc, "labels");
    cJSON_AddStringToObject(rec.doc, "endpoint_type", type);
    cJSON_AddStringToObject(rec.doc, "created_by", r->owner);
    if (!check_settings(r, rec.doc) ||
        !attach_bundle(r, rec.doc, bundle_id->valuestring,
                       "The specified model bundle could not be found."))
        goto out;
    lf_id_new("end_", rec.id, sizeof(rec.id));
    snprintf(rec.owner, sizeof(rec.owner), "%s", r->owner);
    snprintf(rec.name, sizeof(rec.name), "%s",
             cJSON_GetObjectItemCaseSensitive(body, "name")->valuestring);
    snprintf(rec.status, sizeof(rec.status), "UPDATE_PENDING");
    rec.created_us = rec.updated_us = lf_now_us();
    rec.generation = 1;
    if (srv_store_ep_insert(r->srv->store, &rec, &err) != LF_OK) {
        if (err.code == LF_EEXIST)
            srv_resp_detail(r, 400, "The specified model endpoint already exists.");
        else
            srv_resp_err(r, &err);
        goto out;
    }
    deploy(r, &rec);
    respond_task_id(r);
out:
    srv_valid_release(&v);
    srv_ep_rec_release(&rec);
}

void
srv_h_endpoint_list(struct srv_req *r)
{
    const char *name = srv_req_query(r, "name");
    const char *order_text = srv_req_query(r, "order_by");
    enum srv_order order = SRV_ORDER_NONE;
    struct srv_ep_rec *recs = NULL;
    size_t n = 0;
    struct lf_err err = { 0 };
    cJSON *out, *arr;

    if (order_text != NULL) {
        struct srv_valid v;
        cJSON *q = cJSON_CreateObject();
        const char *o;

        cJSON_AddStringToObject(q, "order_by", order_text);
        srv_valid_init(&v, "query");
        o = srv_valid_enum(&v, q, "order_by", orders, false);
        cJSON_Delete(q);
        if (o == NULL) {
            srv_valid_respond(&v, r);
            return;
        }
        order = o[0] == 'n' ? SRV_ORDER_NEWEST : o[0] == 'o' ? SRV_ORDER_OLDEST : SRV_ORDER_ALPHA;
    }
    if (srv_store_ep_list(r->srv->store, r->owner, name, order, &recs, &n, &err) != LF_OK) {
        srv_resp_err(r, &err);
        return;
    }
    out = cJSON_CreateObject();
    arr = cJSON_AddArrayToObject(out, "model_endpoints");
    for (size_t i = 0; i < n; i++)
        cJSON_AddItemToArray(arr, endpoint_view(r->srv->rt, &recs[i]));
    srv_ep_recs_free(recs, n);
    srv_resp_json(r, 200, out);
}

/* Loads r's endpoint named by the path; answers 404 with not_found (NULL:
 * the standard text) and returns false if it is missing. */
static bool
load(struct srv_req *r, struct srv_ep_rec *rec, const char *not_found)
{
    struct lf_err err = { 0 };

    if (srv_store_ep_get(r->srv->store, r->owner, r->params[0], rec, &err) == LF_OK)
        return true;
    if (err.code != LF_ENOENT)
        srv_resp_err(r, &err);
    else if (not_found != NULL)
        srv_resp_detail(r, 404, "%s", not_found);
    else
        srv_resp_detail(r, 404, "Model Endpoint %s  was not found.", r->params[0]);
    return false;
}

void
srv_h_endpoint_get(struct srv_req *r)
{
    struct srv_ep_rec rec = { .doc = NULL };

    if (!load(r, &rec, NULL))
        return;
    srv_resp_json(r, 200, endpoint_view(r->srv->rt, &rec));
    srv_ep_rec_release(&rec);
}

void
srv_h_endpoint_update(struct srv_req *r)
{
    static const char not_found[] = "The specified model endpoint or model bundle was not found.";
    const cJSON *bundle_id;
    struct srv_ep_rec rec = { .doc = NULL };
    struct srv_valid v;
    struct lf_err err = { 0 };

    srv_valid_init(&v, "body");
    if (!load(r, &rec, not_found))
        goto out;
    if (strcmp(rec.status, "DELETE_IN_PROGRESS") == 0) {
        srv_resp_detail(r, 404, not_found);
        goto out;
    }
    bundle_id = srv_valid_get(&v, r->json, "model_bundle_id", SRV_J_STRING, false);
    srv_ep_settings_apply(&v, r->json, rec.doc, false);
    if (!srv_valid_ok(&v)) {
        srv_valid_respond(&v, r);
        goto out;
    }
    if (!check_settings(r, rec.doc) ||
        (bundle_id != NULL && !attach_bundle(r, rec.doc, bundle_id->valuestring, not_found)))
        goto out;
    if (srv_store_ep_update(r->srv->store, rec.id, rec.doc, "UPDATE_PENDING", &rec.generation,
                            &err) != LF_OK) {
        if (err.code == LF_ENOENT)
            srv_resp_detail(r, 404, not_found);
        else
            srv_resp_err(r, &err);
        goto out;
    }
    deploy(r, &rec);
    respond_task_id(r);
out:
    srv_valid_release(&v);
    srv_ep_rec_release(&rec);
}

void
srv_h_endpoint_delete(struct srv_req *r)
{
    struct srv_ep_rec rec = { .doc = NULL };
    struct lf_err err = { 0 };
    cJSON *obj;

    if (!load(r, &rec, NULL))
        return;
    if (srv_store_ep_mark_deleting(r->srv->store, rec.id, &err) != LF_OK) {
        if (err.code == LF_ENOENT)
            srv_resp_detail(r, 404, "Model Endpoint %s  was not found.", r->params[0]);
        else
            srv_resp_err(r, &err);
        srv_ep_rec_release(&rec);
        return;
    }
    srv_epcache_remove(r->srv->epcache, rec.id);
    /* A failed hand-off is finished at the next start by srv_deploy_recover. */
    rt_endpoint_remove(r->srv->rt, rec.id, rec.generation + 1, false, NULL);
    srv_ep_rec_release(&rec);
    obj = cJSON_CreateObject();
    cJSON_AddBoolToObject(obj, "deleted", 1);
    srv_resp_json(r, 200, obj);
}

void
srv_h_endpoint_logs(struct srv_req *r)
{
    struct lf_err err = { 0 };
    char *logs = NULL;
    cJSON *obj;

    if (srv_store_ep_logs(r->srv->store, r->owner, r->params[0], &logs, &err) != LF_OK) {
        if (err.code == LF_ENOENT)
            srv_resp_detail(r, 404, "Model Endpoint %s  was not found.", r->params[0]);
        else
            srv_resp_err(r, &err);
        return;
    }
    obj = cJSON_CreateObject();
    cJSON_AddStringToObject(obj, "content", logs);
    free(logs);
    srv_resp_json(r, 200, obj);
}
