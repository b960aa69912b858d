/* The control thread. Other threads put commands on a mutex-guarded list
 * and wake the loop with uv_async_send (whose wake-ups coalesce, so the
 * callback drains the whole list). Blocking work, such as downloading an
 * artifact, runs on libuv's thread pool so the loop stays responsive. */
#include "rt.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "lf_log.h"

#define RT_LOG_LINE_BYTES 1024

enum cmd_kind { CMD_APPLY, CMD_REMOVE };

struct cmd {
    enum cmd_kind kind;
    struct rt_endpoint_spec spec; /* for CMD_REMOVE only id and generation */
    struct cmd *next;
};

/* A deployment in flight on the thread pool. */
struct deploy {
    uv_work_t work;
    struct rt *rt;
    struct rt_endpoint_spec spec;
    int rc;
    char line[RT_LOG_LINE_BYTES];
};

struct rt {
    uv_loop_t loop;
    uv_async_t wake;
    uv_thread_t thread;
    pthread_mutex_t lock;
    struct cmd *head, *tail;  /* guarded by lock */
    int stopping;             /* guarded by lock */
    struct bl_ctx bl;
    rt_event_fn on_event;
    void *ctx;
};

static void
emit(struct rt *rt, const char *id, int64_t generation, enum rt_phase phase, const char *line)
{
    struct rt_event ev = { id, generation, phase, line };

    rt->on_event(rt->ctx, &ev);
}

static void
deploy_work(uv_work_t *w)
{
    struct deploy *d = w->data;
    char path[PATH_MAX];
    struct lf_err err = { 0 };

    if (d->spec.location[0] == '\0') {
        d->rc = LF_OK;
        snprintf(d->line, sizeof(d->line), "bundle %s has no artifact to check\n",
                 d->spec.bundle_id);
        return;
    }
    d->rc = bl_location_resolve(&d->rt->bl, d->spec.location, path, sizeof(path), &err);
    if (d->rc == LF_OK)
        snprintf(d->line, sizeof(d->line), "bundle %s artifact is readable\n", d->spec.bundle_id);
    else
        snprintf(d->line, sizeof(d->line), "bundle %s artifact check failed: %s\n",
                 d->spec.bundle_id, err.msg);
    lf_err_release(&err);
}

static void
deploy_done(uv_work_t *w, int status)
{
    struct deploy *d = w->data;
    const char *id = d->spec.endpoint_id;

    if (status != 0) {
        d->rc = LF_EIO;
        snprintf(d->line, sizeof(d->line), "deployment cancelled\n");
    }
    emit(d->rt, id, d->spec.generation, RT_PHASE_IN_PROGRESS, d->line);
    emit(d->rt, id, d->spec.generation, d->rc == LF_OK ? RT_PHASE_READY : RT_PHASE_FAILED,
         d->rc == LF_OK ? "endpoint is ready\n" : "endpoint update failed\n");
    free(d);
}

static void
run_cmd(struct rt *rt, struct cmd *c)
{
    char line[RT_LOG_LINE_BYTES];
    struct deploy *d;

    if (c->kind == CMD_REMOVE) {
        emit(rt, c->spec.endpoint_id, c->spec.generation, RT_PHASE_REMOVED, NULL);
        return;
    }
    snprintf(line, sizeof(line), "deploying bundle %s: min_workers=%d max_workers=%d "
             "per_worker=%d\n", c->spec.bundle_id, c->spec.min_workers, c->spec.max_workers,
             c->spec.per_worker);
    emit(rt, c->spec.endpoint_id, c->spec.generation, RT_PHASE_IN_PROGRESS, line);
    d = calloc(1, sizeof(*d));
    if (d == NULL) {
        emit(rt, c->spec.endpoint_id, c->spec.generation, RT_PHASE_FAILED, "out of memory\n");
        return;
    }
    d->rt = rt;
    d->spec = c->spec;
    d->work.data = d;
    if (uv_queue_work(&rt->loop, &d->work, deploy_work, deploy_done) != 0) {
        emit(rt, c->spec.endpoint_id, c->spec.generation, RT_PHASE_FAILED,
             "cannot start the deployment\n");
        free(d);
    }
}

static void
on_wake(uv_async_t *a)
{
    struct rt *rt = a->data;
    struct cmd *c;
    int stopping;

    pthread_mutex_lock(&rt->lock);
    c = rt->head;
    rt->head = rt->tail = NULL;
    stopping = rt->stopping;
    pthread_mutex_unlock(&rt->lock);
    while (c != NULL) {
        struct cmd *next = c->next;

        run_cmd(rt, c);
        free(c);
        c = next;
    }
    /* Closing the only handle lets uv_run return once queued work is done. */
    if (stopping && !uv_is_closing((uv_handle_t *)&rt->wake))
        uv_close((uv_handle_t *)&rt->wake, NULL);
}

static void
thread_main(void *arg)
{
    struct rt *rt = arg;

    uv_run(&rt->loop, UV_RUN_DEFAULT);
}

int
rt_new(const struct bl_ctx *bl, rt_event_fn on_event, void *ctx, struct rt **out,
       struct lf_err *err)
{
    struct rt *rt = calloc(1, sizeof(*rt));

    if (rt == NULL)
        return lf_err_set(err, LF_ENOMEM, "out of memory");
    rt->bl = *bl;
    rt->on_event = on_event;
    rt->ctx = ctx;
    pthread_mutex_init(&rt->lock, NULL);
    if (uv_loop_init(&rt->loop) != 0) {
        pthread_mutex_destroy(&rt->lock);
        free(rt);
        return lf_err_set(err, LF_EIO, "cannot start the runtime loop");
    }
    uv_async_init(&rt->loop, &rt->wake, on_wake);
    rt->wake.data = rt;
    if (uv_thread_create(&rt->thread, thread_main, rt) != 0) {
        uv_close((uv_handle_t *)&rt->wake, NULL);
        uv_run(&rt->loop, UV_RUN_DEFAULT);
        uv_loop_close(&rt->loop);
        pthread_mutex_destroy(&rt->lock);
        free(rt);
        return lf_err_set(err, LF_EIO, "cannot start the runtime thread");
    }
    *out = rt;
    return LF_OK;
}

static int
push(struct rt *rt, struct cmd *c, struct lf_err *err)
{
    pthread_mutex_lock(&rt->lock);
    if (rt->stopping) {
        pthread_mutex_unlock(&rt->lock);
        free(c);
        return lf_err_set(err, LF_EBUSY, "the server is shutting down");
    }
    if (rt->tail != NULL)
        rt->tail->next = c;
    else
        rt->head = c;
    rt->tail = c;
    pthread_mutex_unlock(&rt->lock);
    uv_async_send(&rt->wake);
    return LF_OK;
}

int
rt_endpoint_apply(struct rt *rt, const struct rt_endpoint_spec *spec, struct lf_err *err)
{
    struct cmd *c = calloc(1, sizeof(*c));

    if (c == NULL)
        return lf_err_set(err, LF_ENOMEM, "out of memory");
    c->kind = CMD_APPLY;
    c->spec = *spec;
    return push(rt, c, err);
}

int
rt_endpoint_remove(struct rt *rt, const char *endpoint_id, int64_t generation,
                   struct lf_err *err)
{
    struct cmd *c = calloc(1, sizeof(*c));

    if (c == NULL)
        return lf_err_set(err, LF_ENOMEM, "out of memory");
    c->kind = CMD_REMOVE;
    snprintf(c->spec.endpoint_id, sizeof(c->spec.endpoint_id), "%s", endpoint_id);
    c->spec.generation = generation;
    return push(rt, c, err);
}

void
rt_free(struct rt *rt)
{
    if (rt == NULL)
        return;
    pthread_mutex_lock(&rt->lock);
    rt->stopping = 1;
    pthread_mutex_unlock(&rt->lock);
    uv_async_send(&rt->wake);
    uv_thread_join(&rt->thread);
    if (uv_loop_close(&rt->loop) != 0)
        lf_log(LF_LOG_WARN, "rt", "runtime loop closed with open handles");
    pthread_mutex_destroy(&rt->lock);
    free(rt);
}
