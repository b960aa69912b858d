/* Pools: one per generation of an endpoint. A pool starts a zygote that
 * loads the bundle; once it is loaded (and single-threaded, so safe to
 * fork), workers are forked from it, else started fresh. The pool becomes
 * READY when min_workers workers are serving; older generations then drain
 * (their queued requests move over, running ones finish) and stop.
 *
 * Requests wait in the pool's bounded queue and go to the least-loaded
 * ready worker with fewer than per_worker in flight. Desired workers =
 * ceil((in flight + queued) / per_worker) within [min, max]: a waiting
 * request starts a worker at once; idle workers above that stop after the
 * idle time. Unexpected exits fail the requests on that worker, count as
 * crashes, and restarts back off; five within a minute is a crash loop. */
#include "rt_srv.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "lf_log.h"
#include "lf_util.h"

#define STOP_GRACE_MS 10000

static struct rt_endpoint *
find_ep(struct rt *rt, const char *id)
{
    for (struct rt_endpoint *ep = rt->endpoints; ep != NULL; ep = ep->next)
        if (strcmp(ep->id, id) == 0)
            return ep;
    return NULL;
}

static void
queue_push(struct rt_queue *q, struct rt_call *c)
{
    c->next = NULL;
    if (q->tail != NULL)
        q->tail->next = c;
    else
        q->head = c;
    q->tail = c;
    q->len++;
}

static struct rt_call *
queue_pop(struct rt_queue *q)
{
    struct rt_call *c = q->head;

    if (c != NULL) {
        q->head = c->next;
        if (q->head == NULL)
            q->tail = NULL;
        q->len--;
        c->next = NULL;
    }
    return c;
}

static void
call_free(struct rt_call *c)
{
    free(c->body);
    free(c);
}

/* Counts the pool's workers by state, and its requests in flight. */
static void
tally(const struct rt *rt, const struct rt_pool *p, int *starting, int *ready, int *in_flight)
{
    *starting = *ready = *in_flight = 0;
    for (struct rt_proc *pr = rt->procs; pr != NULL; pr = pr->next) {
        if (pr->pool != p || pr->kind != RT_PROC_WORKER)
            continue;
        *in_flight += pr->in_flight;
        if (pr->state == RT_PROC_STARTING)
            (*starting)++;
        else if (pr->state == RT_PROC_READY)
            (*ready)++;
    }
}

void
rt_counts_update(struct rt *rt, struct rt_endpoint *ep)
{
    struct rt_counts c = { 0, 0, 0 };

    for (struct rt_pool *p = ep->pools; p != NULL; p = p->next) {
        int starting, ready, in_flight;

        tally(rt, p, &starting, &ready, &in_flight);
        c.available_workers += ready;
        c.unavailable_workers += starting;
        c.queued += p->queue.len;
    }
    pthread_mutex_lock(&rt->lock);
    ep->counts = c;
    pthread_mutex_unlock(&rt->lock);
}

/* The pool that takes new requests: the newest READY one, else the newest
 * still loading; NULL when every generation failed. */
static struct rt_pool *
active_pool(struct rt_endpoint *ep)
{
    struct rt_pool *loading = NULL;

    for (struct rt_pool *p = ep->pools; p != NULL; p = p->next) {
        if (p->state == RT_POOL_READY)
            return p;
        if (p->state == RT_POOL_LOADING && loading == NULL)
            loading = p;
    }
    return loading;
}

static int
desired_workers(const struct rt_pool *p, int in_flight)
{
    int per = p->spec.per_worker > 0 ? p->spec.per_worker : 1;
    int demand = in_flight + p->queue.len;
    int want = (demand + per - 1) / per;

    if (p->state == RT_POOL_DRAINING && demand == 0)
        return 0;
    if (p->state != RT_POOL_DRAINING && want < p->spec.min_workers)
        want = p->spec.min_workers;
    return want > p->spec.max_workers ? p->spec.max_workers : want;
}

static void
dispatch(struct rt *rt, struct rt_pool *p)
{
    while (p->queue.head != NULL) {
        struct rt_proc *best = NULL;
        struct rt_call *c;

        for (struct rt_proc *pr = rt->procs; pr != NULL; pr = pr->next) {
            if (pr->pool == p && pr->kind == RT_PROC_WORKER && pr->state == RT_PROC_READY &&
                pr->in_flight < p->spec.per_worker &&
                (best == NULL || pr->in_flight < best->in_flight))
                best = pr;
        }
        if (best == NULL)
            return;
        c = queue_pop(&p->queue);
        if (rt_proc_send(rt, best, c) != LF_OK) {
            /* The worker is going away; its exit is handled elsewhere. */
            c->next = p->queue.head;
            p->queue.head = c;
            if (p->queue.tail == NULL)
                p->queue.tail = c;
            p->queue.len++;
            best->state = RT_PROC_STOPPING;
            continue;
        }
        c->worker = best;
        c->next = best->calls;
        best->calls = c;
        best->in_flight++;
        c->run_deadline_ms = c->run_timeout_ms > 0 ? lf_mono_ms() + c->run_timeout_ms
                                                   : c->deadline_ms;
        if (c->on_start != NULL)
            c->on_start(c->ctx);
    }
}

/* Retires every pool of ep older than p: their queues move to p. */
static void
retire_older(struct rt *rt, struct rt_pool *p)
{
    for (struct rt_pool *old = p->next; old != NULL; old = old->next) {
        struct rt_call *c;

        if (old->state == RT_POOL_DRAINING)
            continue;
        old->state = RT_POOL_DRAINING;
        while ((c = queue_pop(&old->queue)) != NULL)
            queue_push(&p->queue, c);
        if (old->zygote != NULL)
            rt_proc_stop(rt, old->zygote);
        rt_emit(rt, old, RT_PHASE_LOG, "generation %lld drains", (long long)old->spec.generation);
    }
}

static bool
can_start(const struct rt *rt, const struct rt_pool *p)
{
    /* Nothing starts before the artifact is resolved (spec_env is made then). */
    if (rt->closing || p->spec_env == NULL || lf_mono_ms() < p->next_start_ms)
        return false;
    if (p->fork_mode)
        return p->zygote != NULL && p->zygote->state == RT_PROC_READY;
    return p->zygote == NULL; /* fresh mode, once the zygote has gone */
}

static bool pool_free_if_done(struct rt *rt, struct rt_pool *p);

/* Moves p forward after any change: scale, become READY, dispatch. */
static void
progress(struct rt *rt, struct rt_pool *p)
{
    int starting, ready, in_flight, want;

    if (p->state == RT_POOL_FAILED) {
        pool_free_if_done(rt, p); /* may free p */
        return;
    }
    /* A zygote that died is started again, after the crash backoff. */
    if (p->fork_mode && p->zygote == NULL && p->state != RT_POOL_DRAINING && can_start(rt, p)) {
        p->zygote = rt_proc_spawn(rt, p, RT_PROC_ZYGOTE);
        if (p->zygote == NULL)
            p->next_start_ms = lf_mono_ms() + RT_BACKOFF_MAX_MS;
    }
    tally(rt, p, &starting, &ready, &in_flight);
    want = desired_workers(p, in_flight);
    if (p->state != RT_POOL_LOADING || p->fork_mode || p->zygote == NULL) {
        while (starting + ready < want && can_start(rt, p)) {
            struct rt_proc *pr = p->fork_mode ? rt_proc_fork(rt, p)
                                              : rt_proc_spawn(rt, p, RT_PROC_WORKER);

            if (pr == NULL)
                break;
            starting++;
        }
    }
    if (p->state == RT_POOL_LOADING && p->mode_known && ready >= p->spec.min_workers &&
        (p->fork_mode ? p->zygote && p->zygote->state == RT_PROC_READY : p->zygote == NULL)) {
        p->state = RT_POOL_READY;
        rt_emit(rt, p, RT_PHASE_READY, "endpoint is ready: %d workers, %s", ready,
                p->fork_mode ? "forked from a zygote" : "started fresh");
        retire_older(rt, p);
    } else if (p->resizing && p->state == RT_POOL_READY && ready >= p->spec.min_workers) {
        p->resizing = false;
        rt_emit(rt, p, RT_PHASE_READY, "endpoint is ready: %d workers, resized in place", ready);
    }
    dispatch(rt, p);
    if (p->state == RT_POOL_DRAINING && pool_free_if_done(rt, p))
        return; /* p is gone (and the counts updated) */
    rt_counts_update(rt, p->ep);
}

static void
progress_ep(struct rt *rt, struct rt_endpoint *ep)
{
    struct rt_pool *p = ep->pools;

    while (p != NULL) {
        struct rt_pool *next = p->next; /* progress may free p */

        progress(rt, p);
        p = next;
    }
}

static void
fail_pool(struct rt *rt, struct rt_pool *p, const char *why)
{
    struct rt_call *c;
    struct rt_pool *other = NULL;

    p->state = RT_POOL_FAILED;
    rt_emit(rt, p, RT_PHASE_FAILED, "cannot start workers: %s", why);
    for (struct rt_pool *q = p->ep->pools; q != NULL; q = q->next)
        if (q != p && q->state == RT_POOL_READY)
            other = q;
    while ((c = queue_pop(&p->queue)) != NULL) {
        if (other != NULL) {
            queue_push(&other->queue, c);
            continue;
        }
        rt_call_answer(c, RT_UNAVAILABLE, "the endpoint cannot start its workers: see its "
                       "creation logs", 0);
        call_free(c);
    }
    if (p->zygote != NULL)
        rt_proc_stop(rt, p->zygote);
    for (struct rt_proc *pr = rt->procs; pr != NULL; pr = pr->next)
        if (pr->pool == p && pr->in_flight == 0)
            rt_proc_stop(rt, pr);
    if (other != NULL)
        dispatch(rt, other);
}

static void
unlink_pool(struct rt_pool *p)
{
    for (struct rt_pool **link = &p->ep->pools; *link != NULL; link = &(*link)->next) {
        if (*link == p) {
            *link = p->next;
            return;
        }
    }
}

static void
ep_free_if_done(struct rt *rt, struct rt_endpoint *ep)
{
    if (!ep->removing || ep->pools != NULL)
        return;
    {
        struct rt_event ev = { ep->id, ep->remove_generation, RT_PHASE_REMOVED, NULL };

        rt->on_event(rt->ctx, &ev);
    }
    pthread_mutex_lock(&rt->lock);
    for (struct rt_endpoint **link = &rt->endpoints; *link != NULL; link = &(*link)->next) {
        if (*link == ep) {
            *link = ep->next;
            break;
        }
    }
    pthread_mutex_unlock(&rt->lock);
    free(ep);
}

void
rt_pool_destroy(struct rt_pool *p)
{
    rt_spec_release(&p->spec);
    free(p->spec_env);
    free(p);
}

/* Frees a draining or failed pool once no request and no process is left.
 * Returns true if it freed p (and maybe its endpoint). */
static bool
pool_free_if_done(struct rt *rt, struct rt_pool *p)
{
    struct rt_endpoint *ep = p->ep;
    bool busy = p->queue.len > 0;

    for (struct rt_proc *pr = rt->procs; pr != NULL; pr = pr->next) {
        if (pr->pool != p)
            continue;
        if (pr->in_flight > 0)
            busy = true;
        else if (pr->state != RT_PROC_STOPPING)
            rt_proc_stop(rt, pr);
    }
    /* A resolve in flight still points at p. */
    if (busy || p->resolving ||
        (p->state == RT_POOL_FAILED && p == ep->pools && !ep->removing))
        return false; /* the newest failed pool stays, so its status is explained */
    for (struct rt_proc *pr = rt->procs; pr != NULL; pr = pr->next)
        if (pr->pool == p)
            pr->pool = NULL; /* they exit on their own; nothing waits on them */
    unlink_pool(p);
    rt_pool_destroy(p);
    rt_counts_update(rt, ep);
    ep_free_if_done(rt, ep);
    return true;
}

/* ---- commands from the server ---- */

struct resolve_work {
    uv_work_t work;
    struct rt *rt;
    struct rt_pool *pool;
    char path[PATH_MAX];
    int rc;
    struct lf_err err;
};

static void
resolve_run(uv_work_t *w)
{
    struct resolve_work *r = w->data;

    r->rc = bl_location_resolve(&r->rt->bl, r->pool->spec.location, r->path, sizeof(r->path),
                                &r->err);
}

static void
resolve_done(uv_work_t *w, int status)
{
    struct resolve_work *r = w->data;
    struct rt_pool *p = r->pool;
    struct rt *rt = r->rt;

    p->resolving = false;
    if (p->state != RT_POOL_LOADING || rt->closing) {
        /* Deleted, replaced or shutting down meanwhile: nothing to start. */
    } else if (status != 0 || r->rc != LF_OK) {
        fail_pool(rt, p, status != 0 ? "cancelled" : r->err.msg);
    } else if (p->state == RT_POOL_LOADING) {
        char *path = strdup(r->path);

        if (path != NULL) {
            free(p->spec.location);
            p->spec.location = path;
        }
        p->spec_env = rt_spec_env(rt, &p->spec);
        if (p->spec_env == NULL) {
            fail_pool(rt, p, "out of memory");
        } else if (rt->opts.use_zygote) {
            p->zygote = rt_proc_spawn(rt, p, RT_PROC_ZYGOTE);
            if (p->zygote == NULL)
                fail_pool(rt, p, "cannot start a process");
            else
                rt_emit(rt, p, RT_PHASE_LOG, "loading the bundle in a zygote (pid %d)",
                        (int)p->zygote->pid);
        } else {
            p->mode_known = true;
            rt_emit(rt, p, RT_PHASE_LOG, "starting fresh workers (zygote disabled)");
        }
    }
    lf_err_release(&r->err);
    free(r);
    progress(rt, p);
}

static bool
same_text(const char *a, const char *b)
{
    return a == b || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* An update that keeps the bundle and per_worker and does not lower
 * max_workers changes the limits of the serving pool in place: no new
 * zygote, no reload, no second copy of the model. (Lowering max_workers
 * takes a new generation, whose READY drains the surplus without failing
 * a request.) Takes spec when it returns true. */
static bool
resize_in_place(struct rt *rt, struct rt_endpoint *ep, struct rt_endpoint_spec *spec)
{
    struct rt_pool *p = ep->pools;

    if (p == NULL || p->state != RT_POOL_READY || p->crash_loop ||
        strcmp(p->spec.bundle_id, spec->bundle_id) != 0 ||
        !same_text(p->spec.worker_json, spec->worker_json) ||
        p->spec.per_worker != spec->per_worker || spec->max_workers < p->spec.max_workers)
        return false;
    p->spec.generation = spec->generation;
    p->spec.min_workers = spec->min_workers;
    p->spec.max_workers = spec->max_workers;
    p->resizing = true;
    rt_spec_release(spec);
    rt_emit(rt, p, RT_PHASE_IN_PROGRESS, "same bundle and per_worker: resizing the running "
            "workers in place to min_workers=%d max_workers=%d", p->spec.min_workers,
            p->spec.max_workers);
    progress(rt, p);
    return true;
}

void
rt_pool_apply(struct rt *rt, struct rt_endpoint_spec *spec)
{
    struct rt_endpoint *ep = find_ep(rt, spec->endpoint_id);
    struct rt_pool *p = calloc(1, sizeof(*p));
    struct resolve_work *r;

    if (ep == NULL) {
        ep = calloc(1, sizeof(*ep));
        if (ep != NULL) {
            snprintf(ep->id, sizeof(ep->id), "%s", spec->endpoint_id);
            pthread_mutex_lock(&rt->lock);
            ep->next = rt->endpoints;
            rt->endpoints = ep;
            pthread_mutex_unlock(&rt->lock);
        }
    }
    if (ep == NULL || p == NULL) {
        free(p);
        rt_spec_release(spec);
        return;
    }
    if (!ep->removing && resize_in_place(rt, ep, spec)) {
        free(p);
        return;
    }
    ep->removing = false;
    p->ep = ep;
    p->spec = *spec;
    spec->worker_json = NULL;
    spec->location = NULL;
    p->state = RT_POOL_LOADING;
    p->next = ep->pools;
    ep->pools = p;
    rt_emit(rt, p, RT_PHASE_IN_PROGRESS, "deploying bundle %s: min_workers=%d max_workers=%d "
            "per_worker=%d", p->spec.bundle_id, p->spec.min_workers, p->spec.max_workers,
            p->spec.per_worker);
    if (p->spec.location == NULL || p->spec.location[0] == '\0') {
        fail_pool(rt, p, "this bundle has no artifact to run (runnable-image bundles are not "
                  "supported yet)");
        return;
    }
    r = calloc(1, sizeof(*r));
    if (r == NULL) {
        fail_pool(rt, p, "out of memory");
        return;
    }
    r->rt = rt;
    r->pool = p;
    r->work.data = r;
    p->resolving = true;
    if (uv_queue_work(&rt->loop, &r->work, resolve_run, resolve_done) != 0) {
        p->resolving = false;
        free(r);
        fail_pool(rt, p, "cannot start the deployment");
    }
}

void
rt_pool_remove(struct rt *rt, const char *endpoint_id, int64_t generation, bool drop_queued)
{
    struct rt_endpoint *ep = find_ep(rt, endpoint_id);

    if (ep == NULL) {
        struct rt_event ev = { endpoint_id, generation, RT_PHASE_REMOVED, NULL };

        rt->on_event(rt->ctx, &ev);
        return;
    }
    ep->removing = true;
    ep->remove_generation = generation;
    for (struct rt_pool *p = ep->pools; p != NULL; p = p->next) {
        struct rt_call *c;

        while (drop_queued && (c = queue_pop(&p->queue)) != NULL) {
            rt_call_answer(c, RT_NOT_FOUND, "The specified endpoint could not be found.", 0);
            call_free(c);
        }
        if (p->state != RT_POOL_FAILED)
            p->state = RT_POOL_DRAINING;
        if (p->zygote != NULL)
            rt_proc_stop(rt, p->zygote);
    }
    if (ep->pools == NULL)
        ep_free_if_done(rt, ep);
    else
        progress_ep(rt, ep);
}

void
rt_pool_predict(struct rt *rt, const char *endpoint_id, struct rt_call *c)
{
    struct rt_endpoint *ep = find_ep(rt, endpoint_id);
    struct rt_pool *p = ep && !ep->removing ? active_pool(ep) : NULL;

    if (p == NULL) {
        /* The server found the endpoint; the runtime not knowing it means it
         * is being deleted. */
        if (ep != NULL && !ep->removing)
            rt_call_answer(c, RT_UNAVAILABLE, "the endpoint cannot start its workers: see "
                           "its creation logs", 0);
        else
            rt_call_answer(c, RT_NOT_FOUND, "The specified endpoint could not be found.", 0);
        call_free(c);
        return;
    }
    if (!c->durable && p->queue.len >= rt->opts.queue_max) {
        rt_call_answer(c, RT_QUEUE_FULL, "Too many requests: the endpoint's queue is full", 0);
        call_free(c);
        return;
    }
    queue_push(&p->queue, c);
    progress(rt, p);
}

/* ---- events from processes ---- */

void
rt_pool_on_ready(struct rt *rt, struct rt_proc *pr, const char *payload)
{
    cJSON *o = cJSON_Parse(payload);
    int pid = (int)cJSON_GetNumberValue(cJSON_GetObjectItem(o, "pid"));
    int threads = (int)cJSON_GetNumberValue(cJSON_GetObjectItem(o, "threads"));
    struct rt_pool *p = pr->pool;

    cJSON_Delete(o);
    if (pr->pid == 0 && pid > 0) {
        pr->pid = pid;
        rt_proc_claim_exit(rt, pr);
    }
    if (pr->state != RT_PROC_STARTING)
        return;
    pr->state = RT_PROC_READY;
    pr->idle_since_ms = lf_mono_ms();
    if (p == NULL)
        return;
    if (pr->kind == RT_PROC_ZYGOTE) {
        p->mode_known = true;
        if (threads > 1) {
            rt_emit(rt, p, RT_PHASE_LOG, "the bundle started %d threads while loading: it is "
                    "not safe to fork, so workers start fresh", threads - 1);
            rt_proc_stop(rt, pr);
            p->zygote = NULL;
            p->fork_mode = false;
        } else {
            rt_emit(rt, p, RT_PHASE_LOG, "bundle loaded in %lld ms; workers fork from the "
                    "zygote", (long long)(lf_mono_ms() - pr->started_ms));
            p->fork_mode = true;
        }
    } else if (p->crash_loop) {
        p->crash_loop = false;
        if (p->state == RT_POOL_READY)
            rt_emit(rt, p, RT_PHASE_READY, "a worker is serving again after the crash loop");
    }
    progress(rt, p);
}

void
rt_pool_on_load_failed(struct rt *rt, struct rt_proc *pr, const char *payload)
{
    (void)rt;
    free(pr->load_error);
    pr->load_error = strdup(payload);
}

void
rt_pool_on_forked(struct rt *rt, struct rt_proc *pr, const char *payload)
{
    if (strstr(payload, "true") == NULL && pr->pool != NULL)
        rt_emit(rt, pr->pool, RT_PHASE_LOG, "the zygote could not fork a worker");
}

void
rt_pool_on_result(struct rt *rt, struct rt_proc *pr, const struct rt_frame_hdr *h,
                  const char *payload)
{
    struct rt_call **link = &pr->calls, *c = NULL;

    for (; *link != NULL; link = &(*link)->next) {
        if ((*link)->id == h->id) {
            c = *link;
            *link = c->next;
            break;
        }
    }
    if (c == NULL)
        return;
    pr->in_flight--;
    if (pr->in_flight == 0)
        pr->idle_since_ms = lf_mono_ms();
    if (h->flags == RT_FL_OK) {
        rt_call_answer(c, RT_OK, payload, h->len);
    } else if (h->flags == RT_FL_BAD_REQUEST) {
        char detail[1024];

        snprintf(detail, sizeof(detail), "Invalid request: %s", payload);
        rt_call_answer(c, RT_BAD_REQUEST, detail, 0);
    } else {
        rt_call_answer(c, RT_FAILED, payload, h->len);
    }
    call_free(c);
    if (pr->pool != NULL)
        progress(rt, pr->pool);
}

void
rt_pool_on_exit(struct rt *rt, struct rt_proc *pr)
{
    struct rt_pool *p = pr->pool;
    char what[RT_EXIT_TEXT_BYTES];
    struct rt_call *c;

    rt_exit_text(pr, what, sizeof(what));
    while ((c = pr->calls) != NULL) {
        pr->calls = c->next;
        if (!c->answered)
            rt_call_answer(c, RT_WORKER_LOST, what, 0);
        call_free(c);
    }
    pr->in_flight = 0;
    if (p == NULL)
        return;
    if (p->zygote == pr)
        p->zygote = NULL;
    if (pr->load_error != NULL && p->state == RT_POOL_LOADING) {
        fail_pool(rt, p, pr->load_error);
    } else if (!pr->stop_requested && p->state != RT_POOL_FAILED) {
        char line[RT_EXIT_TEXT_BYTES + 64];

        snprintf(line, sizeof(line), "%s pid %d %s", pr->kind == RT_PROC_ZYGOTE ? "zygote"
                 : "worker", (int)pr->pid, what + strlen("worker "));
        rt_pool_count_crash(rt, p, line);
    }
    progress(rt, p);
}

/* ---- the periodic tick ---- */

static void
expire_calls(struct rt *rt, struct rt_pool *p, int64_t now)
{
    struct rt_call **link = &p->queue.head, *prev = NULL;

    while (*link != NULL) {
        struct rt_call *c = *link;

        if (c->deadline_ms > now) {
            prev = c;
            link = &c->next;
            continue;
        }
        *link = c->next;
        if (p->queue.tail == c)
            p->queue.tail = prev;
        p->queue.len--;
        rt_call_answer(c, RT_QUEUE_TIMEOUT, "Request timed out.", 0);
        call_free(c);
    }
    (void)rt;
}

void
rt_pool_tick(struct rt *rt)
{
    int64_t now = lf_mono_ms();
    int64_t start_limit_ms = (int64_t)rt->opts.worker_start_timeout_s * 1000;
    int64_t idle_ms = (int64_t)rt->opts.scale_down_idle_s * 1000;

    for (struct rt_proc *pr = rt->procs; pr != NULL; pr = pr->next) {
        for (struct rt_call *c = pr->calls; c != NULL; c = c->next)
            if (!c->answered && c->run_deadline_ms <= now)
                rt_call_answer(c, RT_RUN_TIMEOUT, "Request timed out.", 0);
        if (pr->state == RT_PROC_STARTING && now - pr->started_ms > start_limit_ms) {
            free(pr->load_error);
            pr->load_error = strdup("timed out loading the bundle");
            rt_proc_kill(pr);
        } else if (pr->state == RT_PROC_STOPPING && now - pr->stop_ms > STOP_GRACE_MS) {
            rt_proc_kill(pr);
        }
    }
    rt_proc_reap_finished(rt, 1000);
    for (struct rt_endpoint *ep = rt->endpoints, *next; ep != NULL; ep = next) {
        next = ep->next;
        for (struct rt_pool *p = ep->pools; p != NULL; p = p->next) {
            int starting, ready, in_flight, surplus;

            expire_calls(rt, p, now);
            tally(rt, p, &starting, &ready, &in_flight);
            surplus = starting + ready - desired_workers(p, in_flight);
            for (struct rt_proc *pr = rt->procs; pr != NULL && surplus > 0; pr = pr->next) {
                if (pr->pool == p && pr->kind == RT_PROC_WORKER &&
                    pr->state == RT_PROC_READY && pr->in_flight == 0 &&
                    now - pr->idle_since_ms >= idle_ms) {
                    rt_proc_stop(rt, pr);
                    surplus--;
                }
            }
        }
        progress_ep(rt, ep);
    }
}

void
rt_pool_shutdown(struct rt *rt)
{
    for (struct rt_endpoint *ep = rt->endpoints; ep != NULL; ep = ep->next) {
        for (struct rt_pool *p = ep->pools; p != NULL; p = p->next) {
            struct rt_call *c;

            while ((c = queue_pop(&p->queue)) != NULL) {
                rt_call_answer(c, RT_UNAVAILABLE, "the server is shutting down", 0);
                call_free(c);
            }
        }
    }
    for (struct rt_proc *pr = rt->procs; pr != NULL; pr = pr->next)
        for (struct rt_call *c = pr->calls; c != NULL; c = c->next)
            if (!c->answered)
                rt_call_answer(c, RT_UNAVAILABLE, "the server is shutting down", 0);
}
