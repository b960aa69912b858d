/* The bridge between stored endpoints and the runtime: hands each new
 * generation of an endpoint to the runtime and writes the runtime's events
 * back as statuses and creation-log lines. Events name the generation they
 * belong to, and the store ignores those of a generation that an update has
 * replaced, so a slow old deployment can never mark a new one READY. */
#include "srv_int.h"

#include <stdio.h>
#include <string.h>

#include "lf_log.h"
#include "lf_util.h"

#define DEPLOY_LOG_LINE_BYTES 1200

static const char *
phase_status(enum rt_phase phase)
{
    switch (phase) {
    case RT_PHASE_IN_PROGRESS: return "UPDATE_IN_PROGRESS";
    case RT_PHASE_READY: return "READY";
    case RT_PHASE_FAILED: return "UPDATE_FAILED";
    case RT_PHASE_LOG: return NULL;
    case RT_PHASE_REMOVED: break;
    }
    return "DELETE_IN_PROGRESS";
}

/* Sets endpoint id's status at generation (NULL: unchanged) and appends
 * text (NULL: nothing) to its creation log, stamped with the time. Errors:
 * as srv_store_ep_set_status (LF_ENOENT for a replaced generation). */
static int
set_status(struct srv *s, const char *id, int64_t generation, const char *status,
           const char *text, struct lf_err *err)
{
    char line[DEPLOY_LOG_LINE_BYTES], when[LF_TIME_ISO_BYTES];

    if (text != NULL) {
        lf_time_iso8601(lf_now_us(), when);
        snprintf(line, sizeof(line), "%s %s", when, text);
    }
    return srv_store_ep_set_status(s->store, id, generation, status, text ? line : NULL, err);
}

void
srv_deploy_on_event(void *ctx, const struct rt_event *ev)
{
    struct srv *s = ctx;
    struct lf_err err = { 0 };

    if (strncmp(ev->endpoint_id, "bat_", 4) == 0) {
        srv_batch_on_event(s->batch, ev);
        return;
    }
    if (ev->phase == RT_PHASE_REMOVED) {
        if (srv_store_ep_remove(s->store, ev->endpoint_id, &err) != LF_OK)
            lf_log(LF_LOG_ERR, "deploy", "endpoint=%s cannot remove: %s", ev->endpoint_id,
                   err.msg);
        else
            lf_log(LF_LOG_INFO, "deploy", "endpoint=%s removed", ev->endpoint_id);
        return;
    }
    if (set_status(s, ev->endpoint_id, ev->generation, phase_status(ev->phase), ev->log_line,
                   &err) != LF_OK) {
        lf_log(LF_LOG_DEBUG, "deploy", "endpoint=%s generation=%lld stale event: %s",
               ev->endpoint_id, (long long)ev->generation, err.msg);
        return;
    }
    if (ev->phase == RT_PHASE_LOG)
        lf_log(LF_LOG_INFO, "deploy", "endpoint=%s generation=%lld %.*s", ev->endpoint_id,
               (long long)ev->generation, (int)strcspn(ev->log_line ? ev->log_line : "", "\n"),
               ev->log_line ? ev->log_line : "");
    else if (ev->phase != RT_PHASE_IN_PROGRESS)
        lf_log(ev->phase == RT_PHASE_READY ? LF_LOG_INFO : LF_LOG_WARN, "deploy",
               "endpoint=%s generation=%lld status=%s", ev->endpoint_id,
               (long long)ev->generation, phase_status(ev->phase));
}

static int
json_int(const cJSON *doc, const char *key)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(doc, key);

    return cJSON_IsNumber(item) ? item->valueint : 0;
}

int
srv_deploy_apply(struct srv *s, const struct srv_ep_rec *rec, struct lf_err *err)
{
    struct rt_endpoint_spec spec;
    const cJSON *bid = cJSON_GetObjectItemCaseSensitive(rec->doc, "model_bundle_id");
    cJSON *bundle = NULL;
    int rc;

    memset(&spec, 0, sizeof(spec));
    if (!cJSON_IsString(bid))
        return lf_err_set(err, LF_EIO, "endpoint '%s' has no bundle", rec->id);
    rc = srv_store_bundle_get(s->store, rec->owner, bid->valuestring, &bundle, err);
    if (rc != LF_OK)
        return rc;
    snprintf(spec.endpoint_id, sizeof(spec.endpoint_id), "%s", rec->id);
    spec.generation = rec->generation;
    snprintf(spec.bundle_id, sizeof(spec.bundle_id), "%s", bid->valuestring);
    if (srv_bundle_artifact(bundle)[0] != '\0')
        spec.location = strdup(srv_bundle_artifact(bundle));
    spec.worker_json = srv_bundle_worker_json(bundle);
    spec.min_workers = json_int(rec->doc, "min_workers");
    spec.max_workers = json_int(rec->doc, "max_workers");
    spec.per_worker = json_int(rec->doc, "per_worker");
    cJSON_Delete(bundle);
    return rt_endpoint_apply(s->rt, &spec, err);
}

int
srv_deploy_batch_pool(struct srv *s, const char *job_id, const cJSON *bundle, int max_workers,
                      int per_worker, struct lf_err *err)
{
    struct rt_endpoint_spec spec;

    memset(&spec, 0, sizeof(spec));
    snprintf(spec.endpoint_id, sizeof(spec.endpoint_id), "%s", job_id);
    spec.generation = 1;
    snprintf(spec.bundle_id, sizeof(spec.bundle_id), "%s",
             cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(bundle, "id")));
    if (srv_bundle_artifact(bundle)[0] != '\0')
        spec.location = strdup(srv_bundle_artifact(bundle));
    spec.worker_json = srv_bundle_worker_json(bundle);
    spec.min_workers = 0;
    spec.max_workers = max_workers;
    spec.per_worker = per_worker;
    return rt_endpoint_apply(s->rt, &spec, err);
}

int
srv_deploy_recover(struct srv *s, struct lf_err *err)
{
    struct srv_ep_rec *recs = NULL;
    size_t n = 0;
    int rc = srv_store_ep_all(s->store, &recs, &n, err);

    if (rc != LF_OK)
        return rc;
    for (size_t i = 0; i < n; i++) {
        struct lf_err e = { 0 };

        if (strcmp(recs[i].status, "DELETE_IN_PROGRESS") == 0) {
            rc = rt_endpoint_remove(s->rt, recs[i].id, recs[i].generation, false, &e);
        } else {
            /* A failed build is retried; say so before the API opens, so no
             * client reads the old failure while the retry is under way. */
            if (strcmp(recs[i].status, "UPDATE_FAILED") == 0)
                set_status(s, recs[i].id, recs[i].generation, "UPDATE_PENDING",
                           "server restarted: retrying the build\n", NULL);
            rc = srv_deploy_apply(s, &recs[i], &e);
        }
        if (rc != LF_OK) {
            lf_log(LF_LOG_ERR, "deploy", "endpoint=%s cannot recover: %s", recs[i].id, e.msg);
            srv_store_ep_set_status(s->store, recs[i].id, recs[i].generation, "UPDATE_FAILED",
                                    "cannot recover after restart\n", NULL);
        }
    }
    if (n > 0)
        lf_log(LF_LOG_INFO, "deploy", "recovering %zu endpoints", n);
    srv_ep_recs_free(recs, n);
    return LF_OK;
}
