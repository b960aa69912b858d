/* Async tasks (spec 2.5, 5.6): a task is a store row written before its id
 * is answered, then a call on the endpoint's pool. A writer thread does the
 * writing, in batches: the POST handler suspends its connection and queues
 * the new task; the writer inserts every task queued meanwhile in one
 * transaction (one sync for all), then starts them and answers their
 * connections. A task's reply (on the runtime's control thread) goes back
 * to the writer, which ends tasks the same way, queueing callbacks in the
 * same transaction. Until that commit, and while a task runs (STARTED), its
 * state lives in an in-memory table that GET reads first. At start every
 * PENDING row is submitted again: at least once, nothing lost. The request
 * bytes of the tasks in memory are capped (async_backlog_max_bytes): past the
 * cap a new task is refused with 429 rather than growing without bound;
 * recovered tasks and batch rows are always taken. */
#include "srv_int.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "lf_log.h"
#include "lf_map.h"
#include "lf_util.h"

#define WRITER_BATCH_MAX 512
#define WRITER_WAKE_MS 1000
#define ENDED_WAIT_MS 5         /* how long ended tasks wait to share a commit */
#define PURGE_EVERY_US (10 * 1000000LL)
#define TAG_TEXT_BYTES (RT_TAG_BYTES + 1)

struct srv_async;

/* One task while it is in memory: submitted, running, or ended but not yet
 * committed. Owned by the live table from submission to its commit. */
struct live {
    struct srv_async *async;
    struct srv_req *req;                /* suspended until the insert commits; then NULL */
    char id[SRV_ID_BYTES];
    char endpoint_id[SRV_ID_BYTES];
    char *owner;
    char *request;
    size_t len;
    char *callback_url, *callback_auth; /* NULL: no callback */
    int attempts;
    int64_t created_us;
    char batch_id[SRV_ID_BYTES];        /* "" unless a batch job's row */
    bool started;                       /* lock */
    bool ended;                         /* lock; then the fields below are set */
    bool success;
    char *result, *traceback, *callback_body;
    struct live *next;                  /* in one of the writer's queues */
};

struct srv_async {
    struct srv *srv;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    struct lf_map live;          /* id -> struct live *, guarded by lock */
    struct live *head, *tail;    /* ended, to write; guarded by lock */
    struct live *new_head, *new_tail; /* new, to insert; guarded by lock */
    uint64_t backlog_bytes;      /* request bytes of the live tasks; guarded by lock */
    bool stopping;               /* guarded by lock */
    pthread_t writer;
    atomic_bool shutting_down;   /* replies from here on leave tasks PENDING */
};

static void
live_free(struct live *l)
{
    if (l == NULL)
        return;
    free(l->owner);
    free(l->request);
    free(l->callback_url);
    free(l->callback_auth);
    free(l->result);
    free(l->traceback);
    free(l->callback_body);
    free(l);
}

/* Counts len more request bytes in memory; unless force, only while they fit
 * under the cap. Returns whether they were counted. */
static bool
backlog_take(struct srv_async *a, size_t len, bool force)
{
    bool ok;

    pthread_mutex_lock(&a->lock);
    ok = force || a->backlog_bytes + len <= a->srv->cfg.async_backlog_max_bytes;
    if (ok)
        a->backlog_bytes += len;
    pthread_mutex_unlock(&a->lock);
    return ok;
}

static void
backlog_give(struct srv_async *a, size_t len)
{
    pthread_mutex_lock(&a->lock);
    a->backlog_bytes -= len;
    pthread_mutex_unlock(&a->lock);
}

static void
forget(struct srv_async *a, struct live *l)
{
    pthread_mutex_lock(&a->lock);
    lf_map_remove(&a->live, l->id);
    a->backlog_bytes -= l->len;
    pthread_mutex_unlock(&a->lock);
    live_free(l);
}

/* The body POSTed to the callback URL (spec 7). */
static char *
callback_body(const struct live *l)
{
    cJSON *o = l->success && l->result ? cJSON_Parse(l->result) : NULL;
    char *text;

    if (!cJSON_IsObject(o)) {
        cJSON_Delete(o);
        o = cJSON_CreateObject();
    }
    cJSON_AddStringToObject(o, "task_id", l->id);
    cJSON_AddStringToObject(o, "status", l->success ? "SUCCESS" : "FAILURE");
    if (!l->success)
        cJSON_AddStringToObject(o, "traceback", l->traceback ? l->traceback : "");
    text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return text;
}

/* Appends l to one of a's writer queues and wakes the writer. Under lock. */
static void
queue_add(struct srv_async *a, struct live **head, struct live **tail, struct live *l)
{
    l->next = NULL;
    if (*tail != NULL)
        (*tail)->next = l;
    else
        *head = l;
    *tail = l;
    pthread_cond_signal(&a->wake);
}

/* Detaches up to WRITER_BATCH_MAX tasks from the front of a queue. Under lock. */
static struct live *
queue_take(struct live **head, struct live **tail)
{
    struct live *batch = NULL, **link = &batch;

    for (int i = 0; i < WRITER_BATCH_MAX && *head != NULL; i++) {
        *link = *head;
        *head = (*head)->next;
        link = &(*link)->next;
        *link = NULL;
    }
    if (*head == NULL)
        *tail = NULL;
    return batch;
}

/* Hands an ended task to the writer. Any thread. */
static void
end_task(struct live *l, bool success, const char *text, size_t len)
{
    struct srv_async *a = l->async;
    char *copy = strndup(text, len);

    l->success = success;
    if (success)
        l->result = copy;
    else
        l->traceback = copy;
    if (l->callback_url != NULL)
        l->callback_body = callback_body(l);
    pthread_mutex_lock(&a->lock);
    l->ended = true;
    queue_add(a, &a->head, &a->tail, l);
    pthread_mutex_unlock(&a->lock);
}

static void submit(struct live *l);

/* Runs on the runtime's control thread. */
static void
on_start(void *ctx)
{
    struct live *l = ctx;

    pthread_mutex_lock(&l->async->lock);
    l->started = true;
    pthread_mutex_unlock(&l->async->lock);
}

/* Runs on the runtime's control thread. */
static void
on_reply(void *ctx, const struct rt_reply *rep)
{
    struct live *l = ctx;
    struct srv_async *a = l->async;
    const struct cfg *cfg = &a->srv->cfg;
    char why[256];

    if (atomic_load(&a->shutting_down) &&
        (rep->outcome == RT_UNAVAILABLE || rep->outcome == RT_WORKER_LOST)) {
        forget(a, l); /* still PENDING in the store: it runs again after a restart */
        return;
    }
    switch (rep->outcome) {
    case RT_OK:
        end_task(l, true, rep->body, rep->len);
        return;
    case RT_WORKER_LOST:
        if (l->attempts <= cfg->task_retries) {
            lf_log(LF_LOG_WARN, "async", "task=%s %.*s; running it again (attempt %d)", l->id,
                   (int)rep->len, rep->body, l->attempts + 1);
            pthread_mutex_lock(&a->lock);
            l->started = false;
            pthread_mutex_unlock(&a->lock);
            submit(l);
            return;
        }
        end_task(l, false, rep->body, rep->len);
        return;
    case RT_QUEUE_TIMEOUT:
        snprintf(why, sizeof(why), "expired: the task did not start within %d s",
                 cfg->task_expiry_s);
        break;
    case RT_RUN_TIMEOUT:
        snprintf(why, sizeof(why), "timed out: the task ran longer than %d s",
                 cfg->task_timeout_s);
        break;
    case RT_NOT_FOUND:
        snprintf(why, sizeof(why), "the endpoint was deleted");
        break;
    default:
        end_task(l, false, rep->body, rep->len);
        return;
    }
    end_task(l, false, why, strlen(why));
}

/* Starts (or restarts) a run of l on its endpoint's pool. */
static void
submit(struct live *l)
{
    struct srv_async *a = l->async;
    struct srv *s = a->srv;
    int64_t left_ms = (l->created_us + (int64_t)s->cfg.task_expiry_s * 1000000 - lf_now_us())
                      / 1000;
    struct rt_call_opts opts = { left_ms, (int64_t)s->cfg.task_timeout_s * 1000, true, on_start };
    struct lf_err err = { 0 };
    char tag[TAG_TEXT_BYTES];
    char *body;

    if (left_ms <= 0) {
        char why[128];

        snprintf(why, sizeof(why), "expired: the task did not start within %d s",
                 s->cfg.task_expiry_s);
        end_task(l, false, why, strlen(why));
        return;
    }
    body = malloc(l->len + 1);
    if (body == NULL) {
        end_task(l, false, "out of memory", 13);
        return;
    }
    memcpy(body, l->request, l->len + 1);
    srv_owner_tag(l->owner, tag);
    l->attempts++;
    if (rt_predict(s->rt, l->endpoint_id, tag, body, l->len, &opts, on_reply, l, &err) != LF_OK)
        forget(a, l); /* shutting down: still PENDING in the store */
}

/* ---- the writer thread ---- */

static int launch(struct srv_async *a, struct live *l, struct lf_err *err);

/* After the write: starts each new task and answers its suspended POST
 * (200 {"task_id"}), or answers the store's error. */
static void
finish_new(struct srv_async *a, struct live *fresh, int rc, const struct lf_err *err)
{
    while (fresh != NULL) {
        struct live *l = fresh;
        struct srv_req *r = l->req;
        struct lf_err e = { 0 };
        cJSON *resp;

        fresh = l->next; /* before launch: a started task may be queued again */
        l->req = NULL;
        if (rc != LF_OK) {
            backlog_give(a, l->len);
            live_free(l);
            srv_resp_err(r, err);
        } else {
            resp = cJSON_CreateObject();
            cJSON_AddStringToObject(resp, "task_id", l->id);
            if (launch(a, l, &e) == LF_OK) {
                srv_resp_json(r, 200, resp);
            } else {
                cJSON_Delete(resp);
                srv_resp_err(r, &e);
            }
        }
        srv_req_resume(r);
    }
}

/* After the write: the ended tasks leave memory (GET reads the store from
 * now on); batch jobs and callbacks hear of them. */
static void
finish_ended(struct srv_async *a, struct live *ended, int rc)
{
    if (rc == LF_OK && ended != NULL && a->srv->callbacks != NULL)
        srv_callbacks_kick(a->srv->callbacks);
    while (ended != NULL) {
        struct live *next = ended->next;

        if (ended->batch_id[0] != '\0' && a->srv->batch != NULL)
            srv_batch_note(a->srv->batch, ended->batch_id);
        forget(a, ended);
        ended = next;
    }
}

/* One transaction for everything queued since the last one: the new tasks
 * are inserted and the ended ones stored with their callbacks (a group
 * commit: one sync for the lot). Each list holds at most WRITER_BATCH_MAX. */
static void
write_all(struct srv_async *a, struct live *fresh, struct live *ended)
{
    const struct srv_task_rec *rows[WRITER_BATCH_MAX] = { NULL };
    struct srv_task_end ends[WRITER_BATCH_MAX];
    struct srv_task_rec *recs = NULL;
    struct lf_err err = { 0 };
    size_t n_fresh = 0, n_new = 0, n_end = 0;
    int rc = LF_OK;

    for (struct live *l = fresh; l != NULL; l = l->next)
        n_fresh++;
    if (n_fresh > 0 && (recs = calloc(n_fresh, sizeof(*recs))) == NULL)
        rc = lf_err_set(&err, LF_ENOMEM, "out of memory");
    for (struct live *l = fresh; rc == LF_OK && l != NULL; l = l->next) {
        struct srv_task_rec *t = &recs[n_new];

        snprintf(t->id, sizeof(t->id), "%s", l->id);
        snprintf(t->endpoint_id, sizeof(t->endpoint_id), "%s", l->endpoint_id);
        t->owner = l->owner;
        t->request = l->request;
        t->callback_url = l->callback_url;
        t->callback_auth = l->callback_auth;
        t->created_us = l->created_us;
        rows[n_new++] = t;
    }
    for (struct live *l = ended; l != NULL; l = l->next)
        ends[n_end++] = (struct srv_task_end){
            l->id, l->success ? "SUCCESS" : "FAILURE", l->result, l->traceback, l->attempts,
            l->callback_url, l->callback_auth, l->callback_body,
        };
    if (rc == LF_OK)
        rc = srv_store_tasks_write(a->srv->store, rows, n_new, ends, n_end, lf_now_us(),
                                   &err);
    free(recs);
    if (rc != LF_OK)
        lf_log(LF_LOG_ERR, "async", "cannot store %zu new and %zu ended tasks: %s (the new ones "
               "are refused; the ended ones run again after a restart)", n_new, n_end, err.msg);
    finish_new(a, fresh, rc, &err);
    finish_ended(a, ended, rc);
}

/* The realtime clock ms from now, for pthread_cond_timedwait. */
static struct timespec
deadline_in_ms(int64_t ms)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += (time_t)(ms / 1000);
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return ts;
}

static void *
writer_main(void *arg)
{
    struct srv_async *a = arg;
    /* Sweep at least as often as the results live, so none outlives its TTL
     * by more than one sweep. */
    int64_t ttl_us = (int64_t)a->srv->cfg.task_result_ttl_s * 1000000;
    int64_t purge_every_us = ttl_us < PURGE_EVERY_US ? ttl_us : PURGE_EVERY_US;
    int64_t next_purge_us = lf_now_us() + purge_every_us;

    for (;;) {
        struct live *fresh, *ended;
        bool stop;

        pthread_mutex_lock(&a->lock);
        while (a->head == NULL && a->new_head == NULL && !a->stopping) {
            struct timespec ts = deadline_in_ms(WRITER_WAKE_MS);

            if (pthread_cond_timedwait(&a->wake, &a->lock, &ts) != 0)
                break;
        }
        /* Ended tasks alone wait a moment for company: GET serves them from
         * memory meanwhile, and one commit then takes them along with the
         * new tasks whose POSTs wait for it, instead of a sync per end. */
        if (a->new_head == NULL && a->head != NULL && !a->stopping) {
            struct timespec ts = deadline_in_ms(ENDED_WAIT_MS);

            while (a->new_head == NULL && !a->stopping &&
                   pthread_cond_timedwait(&a->wake, &a->lock, &ts) == 0) {
            }
        }
        fresh = queue_take(&a->new_head, &a->new_tail);
        ended = queue_take(&a->head, &a->tail);
        stop = a->stopping && a->head == NULL && a->new_head == NULL;
        pthread_mutex_unlock(&a->lock);
        if (fresh != NULL || ended != NULL)
            write_all(a, fresh, ended);
        if (lf_now_us() >= next_purge_us) {
            struct lf_err err = { 0 };
            int deleted = 0;

            next_purge_us = lf_now_us() + purge_every_us;
            if (srv_store_tasks_purge(a->srv->store, lf_now_us() -
                                      (int64_t)a->srv->cfg.task_result_ttl_s * 1000000,
                                      &deleted, &err) != LF_OK)
                lf_log(LF_LOG_ERR, "async", "cannot purge ended tasks: %s", err.msg);
            else if (deleted > 0)
                lf_log(LF_LOG_INFO, "async", "purged %d ended tasks", deleted);
        }
        if (stop)
            return NULL;
    }
}

int
srv_async_new(struct srv *s, struct srv_async **out, struct lf_err *err)
{
    struct srv_async *a = calloc(1, sizeof(*a));

    if (a == NULL)
        return lf_err_set(err, LF_ENOMEM, "out of memory");
    a->srv = s;
    pthread_mutex_init(&a->lock, NULL);
    pthread_cond_init(&a->wake, NULL);
    lf_map_init(&a->live);
    if (pthread_create(&a->writer, NULL, writer_main, a) != 0) {
        pthread_cond_destroy(&a->wake);
        pthread_mutex_destroy(&a->lock);
        free(a);
        return lf_err_set(err, LF_EIO, "cannot start the task writer");
    }
    *out = a;
    return LF_OK;
}

void
srv_async_shutdown(struct srv_async *a)
{
    if (a != NULL)
        atomic_store(&a->shutting_down, true);
}

static void
free_live(const char *key, void *value, void *arg)
{
    (void)key;
    (void)arg;
    live_free(value);
}

void
srv_async_free(struct srv_async *a)
{
    if (a == NULL)
        return;
    pthread_mutex_lock(&a->lock);
    a->stopping = true;
    pthread_cond_signal(&a->wake);
    pthread_mutex_unlock(&a->lock);
    pthread_join(a->writer, NULL);
    lf_map_each(&a->live, free_live, NULL);
    lf_map_release(&a->live);
    pthread_cond_destroy(&a->wake);
    pthread_mutex_destroy(&a->lock);
    free(a);
}

/* Puts l, whose request bytes backlog_take has counted, in the live table
 * and starts it. Takes l. */
static int
launch(struct srv_async *a, struct live *l, struct lf_err *err)
{
    int rc;

    l->async = a;
    pthread_mutex_lock(&a->lock);
    rc = lf_map_put(&a->live, l->id, l, NULL);
    pthread_mutex_unlock(&a->lock);
    if (rc != LF_OK) {
        backlog_give(a, l->len);
        live_free(l);
        return lf_err_set(err, LF_ENOMEM, "out of memory");
    }
    submit(l);
    return LF_OK;
}

int
srv_async_adopt(struct srv_async *a, struct srv_task_rec *t, struct lf_err *err)
{
    struct live *l = calloc(1, sizeof(*l));

    if (l == NULL)
        return lf_err_set(err, LF_ENOMEM, "out of memory");
    snprintf(l->id, sizeof(l->id), "%s", t->id);
    snprintf(l->endpoint_id, sizeof(l->endpoint_id), "%s", t->endpoint_id);
    snprintf(l->batch_id, sizeof(l->batch_id), "%s", t->batch_id);
    l->owner = t->owner;
    l->request = t->request;
    l->len = strlen(l->request);
    l->callback_url = t->callback_url;
    l->callback_auth = t->callback_auth;
    t->owner = t->request = t->callback_url = t->callback_auth = NULL;
    l->attempts = t->attempts;
    l->created_us = t->created_us;
    backlog_take(a, l->len, true);
    return launch(a, l, err);
}

int
srv_async_recover(struct srv_async *a, struct lf_err *err)
{
    struct srv_task_rec *recs = NULL;
    size_t n = 0;
    int rc = srv_store_tasks_pending(a->srv->store, &recs, &n, err);

    if (rc != LF_OK)
        return rc;
    for (size_t i = 0; i < n; i++)
        srv_async_adopt(a, &recs[i], NULL);
    if (n > 0)
        lf_log(LF_LOG_INFO, "async", "recovering %zu pending tasks", n);
    for (size_t i = 0; i < n; i++)
        srv_task_rec_release(&recs[i]);
    free(recs);
    return LF_OK;
}

/* ---- handlers ---- */

/* The callback target of a task (spec 7), or NULLs when there is none. */
static void
callback_target(const cJSON *ep, const cJSON *req, char **url, char **auth)
{
    const cJSON *hook, *u, *au;
    bool enabled = false;

    *url = *auth = NULL;
    cJSON_ArrayForEach(hook, cJSON_GetObjectItemCaseSensitive(ep, "post_inference_hooks"))
        enabled |= cJSON_IsString(hook) && strcasecmp(hook->valuestring, "callback") == 0;
    if (!enabled)
        return;
    u = cJSON_GetObjectItemCaseSensitive(req, "callback_url");
    if (!cJSON_IsString(u) || u->valuestring[0] == '\0')
        u = cJSON_GetObjectItemCaseSensitive(ep, "default_callback_url");
    if (!cJSON_IsString(u) || u->valuestring[0] == '\0')
        return;
    au = cJSON_GetObjectItemCaseSensitive(req, "callback_auth");
    if (!cJSON_IsObject(au))
        au = cJSON_GetObjectItemCaseSensitive(ep, "default_callback_auth");
    *url = strdup(u->valuestring);
    *auth = cJSON_IsObject(au) ? cJSON_PrintUnformatted(au) : NULL;
}

void
srv_h_async_create(struct srv_req *r)
{
    struct srv_async *a = r->srv->async;
    const char *id = srv_req_query(r, "model_endpoint_id");
    struct srv_ep_rec rec = { .doc = NULL };
    struct live *l;
    const char *type;

    if (!srv_predict_target(r, id, &rec))
        return;
    type = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(rec.doc, "endpoint_type"));
    if (type == NULL || strcmp(type, "async") != 0) {
        srv_resp_detail(r, 400, "Unsupported inference type: Endpoint %s is not an async "
                        "endpoint.", id);
        srv_ep_rec_release(&rec);
        return;
    }
    if (!srv_predict_request_valid(r)) {
        srv_ep_rec_release(&rec);
        return;
    }
    if (!backlog_take(a, r->body.len, false)) {
        lf_log(LF_LOG_WARN, "async", "endpoint=%s task refused: unfinished async tasks hold "
               "more than %llu request bytes", id,
               (unsigned long long)r->srv->cfg.async_backlog_max_bytes);
        srv_resp_detail(r, 429, "Too many requests: unfinished async tasks are at the "
                        "server's limit (async_backlog_max_bytes); try again later");
        srv_ep_rec_release(&rec);
        return;
    }
    if ((l = calloc(1, sizeof(*l))) == NULL) {
        backlog_give(a, r->body.len);
        srv_resp_detail(r, 500, "out of memory");
        srv_ep_rec_release(&rec);
        return;
    }
    lf_uuid4(l->id);
    snprintf(l->endpoint_id, sizeof(l->endpoint_id), "%s", id);
    l->owner = strdup(r->owner);
    l->request = strndup(r->body.data, r->body.len);
    l->len = r->body.len;
    l->created_us = lf_now_us();
    callback_target(rec.doc, r->json, &l->callback_url, &l->callback_auth);
    srv_ep_rec_release(&rec);
    if (l->owner == NULL || l->request == NULL) {
        backlog_give(a, r->body.len);
        live_free(l);
        srv_resp_detail(r, 500, "out of memory");
        return;
    }
    /* The writer stores it with the others queued meanwhile, then answers. */
    l->req = r;
    srv_req_suspend(r);
    pthread_mutex_lock(&a->lock);
    queue_add(a, &a->new_head, &a->new_tail, l);
    pthread_mutex_unlock(&a->lock);
}

/* {"task_id","status","result","traceback","status_code"}. */
static cJSON *
task_view(const char *id, const char *status, const char *result, const char *traceback)
{
    cJSON *o = cJSON_CreateObject(), *res = result ? cJSON_Parse(result) : NULL;

    cJSON_AddStringToObject(o, "task_id", id);
    cJSON_AddStringToObject(o, "status", status);
    cJSON_AddItemToObject(o, "result", res ? res : cJSON_CreateNull());
    cJSON_AddItemToObject(o, "traceback", traceback ? cJSON_CreateString(traceback)
                                                    : cJSON_CreateNull());
    cJSON_AddNullToObject(o, "status_code");
    return o;
}

void
srv_h_async_get(struct srv_req *r)
{
    struct srv_async *a = r->srv->async;
    const char *id = r->params[0];
    struct srv_task_rec t;
    struct lf_err err = { 0 };
    struct live *l;
    cJSON *view = NULL;

    pthread_mutex_lock(&a->lock);
    l = lf_map_get(&a->live, id);
    if (l != NULL && strcmp(l->owner, r->owner) == 0)
        view = !l->ended ? task_view(id, l->started ? "STARTED" : "PENDING", NULL, NULL)
                         : task_view(id, l->success ? "SUCCESS" : "FAILURE", l->result,
                                     l->traceback);
    pthread_mutex_unlock(&a->lock);
    if (view != NULL) {
        srv_resp_json(r, 200, view);
        return;
    }
    if (srv_store_task_get(r->srv->store, id, &t, &err) != LF_OK ||
        strcmp(t.owner, r->owner) != 0) {
        if (err.code != LF_OK && err.code != LF_ENOENT)
            srv_resp_err(r, &err);
        else
            srv_resp_detail(r, 404, "The specified task could not be found.");
        if (err.code == LF_OK)
            srv_task_rec_release(&t);
        return;
    }
    srv_resp_json(r, 200, task_view(id, t.state, t.result, t.traceback));
    srv_task_rec_release(&t);
}
