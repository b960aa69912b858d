/* Callback delivery (spec 7): a few threads (callback_threads) POST the
 * deliveries the store holds (queued in the same transaction that ended
 * their task, so they survive a crash), up to CALLBACK_ATTEMPTS times with
 * growing pauses, until a 2xx. Each thread claims one delivery at a time in
 * the store, so a slow or silent receiver holds one thread, not all of
 * them. Delivery never changes a task. */
#include "srv_int.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lf_log.h"
#include "lf_util.h"
#include "srv_callback_post.h"

#define CALLBACK_ATTEMPTS 3
#define CALLBACK_IDLE_WAIT_MS 5000
/* Pause before attempt 2, 3, ...: 1 s, then 3 s. */
static const int64_t backoff_ms[CALLBACK_ATTEMPTS] = { 0, 1000, 3000 };

struct srv_callbacks {
    struct srv *srv;
    pthread_t *threads;
    int n_threads;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    uint64_t kicks; /* lock: bumped by each kick, so no kick is missed */
    bool stopping;  /* lock */
};

enum attempt { DELIVERED, RETRY, GIVE_UP };

/* One attempt. A bad URL or auth fails the same way every time: give up. */
static enum attempt
deliver(struct srv_callbacks *c, const struct srv_cb_rec *d)
{
    const struct cfg *cfg = &c->srv->cfg;
    struct srv_cb_auth auth = { .kind = SRV_CB_AUTH_NONE };
    cJSON *auth_json = d->auth ? cJSON_Parse(d->auth) : NULL;
    struct lf_err err = { 0 };
    long status = 0;
    int rc = srv_cb_auth_from_json(auth_json, &auth, &err);

    if (rc == LF_OK)
        rc = srv_callback_post(d->url, d->body, &auth, cfg->callback_ca_file,
                               (long)cfg->callback_timeout_s * 1000, &status, &err);
    cJSON_Delete(auth_json);
    if (rc == LF_OK && status >= 200 && status < 300) {
        lf_log(LF_LOG_INFO, "callback", "task=%s status=%ld attempt=%d", d->task_id, status,
               d->attempts + 1);
        return DELIVERED;
    }
    if (rc == LF_OK)
        lf_log(LF_LOG_WARN, "callback", "task=%s attempt=%d answered status=%ld", d->task_id,
               d->attempts + 1, status);
    else
        lf_log(LF_LOG_WARN, "callback", "task=%s attempt=%d failed: %s", d->task_id,
               d->attempts + 1, err.msg);
    return rc == LF_EINVAL ? GIVE_UP : RETRY;
}

/* Claims and attempts one due delivery; false when none was due (then
 * *next_us says when the next one is, 0: none). */
static bool
run_one(struct srv_callbacks *c, int64_t *next_us)
{
    struct srv_store *st = c->srv->store;
    struct srv_cb_rec d;
    struct lf_err err = { 0 };
    enum attempt result;
    bool got;
    int attempts;

    if (srv_store_cb_claim(st, lf_now_us(), &d, &got, next_us, &err) != LF_OK) {
        lf_log(LF_LOG_ERR, "callback", "cannot read deliveries: %s", err.msg);
        *next_us = lf_now_us() + (int64_t)CALLBACK_IDLE_WAIT_MS * 1000;
        return false;
    }
    if (!got)
        return false;
    attempts = d.attempts + 1;
    result = deliver(c, &d);
    if (result != RETRY || attempts >= CALLBACK_ATTEMPTS) {
        if (result != DELIVERED)
            lf_log(LF_LOG_WARN, "callback", "task=%s given up after %d attempts", d.task_id,
                   attempts);
        srv_store_cb_done(st, d.id, NULL);
    } else {
        /* This thread claims again next, so it sees the new due time. */
        srv_store_cb_retry(st, d.id, attempts, lf_now_us() + backoff_ms[attempts] * 1000, NULL);
    }
    srv_cb_rec_release(&d);
    return true;
}

static void *
thread_main(void *arg)
{
    struct srv_callbacks *c = arg;

    for (;;) {
        int64_t next_us = 0, wait_us;
        uint64_t seen;
        struct timespec ts;

        pthread_mutex_lock(&c->lock);
        seen = c->kicks;
        if (c->stopping) {
            pthread_mutex_unlock(&c->lock);
            return NULL;
        }
        pthread_mutex_unlock(&c->lock);
        if (run_one(c, &next_us))
            continue;
        pthread_mutex_lock(&c->lock);
        wait_us = next_us ? next_us - lf_now_us() : (int64_t)CALLBACK_IDLE_WAIT_MS * 1000;
        if (c->kicks == seen && !c->stopping && wait_us > 0) {
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_sec += wait_us / 1000000;
            ts.tv_nsec += (wait_us % 1000000) * 1000;
            if (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&c->wake, &c->lock, &ts);
        }
        pthread_mutex_unlock(&c->lock);
    }
}

static void
stop_threads(struct srv_callbacks *c)
{
    pthread_mutex_lock(&c->lock);
    c->stopping = true;
    pthread_cond_broadcast(&c->wake);
    pthread_mutex_unlock(&c->lock);
    for (int i = 0; i < c->n_threads; i++)
        pthread_join(c->threads[i], NULL);
    c->n_threads = 0;
}

int
srv_callbacks_new(struct srv *s, struct srv_callbacks **out, struct lf_err *err)
{
    struct srv_callbacks *c = calloc(1, sizeof(*c));
    int want = s->cfg.callback_threads, unclaimed = 0, rc;

    if (c == NULL || (c->threads = calloc((size_t)want, sizeof(pthread_t))) == NULL) {
        free(c);
        return lf_err_set(err, LF_ENOMEM, "out of memory");
    }
    c->srv = s;
    pthread_mutex_init(&c->lock, NULL);
    pthread_cond_init(&c->wake, NULL);
    /* Attempts cut short by the last exit are due again at once. */
    rc = srv_store_cb_unclaim_all(s->store, lf_now_us(), &unclaimed, err);
    if (rc != LF_OK) {
        srv_callbacks_free(c);
        return rc;
    }
    if (unclaimed > 0)
        lf_log(LF_LOG_INFO, "callback", "%d deliveries were in flight at the last exit; "
               "sending them again", unclaimed);
    for (; c->n_threads < want; c->n_threads++) {
        if (pthread_create(&c->threads[c->n_threads], NULL, thread_main, c) != 0) {
            srv_callbacks_free(c);
            return lf_err_set(err, LF_EIO, "cannot start the callback threads");
        }
    }
    *out = c;
    return LF_OK;
}

void
srv_callbacks_kick(struct srv_callbacks *c)
{
    pthread_mutex_lock(&c->lock);
    c->kicks++;
    pthread_cond_broadcast(&c->wake);
    pthread_mutex_unlock(&c->lock);
}

void
srv_callbacks_free(struct srv_callbacks *c)
{
    if (c == NULL)
        return;
    stop_threads(c);
    pthread_cond_destroy(&c->wake);
    pthread_mutex_destroy(&c->lock);
    free(c->threads);
    free(c);
}
