/* Batch jobs (spec 2.6, 8): a job reads its input CSV, stores one task row
 * per input row (in one transaction, with the job going RUNNING), starts a
 * temporary pool of the bundle named by the job's id, and submits the rows
 * as async tasks. When the last row has ended, the result file is written
 * (JSON lines in input order, or a pickle of the list), the pool removed
 * and the rows dropped. A thread does the slow parts (reading the input,
 * writing results) off the HTTP threads; after a restart, RUNNING jobs get
 * their pool back and their PENDING rows run again. */
#include "srv_int.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lf_buf.h"
#include "lf_file.h"
#include "lf_log.h"
#include "lf_map.h"
#include "lf_util.h"
#include "srv_batchfmt.h"

#define BATCH_INPUT_MAX_BYTES (1024u * 1024u * 1024u)
#define BATCH_MAX_ROWS 10000000
#define BATCH_RESULT_MAX_BYTES (4ULL * 1024 * 1024 * 1024)
#define BATCH_MAX_WORKERS_LIMIT 50

enum job_work { WORK_START = 1, WORK_CHECK = 2 };

struct srv_batch {
    struct srv *srv;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    struct lf_map todo;  /* job id -> (void *)(intptr_t) enum job_work bits; lock */
    bool stopping;       /* lock */
};

static const char *const formats[] = { "JSON", "PICKLE", NULL };

static void
queue_work(struct srv_batch *b, const char *id, enum job_work w)
{
    void *old = NULL;

    pthread_mutex_lock(&b->lock);
    old = lf_map_get(&b->todo, id);
    lf_map_put(&b->todo, id, (void *)((intptr_t)old | w), NULL);
    pthread_cond_signal(&b->wake);
    pthread_mutex_unlock(&b->lock);
}

void
srv_batch_note(struct srv_batch *b, const char *job_id)
{
    queue_work(b, job_id, WORK_CHECK);
}

static void
result_path(const struct srv *s, const char *id, bool pickle, char *out, size_t cap)
{
    snprintf(out, cap, "%s/batch-results/%s.%s", s->cfg.data_dir, id, pickle ? "pkl" : "json");
}

static bool
is_pickle(const cJSON *doc)
{
    const char *f = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(doc,
                                                                          "serialization_format"));

    return f != NULL && strcmp(f, "PICKLE") == 0;
}

static int
resource_int(const cJSON *doc, const char *key, int fallback, int max)
{
    const cJSON *rr = cJSON_GetObjectItemCaseSensitive(doc, "resource_requests");
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(rr, key);
    int n = cJSON_IsNumber(v) ? v->valueint : fallback;

    return n < 1 ? 1 : n > max ? max : n;
}

/* Starts the job's pool. */
static int
start_pool(struct srv_batch *b, const struct srv_batch_rec *job, struct lf_err *err)
{
    const char *bundle_id = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(job->doc,
                                                                                  "model_bundle_id"));
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    cJSON *bundle = NULL;
    int rc = srv_store_bundle_get(b->srv->store, job->owner, bundle_id ? bundle_id : "", &bundle,
                                  err);

    if (rc == LF_OK)
        rc = srv_deploy_batch_pool(b->srv, job->id, bundle,
                                   resource_int(job->doc, "max_workers", cpus > 0 ? (int)cpus : 1,
                                                BATCH_MAX_WORKERS_LIMIT),
                                   resource_int(job->doc, "per_worker", 1, 1000), err);
    cJSON_Delete(bundle);
    return rc;
}

static void
fail_job(struct srv_batch *b, const char *id, const char *why)
{
    lf_log(LF_LOG_WARN, "batch", "job=%s status=FAILURE %s", id, why);
    srv_store_batch_fail_pending(b->srv->store, id, why, NULL);
    srv_store_batch_set(b->srv->store, id, "FAILURE", why, 0, NULL);
    rt_endpoint_remove(b->srv->rt, id, 1, true, NULL);
}

/* The task rows of input: requests as the client's batch_async_request. */
static struct srv_task_rec *
make_rows(const struct srv_batch_rec *job, const struct srv_batch_input *in)
{
    struct srv_task_rec *rows = calloc(in->n ? in->n : 1, sizeof(*rows));
    int64_t now = lf_now_us();

    for (size_t i = 0; rows != NULL && i < in->n; i++) {
        cJSON *req = cJSON_CreateObject();

        if (in->rows[i].url != NULL)
            cJSON_AddStringToObject(req, "url", in->rows[i].url);
        else
            cJSON_AddItemToObject(req, "args", cJSON_Duplicate(in->rows[i].args, true));
        cJSON_AddFalseToObject(req, "return_pickled");
        lf_uuid4(rows[i].id);
        snprintf(rows[i].endpoint_id, sizeof(rows[i].endpoint_id), "%s", job->id);
        snprintf(rows[i].batch_id, sizeof(rows[i].batch_id), "%s", job->id);
        rows[i].owner = strdup(job->owner);
        rows[i].request = cJSON_PrintUnformatted(req);
        rows[i].batch_key = strdup(in->rows[i].id);
        rows[i].batch_row = (int64_t)i;
        rows[i].created_us = now;
        cJSON_Delete(req);
    }
    return rows;
}

static void
start_job(struct srv_batch *b, const char *id)
{
    struct srv_batch_rec job;
    struct srv_batch_input in = { NULL, 0 };
    struct srv_task_rec *rows = NULL;
    struct lf_err err = { 0 };
    const char *path;
    char *text = NULL;
    size_t len = 0;

    if (srv_store_batch_get(b->srv->store, NULL, id, &job, &err) != LF_OK)
        return;
    if (strcmp(job.status, "PENDING") != 0)
        goto out;
    path = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(job.doc, "input_path"));
    if (bl_read_location(&b->srv->bl, path ? path : "", BATCH_INPUT_MAX_BYTES, &text, &len,
                         &err) != LF_OK ||
        srv_batch_input_parse(text, len, BATCH_MAX_ROWS, &in, &err) != LF_OK) {
        char why[LF_ERR_MSG_BYTES + 32];

        snprintf(why, sizeof(why), "invalid input file: %s", err.msg);
        fail_job(b, id, why);
        goto out;
    }
    rows = make_rows(&job, &in);
    if (rows == NULL || srv_store_batch_start(b->srv->store, id, rows, in.n, &err) != LF_OK) {
        fail_job(b, id, rows ? err.msg : "out of memory");
        goto out;
    }
    lf_log(LF_LOG_INFO, "batch", "job=%s status=RUNNING rows=%zu", id, in.n);
    if (in.n == 0) {
        queue_work(b, id, WORK_CHECK);
        goto out;
    }
    if (start_pool(b, &job, &err) != LF_OK) {
        fail_job(b, id, err.msg);
        goto out;
    }
    for (size_t i = 0; i < in.n; i++)
        srv_async_adopt(b->srv->async, &rows[i], NULL);
out:
    for (size_t i = 0; rows != NULL && i < in.n; i++)
        srv_task_rec_release(&rows[i]);
    free(rows);
    srv_batch_input_release(&in);
    free(text);
    srv_batch_rec_release(&job);
}

/* One line of the result (spec 8.2): the task response plus the CSV id. */
static cJSON *
result_item(const struct srv_task_rec *t)
{
    cJSON *o = cJSON_CreateObject(), *res = t->result ? cJSON_Parse(t->result) : NULL;

    cJSON_AddStringToObject(o, "task_id", t->id);
    cJSON_AddStringToObject(o, "status", t->state);
    cJSON_AddItemToObject(o, "result", res ? res : cJSON_CreateNull());
    cJSON_AddItemToObject(o, "traceback", t->traceback ? cJSON_CreateString(t->traceback)
                                                       : cJSON_CreateNull());
    cJSON_AddNullToObject(o, "status_code");
    cJSON_AddStringToObject(o, "id", t->batch_key ? t->batch_key : "");
    return o;
}

struct writer {
    struct lf_buf out;   /* JSON lines */
    cJSON *all;          /* for PICKLE */
    bool first;
};

static int
add_row(const struct srv_task_rec *t, void *ctx)
{
    struct writer *w = ctx;
    cJSON *item = result_item(t);
    char *text;
    int rc;

    if (w->all != NULL) {
        cJSON_AddItemToArray(w->all, item);
        return LF_OK;
    }
    text = cJSON_PrintUnformatted(item);
    cJSON_Delete(item);
    if (text == NULL)
        return LF_ENOMEM;
    rc = w->first ? LF_OK : lf_buf_add(&w->out, "\n", 1);
    if (rc == LF_OK)
        rc = lf_buf_adds(&w->out, text);
    w->first = false;
    cJSON_free(text);
    return rc;
}

/* Writes the result file of a finished job. */
static int
write_result(struct srv_batch *b, const struct srv_batch_rec *job, struct lf_err *err)
{
    struct writer w = { .first = true };
    bool pickle = is_pickle(job->doc);
    char path[PATH_MAX], dir[PATH_MAX];
    int rc;

    lf_buf_init(&w.out, BATCH_RESULT_MAX_BYTES);
    w.all = pickle ? cJSON_CreateArray() : NULL;
    rc = srv_store_batch_rows(b->srv->store, job->id, add_row, &w, err);
    if (rc == LF_OK && pickle)
        rc = srv_pickle_json(w.all, &w.out, err);
    snprintf(dir, sizeof(dir), "%s/batch-results", b->srv->cfg.data_dir);
    result_path(b->srv, job->id, pickle, path, sizeof(path));
    if (rc == LF_OK)
        rc = lf_mkdir_p(dir, err);
    if (rc == LF_OK)
        rc = lf_file_write_atomic(path, w.out.data ? w.out.data : "", w.out.len, err);
    cJSON_Delete(w.all);
    lf_buf_release(&w.out);
    return rc;
}

static void
check_job(struct srv_batch *b, const char *id)
{
    struct srv_batch_rec job;
    struct lf_err err = { 0 };
    int64_t pending = 0, done = 0;

    if (srv_store_batch_get(b->srv->store, NULL, id, &job, &err) != LF_OK)
        return;
    if (strcmp(job.status, "RUNNING") == 0 &&
        srv_store_batch_counts(b->srv->store, id, &pending, &done, &err) == LF_OK &&
        pending == 0) {
        if (write_result(b, &job, &err) != LF_OK) {
            fail_job(b, id, err.msg);
        } else {
            srv_store_batch_set(b->srv->store, id, "SUCCESS", NULL, done, NULL);
            rt_endpoint_remove(b->srv->rt, id, 1, true, NULL);
            srv_store_batch_drop_rows(b->srv->store, id, NULL);
            lf_log(LF_LOG_INFO, "batch", "job=%s status=SUCCESS rows=%lld", id, (long long)done);
        }
    }
    srv_batch_rec_release(&job);
}

struct grab {
    char (*ids)[SRV_ID_BYTES];
    int *work;
    size_t n, cap;
};

static void
grab_one(const char *key, void *value, void *arg)
{
    struct grab *g = arg;

    if (g->n < g->cap) {
        snprintf(g->ids[g->n], SRV_ID_BYTES, "%s", key);
        g->work[g->n++] = (int)(intptr_t)value;
    }
}

static void *
thread_main(void *arg)
{
    struct srv_batch *b = arg;

    for (;;) {
        struct grab g = { NULL, NULL, 0, 0 };

        pthread_mutex_lock(&b->lock);
        while (b->todo.used == 0 && !b->stopping)
            pthread_cond_wait(&b->wake, &b->lock);
        if (b->stopping) {
            pthread_mutex_unlock(&b->lock);
            return NULL;
        }
        g.cap = b->todo.used;
        g.ids = calloc(g.cap, SRV_ID_BYTES);
        g.work = calloc(g.cap, sizeof(int));
        if (g.ids != NULL && g.work != NULL) {
            lf_map_each(&b->todo, grab_one, &g);
            lf_map_release(&b->todo);
        }
        pthread_mutex_unlock(&b->lock);
        for (size_t i = 0; i < g.n; i++) {
            if (g.work[i] & WORK_START)
                start_job(b, g.ids[i]);
            if (g.work[i] & WORK_CHECK)
                check_job(b, g.ids[i]);
        }
        free(g.ids);
        free(g.work);
    }
}

int
srv_batch_new(struct srv *s, struct srv_batch **out, struct lf_err *err)
{
    struct srv_batch *b = calloc(1, sizeof(*b));

    if (b == NULL)
        return lf_err_set(err, LF_ENOMEM, "out of memory");
    b->srv = s;
    lf_map_init(&b->todo);
    pthread_mutex_init(&b->lock, NULL);
    pthread_cond_init(&b->wake, NULL);
    if (pthread_create(&b->thread, NULL, thread_main, b) != 0) {
        pthread_cond_destroy(&b->wake);
        pthread_mutex_destroy(&b->lock);
        free(b);
        return lf_err_set(err, LF_EIO, "cannot start the batch thread");
    }
    *out = b;
    return LF_OK;
}

void
srv_batch_free(struct srv_batch *b)
{
    if (b == NULL)
        return;
    pthread_mutex_lock(&b->lock);
    b->stopping = true;
    pthread_cond_signal(&b->wake);
    pthread_mutex_unlock(&b->lock);
    pthread_join(b->thread, NULL);
    lf_map_release(&b->todo);
    pthread_cond_destroy(&b->wake);
    pthread_mutex_destroy(&b->lock);
    free(b);
}

int
srv_batch_recover(struct srv_batch *b, struct lf_err *err)
{
    struct srv_batch_rec *jobs = NULL;
    size_t n = 0;
    int rc = srv_store_batch_list(b->srv->store, "RUNNING", &jobs, &n, err);

    for (size_t i = 0; rc == LF_OK && i < n; i++) {
        struct lf_err e = { 0 };

        if (start_pool(b, &jobs[i], &e) != LF_OK)
            fail_job(b, jobs[i].id, e.msg);
        queue_work(b, jobs[i].id, WORK_CHECK); /* its rows may all have ended */
    }
    for (size_t i = 0; i < n; i++)
        srv_batch_rec_release(&jobs[i]);
    free(jobs);
    if (rc != LF_OK)
        return rc;
    rc = srv_store_batch_list(b->srv->store, "PENDING", &jobs, &n, err);
    for (size_t i = 0; rc == LF_OK && i < n; i++)
        queue_work(b, jobs[i].id, WORK_START);
    for (size_t i = 0; i < n; i++)
        srv_batch_rec_release(&jobs[i]);
    free(jobs);
    return rc;
}

void
srv_batch_on_event(struct srv_batch *b, const struct rt_event *ev)
{
    char why[1200];

    if (b == NULL || ev->phase != RT_PHASE_FAILED)
        return;
    snprintf(why, sizeof(why), "the bundle's workers cannot start: %s",
             ev->log_line ? ev->log_line : "see the server log");
    why[strcspn(why, "\n")] = '\0';
    fail_job(b, ev->endpoint_id, why);
}

/* ---- handlers ---- */

void
srv_h_batch_create(struct srv_req *r)
{
    const cJSON *body = r->json, *bundle_id;
    struct srv_batch_rec job;
    struct srv_valid v;
    struct lf_err err = { 0 };
    cJSON *bundle = NULL, *resp;

    srv_valid_init(&v, "body");
    bundle_id = srv_valid_get(&v, body, "model_bundle_id", SRV_J_STRING, true);
    srv_valid_get(&v, body, "input_path", SRV_J_STRING, true);
    srv_valid_enum(&v, body, "serialization_format", formats, true);
    srv_valid_get(&v, body, "labels", SRV_J_STR_MAP, false);
    srv_valid_get(&v, body, "resource_requests", SRV_J_OBJECT, false);
    srv_valid_get(&v, body, "timeout_seconds", SRV_J_NUMBER, false);
    if (!srv_valid_ok(&v)) {
        srv_valid_respond(&v, r);
        return;
    }
    srv_valid_release(&v);
    if (srv_store_bundle_get(r->srv->store, r->owner, bundle_id->valuestring, &bundle,
                             &err) != LF_OK) {
        if (err.code == LF_ENOENT)
            srv_resp_detail(r, 404, "The specified model bundle could not be found.");
        else
            srv_resp_err(r, &err);
        return;
    }
    cJSON_Delete(bundle);
    memset(&job, 0, sizeof(job));
    lf_id_new("bat_", job.id, sizeof(job.id));
    job.owner = r->owner;
    job.doc = r->json;
    job.created_us = lf_now_us();
    if (srv_store_batch_insert(r->srv->store, &job, &err) != LF_OK) {
        srv_resp_err(r, &err);
        return;
    }
    queue_work(r->srv->batch, job.id, WORK_START);
    resp = cJSON_CreateObject();
    cJSON_AddStringToObject(resp, "job_id", job.id);
    srv_resp_json(r, 200, resp);
}

/* Loads r's job named by the path; answers 404 and returns false. */
static bool
load_job(struct srv_req *r, struct srv_batch_rec *job)
{
    struct lf_err err = { 0 };

    if (srv_store_batch_get(r->srv->store, r->owner, r->params[0], job, &err) == LF_OK)
        return true;
    if (err.code == LF_ENOENT)
        srv_resp_detail(r, 404, "The specified batch job could not be found.");
    else
        srv_resp_err(r, &err);
    return false;
}

void
srv_h_batch_get(struct srv_req *r)
{
    struct srv_batch_rec job;
    int64_t pending = 0, done = 0, end;
    char url[CFG_URL_BYTES + 128];
    cJSON *o;

    if (!load_job(r, &job))
        return;
    o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "status", job.status);
    snprintf(url, sizeof(url), "%s/v1/batch-jobs/%s/result", r->srv->public_url, job.id);
    cJSON_AddItemToObject(o, "result", strcmp(job.status, "SUCCESS") == 0
                              ? cJSON_CreateString(url) : cJSON_CreateNull());
    end = job.finished_us ? job.finished_us : lf_now_us();
    cJSON_AddNumberToObject(o, "duration", (double)(end - job.created_us) / 1e6);
    if (strcmp(job.status, "PENDING") == 0) {
        cJSON_AddNullToObject(o, "num_tasks_pending");
        cJSON_AddNullToObject(o, "num_tasks_completed");
    } else if (strcmp(job.status, "RUNNING") == 0 &&
               srv_store_batch_counts(r->srv->store, job.id, &pending, &done, NULL) == LF_OK) {
        cJSON_AddNumberToObject(o, "num_tasks_pending", (double)pending);
        cJSON_AddNumberToObject(o, "num_tasks_completed", (double)done);
    } else {
        int64_t completed = job.completed > 0 ? job.completed : 0;

        cJSON_AddNumberToObject(o, "num_tasks_pending",
                                job.total > completed ? (double)(job.total - completed) : 0);
        cJSON_AddNumberToObject(o, "num_tasks_completed", (double)completed);
    }
    if (job.error != NULL)
        cJSON_AddStringToObject(o, "error", job.error);
    srv_batch_rec_release(&job);
    srv_resp_json(r, 200, o);
}

void
srv_h_batch_cancel(struct srv_req *r)
{
    struct srv_batch_rec job;
    struct srv_valid v;
    const cJSON *cancel;
    cJSON *o;

    srv_valid_init(&v, "body");
    cancel = srv_valid_get(&v, r->json, "cancel", SRV_J_BOOL, true);
    if (!srv_valid_ok(&v)) {
        srv_valid_respond(&v, r);
        return;
    }
    srv_valid_release(&v);
    if (!load_job(r, &job))
        return;
    /* As the reference: a job that has already ended is left as it is, and
     * the answer is still a success. */
    if (cJSON_IsTrue(cancel)) {
        if (strcmp(job.status, "PENDING") == 0 || strcmp(job.status, "RUNNING") == 0) {
            srv_store_batch_set(r->srv->store, job.id, "CANCELLED", "cancelled", 0, NULL);
            srv_store_batch_fail_pending(r->srv->store, job.id, "cancelled", NULL);
            rt_endpoint_remove(r->srv->rt, job.id, 1, true, NULL);
            lf_log(LF_LOG_INFO, "batch", "job=%s status=CANCELLED", job.id);
        }
    }
    srv_batch_rec_release(&job);
    o = cJSON_CreateObject();
    cJSON_AddBoolToObject(o, "success", 1);
    srv_resp_json(r, 200, o);
}

void
srv_h_batch_result(struct srv_req *r)
{
    struct srv_batch_rec job;
    struct lf_err err = { 0 };
    char path[PATH_MAX], *data = NULL;
    size_t len = 0;
    bool pickle;

    if (!load_job(r, &job))
        return;
    pickle = is_pickle(job.doc);
    result_path(r->srv, job.id, pickle, path, sizeof(path));
    if (strcmp(job.status, "SUCCESS") != 0 ||
        lf_file_read(path, BATCH_RESULT_MAX_BYTES, &data, &len, &err) != LF_OK) {
        srv_resp_detail(r, 404, "The batch job has no result.");
    } else {
        srv_resp_take(r, 200, pickle ? "application/octet-stream" : "application/x-ndjson",
                      data, len);
        data = NULL;
    }
    free(data);
    srv_batch_rec_release(&job);
}
