/* The store's async tasks and callback deliveries; see srv_store.h. A task
 * row is written (and committed) before its id is answered; ending tasks
 * is batched into one transaction per wake-up of the writer, with their
 * callbacks queued in the same transaction. */
#include "srv_store.h"
#include "srv_store_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TASK_COLUMNS "id, endpoint_id, state, owner, request, result, traceback, " \
                     "callback_url, callback_auth, attempts, created_us, " \
                     "coalesce(finished_us, 0), coalesce(batch_id, ''), coalesce(batch_row, 0), " \
                     "batch_key"

static char *
dup_col(sqlite3_stmt *s, int i)
{
    const unsigned char *t = sqlite3_column_text(s, i);

    return t ? strdup((const char *)t) : NULL;
}

void
srv_task_rec_release(struct srv_task_rec *t)
{
    if (t == NULL)
        return;
    free(t->owner);
    free(t->request);
    free(t->result);
    free(t->traceback);
    free(t->callback_url);
    free(t->callback_auth);
    free(t->batch_key);
    t->owner = t->request = t->result = t->traceback = NULL;
    t->callback_url = t->callback_auth = t->batch_key = NULL;
}

static int
task_from_row(sqlite3_stmt *s, struct srv_task_rec *t, struct lf_err *err)
{
    memset(t, 0, sizeof(*t));
    snprintf(t->id, sizeof(t->id), "%s", (const char *)sqlite3_column_text(s, 0));
    snprintf(t->endpoint_id, sizeof(t->endpoint_id), "%s",
             (const char *)sqlite3_column_text(s, 1));
    snprintf(t->state, sizeof(t->state), "%s", (const char *)sqlite3_column_text(s, 2));
    t->owner = dup_col(s, 3);
    t->request = dup_col(s, 4);
    t->result = dup_col(s, 5);
    t->traceback = dup_col(s, 6);
    t->callback_url = dup_col(s, 7);
    t->callback_auth = dup_col(s, 8);
    t->attempts = sqlite3_column_int(s, 9);
    t->created_us = sqlite3_column_int64(s, 10);
    t->finished_us = sqlite3_column_int64(s, 11);
    snprintf(t->batch_id, sizeof(t->batch_id), "%s", (const char *)sqlite3_column_text(s, 12));
    t->batch_row = sqlite3_column_int64(s, 13);
    t->batch_key = dup_col(s, 14);
    if (t->owner == NULL || t->request == NULL) {
        srv_task_rec_release(t);
        return lf_err_set(err, LF_ENOMEM, "out of memory");
    }
    return LF_OK;
}

struct task_list {
    struct srv_task_rec *recs;
    size_t n, cap;
};

static int
row_task_append(sqlite3_stmt *s, void *ctx, struct lf_err *err)
{
    struct task_list *l = ctx;

    if (srv_store_reserve((void **)&l->recs, &l->cap, l->n, sizeof(*l->recs), err) != LF_OK)
        return LF_ENOMEM;
    if (task_from_row(s, &l->recs[l->n], err) != LF_OK)
        return LF_ENOMEM;
    l->n++;
    return LF_OK;
}

static void
tasks_free(struct srv_task_rec *recs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        srv_task_rec_release(&recs[i]);
    free(recs);
}

int
srv_store_task_get(struct srv_store *st, const char *id, struct srv_task_rec *out,
                   struct lf_err *err)
{
    struct task_list l = { NULL, 0, 0 };
    int rc;

    pthread_mutex_lock(&st->lock);
    rc = srv_store_run(st, "SELECT " TASK_COLUMNS " FROM tasks WHERE id = ?", row_task_append,
                       &l, NULL, err, "s", id);
    pthread_mutex_unlock(&st->lock);
    if (rc == LF_OK && l.n == 0)
        rc = lf_err_set(err, LF_ENOENT, "task '%s' not found", id);
    if (rc == LF_OK) {
        *out = l.recs[0];
        l.n = 0;
    }
    tasks_free(l.recs, l.n);
    return rc;
}

int
srv_store_tasks_pending(struct srv_store *st, struct srv_task_rec **out, size_t *n,
                        struct lf_err *err)
{
    struct task_list l = { NULL, 0, 0 };
    int rc;

    pthread_mutex_lock(&st->lock);
    rc = srv_store_run(st, "SELECT " TASK_COLUMNS " FROM tasks WHERE state = 'PENDING'"
                       " ORDER BY created_us", row_task_append, &l, NULL, err, "");
    pthread_mutex_unlock(&st->lock);
    if (rc != LF_OK) {
        tasks_free(l.recs, l.n);
        return rc;
    }
    *out = l.recs;
    *n = l.n;
    return LF_OK;
}

int
srv_store_tasks_write(struct srv_store *st, const struct srv_task_rec *const *rows, size_t n_new,
                      const struct srv_task_end *ends, size_t n_end, int64_t now_us,
                      struct lf_err *err)
{
    int rc;

    pthread_mutex_lock(&st->lock);
    rc = srv_store_exec(st, "BEGIN IMMEDIATE", err);
    for (size_t i = 0; rc == LF_OK && i < n_new; i++) {
        const struct srv_task_rec *t = rows[i];

        rc = srv_store_run(st, "INSERT INTO tasks (id, owner, endpoint_id, state, request,"
                           " attempts, created_us, callback_url, callback_auth)"
                           " VALUES (?,?,?,'PENDING',?,?,?,?,?)", NULL, NULL, NULL, err,
                           "ssssiiss", t->id, t->owner, t->endpoint_id, t->request,
                           (int64_t)t->attempts, t->created_us, t->callback_url,
                           t->callback_auth);
    }
    for (size_t i = 0; rc == LF_OK && i < n_end; i++) {
        const struct srv_task_end *e = &ends[i];

        rc = srv_store_run(st, "UPDATE tasks SET state = ?, result = ?, traceback = ?,"
                           " attempts = ?, finished_us = ? WHERE id = ?", NULL, NULL, NULL, err,
                           "sssiis", e->state, e->result, e->traceback, (int64_t)e->attempts,
                           now_us, e->id);
        if (rc == LF_OK && e->callback_url != NULL)
            rc = srv_store_run(st, "INSERT INTO callbacks (task_id, url, auth, body, next_us)"
                               " VALUES (?,?,?,?,?)", NULL, NULL, NULL, err, "ssssi", e->id,
                               e->callback_url, e->callback_auth, e->callback_body, now_us);
    }
    if (rc == LF_OK)
        rc = srv_store_exec(st, "COMMIT", err);
    else
        srv_store_exec(st, "ROLLBACK", NULL);
    pthread_mutex_unlock(&st->lock);
    return rc;
}

int
srv_store_tasks_purge(struct srv_store *st, int64_t before_us, int *deleted, struct lf_err *err)
{
    int rc;

    pthread_mutex_lock(&st->lock);
    rc = srv_store_run(st, "DELETE FROM tasks WHERE finished_us IS NOT NULL AND finished_us < ?"
                       " AND batch_id IS NULL",
                       NULL, NULL, deleted, err, "i", before_us);
    pthread_mutex_unlock(&st->lock);
    return rc;
}

/* ---- callbacks ---- */

void
srv_cb_rec_release(struct srv_cb_rec *c)
{
    if (c == NULL)
        return;
    free(c->task_id);
    free(c->url);
    free(c->auth);
    free(c->body);
    c->task_id = c->url = c->auth = c->body = NULL;
}

/* Fills the srv_cb_rec at ctx from the one row a claim returns. */
static int
row_cb(sqlite3_stmt *s, void *ctx, struct lf_err *err)
{
    struct srv_cb_rec *c = ctx;

    c->id = sqlite3_column_int64(s, 0);
    c->task_id = dup_col(s, 1);
    c->url = dup_col(s, 2);
    c->auth = dup_col(s, 3);
    c->body = dup_col(s, 4);
    c->attempts = sqlite3_column_int(s, 5);
    if (c->task_id == NULL || c->url == NULL || c->body == NULL) {
        srv_cb_rec_release(c);
        return lf_err_set(err, LF_ENOMEM, "out of memory");
    }
    return LF_OK;
}

int
srv_store_cb_claim(struct srv_store *st, int64_t now_us, struct srv_cb_rec *out, bool *got,
                   int64_t *next_us, struct lf_err *err)
{
    int claimed = 0, rc;

    memset(out, 0, sizeof(*out));
    *got = false;
    *next_us = 0;
    pthread_mutex_lock(&st->lock);
    rc = srv_store_run(st, "UPDATE callbacks SET next_us = ? WHERE id = (SELECT id FROM callbacks"
                       " WHERE next_us <= ? ORDER BY next_us, id LIMIT 1)"
                       " RETURNING id, task_id, url, auth, body, attempts", row_cb, out,
                       &claimed, err, "ii", SRV_CB_CLAIMED_US, now_us);
    if (rc == LF_OK)
        rc = srv_store_run(st, "SELECT coalesce(min(next_us), 0) FROM callbacks"
                           " WHERE next_us > ? AND next_us < ?", srv_store_row_int, next_us,
                           NULL, err, "ii", now_us, SRV_CB_CLAIMED_US);
    pthread_mutex_unlock(&st->lock);
    if (rc != LF_OK) {
        srv_cb_rec_release(out);
        return rc;
    }
    *got = claimed == 1;
    return LF_OK;
}

int
srv_store_cb_unclaim_all(struct srv_store *st, int64_t now_us, int *n, struct lf_err *err)
{
    int rc;

    pthread_mutex_lock(&st->lock);
    rc = srv_store_run(st, "UPDATE callbacks SET next_us = ? WHERE next_us = ?", NULL, NULL, n,
                       err, "ii", now_us, SRV_CB_CLAIMED_US);
    pthread_mutex_unlock(&st->lock);
    return rc;
}

int
srv_store_cb_done(struct srv_store *st, int64_t id, struct lf_err *err)
{
    int rc;

    pthread_mutex_lock(&st->lock);
    rc = srv_store_run(st, "DELETE FROM callbacks WHERE id = ?", NULL, NULL, NULL, err, "i", id);
    pthread_mutex_unlock(&st->lock);
    return rc;
}

int
srv_store_cb_retry(struct srv_store *st, int64_t id, int attempts, int64_t next_us,
                   struct lf_err *err)
{
    int rc;

    pthread_mutex_lock(&st->lock);
    rc = srv_store_run(st, "UPDATE callbacks SET attempts = ?, next_us = ? WHERE id = ?", NULL,
                       NULL, NULL, err, "iii", (int64_t)attempts, next_us, id);
    pthread_mutex_unlock(&st->lock);
    return rc;
}
