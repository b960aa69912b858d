/* The control thread. Other threads put commands on a mutex-guarded list
 * and wake the loop with uv_async_send (whose wake-ups coalesce, so the
 * callback drains the whole list). A 100 ms tick enforces deadlines and
 * scales down; SIGCHLD reaps workers. Everything the pools own is touched
 * on this thread only. */
#include "rt_srv.h"

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>

#include "lf_log.h"
#include "lf_util.h"

#define TICK_MS 100
#define RT_LOG_LINE_BYTES 2048
#define SHUTDOWN_REAP_MS 3000

enum cmd_kind { CMD_APPLY, CMD_REMOVE, CMD_PREDICT, CMD_SHUTDOWN };

struct rt_cmd {
    enum cmd_kind kind;
    struct rt_endpoint_spec spec;  /* APPLY; REMOVE and PREDICT use endpoint_id */
    struct rt_call *call;          /* PREDICT */
    bool drop_queued;              /* REMOVE */
    struct rt_cmd *next;
};

void
rt_emit(struct rt *rt, const struct rt_pool *p, enum rt_phase phase, const char *fmt, ...)
{
    char line[RT_LOG_LINE_BYTES];
    struct rt_event ev;
    va_list ap;
    size_t n;

    va_start(ap, fmt);
    vsnprintf(line, sizeof(line) - 1, fmt, ap);
    va_end(ap);
    n = strlen(line);
    line[n] = '\n';
    line[n + 1] = '\0';
    /* The counts first, so that a client that reads READY sees the workers. */
    if (phase == RT_PHASE_READY)
        rt_counts_update(rt, p->ep);
    ev.endpoint_id = p->spec.endpoint_id;
    ev.generation = p->spec.generation;
    ev.phase = phase;
    ev.log_line = line;
    rt->on_event(rt->ctx, &ev);
}

void
rt_spec_release(struct rt_endpoint_spec *spec)
{
    free(spec->location);
    free(spec->worker_json);
    spec->location = NULL;
    spec->worker_json = NULL;
}

static int
outcome_status(enum rt_outcome o)
{
    switch (o) {
    case RT_OK: case RT_FAILED: case RT_WORKER_LOST: return 200;
    case RT_BAD_REQUEST: return 400;
    case RT_NOT_FOUND: return 404;
    case RT_QUEUE_TIMEOUT: case RT_RUN_TIMEOUT: return 408;
    case RT_QUEUE_FULL: return 429;
    case RT_UNAVAILABLE: break;
    }
    return 503;
}

void
rt_call_answer(struct rt_call *c, enum rt_outcome outcome, const char *body, size_t len)
{
    struct rt_reply r = { outcome, outcome_status(outcome), outcome == RT_OK, body,
                          len ? len : strlen(body) };

    if (c->answered)
        return;
    c->answered = true;
    c->reply(c->ctx, &r);
}

static void
run_cmd(struct rt *rt, struct rt_cmd *c)
{
    switch (c->kind) {
    case CMD_APPLY:
        rt_pool_apply(rt, &c->spec);
        break;
    case CMD_REMOVE:
        rt_pool_remove(rt, c->spec.endpoint_id, c->spec.generation, c->drop_queued);
        break;
    case CMD_PREDICT:
        c->call->id = ++rt->next_call_id;
        rt_pool_predict(rt, c->spec.endpoint_id, c->call);
        break;
    case CMD_SHUTDOWN:
        rt->closing = true;
        rt_pool_shutdown(rt);
        pthread_mutex_lock(&rt->lock);
        rt->shut = true;
        pthread_cond_broadcast(&rt->done);
        pthread_mutex_unlock(&rt->lock);
        break;
    }
}

static void
on_wake(uv_async_t *a)
{
    struct rt *rt = a->data;
    struct rt_cmd *c;

    pthread_mutex_lock(&rt->lock);
    c = rt->head;
    rt->head = rt->tail = NULL;
    pthread_mutex_unlock(&rt->lock);
    while (c != NULL) {
        struct rt_cmd *next = c->next;

        run_cmd(rt, c);
        rt_spec_release(&c->spec);
        free(c);
        c = next;
    }
}

static void
on_tick(uv_timer_t *t)
{
    rt_pool_tick(t->data);
}

static void
thread_main(void *arg)
{
    struct rt *rt = arg;

    uv_run(&rt->loop, UV_RUN_DEFAULT);
}

static void
close_all(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

/* Runs on the control thread at the end: stops every process, waits a
 * little for them to be reaped, then closes every handle. */
static void
on_final(uv_async_t *a)
{
    struct rt *rt = a->data;
    int64_t deadline = lf_mono_ms() + SHUTDOWN_REAP_MS;

    rt->closing = true;
    for (struct rt_proc *pr = rt->procs; pr != NULL; pr = pr->next)
        rt_proc_stop(rt, pr);
    while (rt->procs != NULL && lf_mono_ms() < deadline) {
        uv_run(&rt->loop, UV_RUN_NOWAIT);
        rt_proc_reap_finished(rt, 0);
        if (rt->procs != NULL) {
            struct timespec ts = { 0, 5 * 1000000L };

            nanosleep(&ts, NULL);
        }
    }
    for (struct rt_proc *pr = rt->procs; pr != NULL; pr = pr->next)
        rt_proc_kill(pr);
    uv_walk(&rt->loop, close_all, NULL);
}

int
rt_new(const struct bl_ctx *bl, const struct rt_opts *opts, rt_event_fn on_event, void *ctx,
       struct rt **out, struct lf_err *err)
{
    struct rt *rt = calloc(1, sizeof(*rt));

    if (rt == NULL)
        return lf_err_set(err, LF_ENOMEM, "out of memory");
    rt->bl = *bl;
    rt->opts = *opts;
    rt->on_event = on_event;
    rt->ctx = ctx;
    pthread_mutex_init(&rt->lock, NULL);
    pthread_cond_init(&rt->done, NULL);
    /* Workers forked by a zygote are orphaned on purpose; as a subreaper we
     * adopt them, so we can reap them and see how they ended. */
    if (prctl(PR_SET_CHILD_SUBREAPER, 1) != 0)
        lf_log(LF_LOG_WARN, "rt", "cannot become a child subreaper: forked workers' exits "
               "will be reported without their status");
    if (uv_loop_init(&rt->loop) != 0) {
        pthread_cond_destroy(&rt->done);
        pthread_mutex_destroy(&rt->lock);
        free(rt);
        return lf_err_set(err, LF_EIO, "cannot start the runtime loop");
    }
    rt->loop.data = rt;
    uv_async_init(&rt->loop, &rt->wake, on_wake);
    rt->wake.data = rt;
    uv_async_init(&rt->loop, &rt->final, on_final);
    rt->final.data = rt;
    uv_timer_init(&rt->loop, &rt->tick);
    rt->tick.data = rt;
    uv_timer_start(&rt->tick, on_tick, TICK_MS, TICK_MS);
    uv_signal_init(&rt->loop, &rt->sigchld);
    rt->sigchld.data = rt;
    uv_signal_start(&rt->sigchld, rt_on_sigchld, SIGCHLD);
    if (uv_thread_create(&rt->thread, thread_main, rt) != 0) {
        uv_close((uv_handle_t *)&rt->wake, NULL);
        uv_close((uv_handle_t *)&rt->final, NULL);
        uv_close((uv_handle_t *)&rt->tick, NULL);
        uv_close((uv_handle_t *)&rt->sigchld, NULL);
        uv_run(&rt->loop, UV_RUN_DEFAULT);
        uv_loop_close(&rt->loop);
        pthread_cond_destroy(&rt->done);
        pthread_mutex_destroy(&rt->lock);
        free(rt);
        return lf_err_set(err, LF_EIO, "cannot start the runtime thread");
    }
    *out = rt;
    return LF_OK;
}

static int
push(struct rt *rt, struct rt_cmd *c, struct lf_err *err)
{
    pthread_mutex_lock(&rt->lock);
    if (rt->stopping) {
        pthread_mutex_unlock(&rt->lock);
        rt_spec_release(&c->spec);
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

static struct rt_cmd *
new_cmd(enum cmd_kind kind, const char *endpoint_id)
{
    struct rt_cmd *c = calloc(1, sizeof(*c));

    if (c != NULL) {
        c->kind = kind;
        snprintf(c->spec.endpoint_id, sizeof(c->spec.endpoint_id), "%s", endpoint_id);
    }
    return c;
}

int
rt_endpoint_apply(struct rt *rt, struct rt_endpoint_spec *spec, struct lf_err *err)
{
    struct rt_cmd *c = new_cmd(CMD_APPLY, spec->endpoint_id);

    if (c == NULL) {
        rt_spec_release(spec);
        return lf_err_set(err, LF_ENOMEM, "out of memory");
    }
    c->spec = *spec;
    spec->location = NULL;
    spec->worker_json = NULL;
    return push(rt, c, err);
}

int
rt_endpoint_remove(struct rt *rt, const char *endpoint_id, int64_t generation,
                   bool drop_queued, struct lf_err *err)
{
    struct rt_cmd *c = new_cmd(CMD_REMOVE, endpoint_id);

    if (c == NULL)
        return lf_err_set(err, LF_ENOMEM, "out of memory");
    c->spec.generation = generation;
    c->drop_queued = drop_queued;
    return push(rt, c, err);
}

int
rt_predict(struct rt *rt, const char *endpoint_id, const char *tag, char *body, size_t len,
           const struct rt_call_opts *opts, rt_reply_fn reply, void *ctx, struct lf_err *err)
{
    struct rt_cmd *c = new_cmd(CMD_PREDICT, endpoint_id);
    struct rt_call *call = calloc(1, sizeof(*call));

    if (c == NULL || call == NULL) {
        free(c);
        free(call);
        free(body);
        return lf_err_set(err, LF_ENOMEM, "out of memory");
    }
    memcpy(call->tag, tag, strnlen(tag, RT_TAG_BYTES)); /* not NUL-terminated */
    call->body = body;
    call->len = len;
    if (opts != NULL) {
        call->deadline_ms = lf_mono_ms() + opts->queue_timeout_ms;
        call->run_timeout_ms = opts->run_timeout_ms > 0 ? opts->run_timeout_ms : 1;
        call->durable = opts->durable;
        call->on_start = opts->on_start;
    } else {
        call->deadline_ms = lf_mono_ms() + (int64_t)rt->opts.sync_timeout_s * 1000;
    }
    call->reply = reply;
    call->ctx = ctx;
    c->call = call;
    if (push(rt, c, err) != LF_OK) {
        free(body);
        free(call);
        return LF_EBUSY;
    }
    return LF_OK;
}

void
rt_endpoint_counts(struct rt *rt, const char *endpoint_id, struct rt_counts *out)
{
    memset(out, 0, sizeof(*out));
    pthread_mutex_lock(&rt->lock);
    for (struct rt_endpoint *ep = rt->endpoints; ep != NULL; ep = ep->next) {
        if (strcmp(ep->id, endpoint_id) == 0) {
            *out = ep->counts;
            break;
        }
    }
    pthread_mutex_unlock(&rt->lock);
}

void
rt_shutdown(struct rt *rt)
{
    struct rt_cmd *c = new_cmd(CMD_SHUTDOWN, "");

    if (c == NULL || push(rt, c, NULL) != LF_OK)
        return;
    pthread_mutex_lock(&rt->lock);
    rt->stopping = true;
    while (!rt->shut)
        pthread_cond_wait(&rt->done, &rt->lock);
    pthread_mutex_unlock(&rt->lock);
}

void
rt_free(struct rt *rt)
{
    if (rt == NULL)
        return;
    rt_shutdown(rt);
    pthread_mutex_lock(&rt->lock);
    rt->stopping = true;
    pthread_mutex_unlock(&rt->lock);
    uv_async_send(&rt->final);
    uv_thread_join(&rt->thread);
    while (rt->procs != NULL) {
        struct rt_proc *pr = rt->procs;

        rt->procs = pr->next;
        rt_proc_free(pr);
    }
    while (rt->endpoints != NULL) {
        struct rt_endpoint *ep = rt->endpoints;

        rt->endpoints = ep->next;
        while (ep->pools != NULL) {
            struct rt_pool *p = ep->pools;

            ep->pools = p->next;
            rt_pool_destroy(p);
        }
        free(ep);
    }
    if (uv_loop_close(&rt->loop) != 0)
        lf_log(LF_LOG_WARN, "rt", "runtime loop closed with open handles");
    pthread_cond_destroy(&rt->done);
    pthread_mutex_destroy(&rt->lock);
    free(rt);
}
