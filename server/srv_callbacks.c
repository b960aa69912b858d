/* Callback delivery (spec 7): one thread that POSTs the deliveries the
 * store holds (queued in the same transaction that ended their task, so
 * they survive a crash), up to CALLBACK_ATTEMPTS times with growing pauses,
 * until a 2xx. Delivery never changes a task. */
#include "srv_int.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lf_log.h"
#include "lf_util.h"
#include "srv_callback_post.h"

#define CALLBACK_ATTEMPTS 3
#define CALLBACK_BATCH 32
#define CALLBACK_IDLE_WAIT_MS 5000
/* Pause before attempt 2, 3, ...: 1 s, then 3 s. */
static const int64_t backoff_ms[CALLBACK_ATTEMPTS] = { 0, 1000, 3000 };

struct srv_callbacks {
    struct srv *srv;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    bool kicked;   /* lock */
    bool stopping; /* lock */
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

/* Delivers what is due; returns when the next one is due (0: none). */
static int64_t
run_due(struct srv_callbacks *c)
{
    struct srv_store *st = c->srv->store;
    struct srv_cb_rec *due = NULL;
    struct lf_err err = { 0 };
    int64_t next_us = 0;
    size_t n = 0;

    if (srv_store_cb_due(st, lf_now_us(), CALLBACK_BATCH, &due, &n, &next_us, &err) != LF_OK) {
        lf_log(LF_LOG_ERR, "callback", "cannot read deliveries: %s", err.msg);
        return lf_now_us() + (int64_t)CALLBACK_IDLE_WAIT_MS * 1000;
    }
    for (size_t i = 0; i < n; i++) {
        int attempts = due[i].attempts + 1;

        enum attempt result = deliver(c, &due[i]);

        if (result != RETRY || attempts >= CALLBACK_ATTEMPTS) {
            if (result != DELIVERED)
                lf_log(LF_LOG_WARN, "callback", "task=%s given up after %d attempts",
                       due[i].task_id, attempts);
            srv_store_cb_done(st, due[i].id, NULL);
        } else {
            int64_t at = lf_now_us() + backoff_ms[attempts] * 1000;

            srv_store_cb_retry(st, due[i].id, attempts, at, NULL);
            if (next_us == 0 || at < next_us)
                next_us = at;
        }
        srv_cb_rec_release(&due[i]);
    }
    free(due);
    /* A full batch may have more behind it. */
    return n == CALLBACK_BATCH ? lf_now_us() : next_us;
}

static void *
thread_main(void *arg)
{
    struct srv_callbacks *c = arg;

    for (;;) {
        int64_t next_us = run_due(c), wait_us;
        struct timespec ts;

        pthread_mutex_lock(&c->lock);
        wait_us = next_us ? next_us - lf_now_us() : (int64_t)CALLBACK_IDLE_WAIT_MS * 1000;
        if (!c->kicked && !c->stopping && wait_us > 0) {
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_sec += wait_us / 1000000;
            ts.tv_nsec += (wait_us % 1000000) * 1000;
            if (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&c->wake, &c->lock, &ts);
        }
        c->kicked = false;
        if (c->stopping) {
            pthread_mutex_unlock(&c->lock);
            return NULL;
        }
        pthread_mutex_unlock(&c->lock);
    }
}

int
srv_callbacks_new(struct srv *s, struct srv_callbacks **out, struct lf_err *err)
{
    struct srv_callbacks *c = calloc(1, sizeof(*c));

    if (c == NULL)
        return lf_err_set(err, LF_ENOMEM, "out of memory");
    c->srv = s;
    pthread_mutex_init(&c->lock, NULL);
    pthread_cond_init(&c->wake, NULL);
    if (pthread_create(&c->thread, NULL, thread_main, c) != 0) {
        pthread_cond_destroy(&c->wake);
        pthread_mutex_destroy(&c->lock);
        free(c);
        return lf_err_set(err, LF_EIO, "cannot start the callback thread");
    }
    *out = c;
    return LF_OK;
}

void
srv_callbacks_kick(struct srv_callbacks *c)
{
    pthread_mutex_lock(&c->lock);
    c->kicked = true;
    pthread_cond_signal(&c->wake);
    pthread_mutex_unlock(&c->lock);
}

void
srv_callbacks_free(struct srv_callbacks *c)
{
    if (c == NULL)
        return;
    pthread_mutex_lock(&c->lock);
    c->stopping = true;
    pthread_cond_signal(&c->wake);
    pthread_mutex_unlock(&c->lock);
    pthread_join(c->thread, NULL);
    pthread_cond_destroy(&c->wake);
    pthread_mutex_destroy(&c->lock);
    free(c);
}
