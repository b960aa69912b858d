/* The store's batch jobs; see srv_store.h. A job's rows are task rows with
 * its id, so they run, end and recover like any async task. */
#include "srv_store.h"
#include "srv_store_int.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lf_util.h"

#define BATCH_COLUMNS "id, status, owner, doc, error, created_us, coalesce(finished_us, 0), " \
                      "coalesce(total, -1), coalesce(completed, -1)"
#define FINAL_STATUSES "('SUCCESS', 'FAILURE', 'CANCELLED')"

void
srv_batch_rec_release(struct srv_batch_rec *b)
{
    if (b == NULL)
        return;
    free(b->owner);
    free(b->error);
    cJSON_Delete(b->doc);
    b->owner = b->error = NULL;
    b->doc = NULL;
}

struct batch_list {
    struct srv_batch_rec *recs;
    size_t n, cap;
};

static int
row_batch_append(sqlite3_stmt *s, void *ctx, struct lf_err *err)
{
    struct batch_list *l = ctx;
    struct srv_batch_rec *b;
    const unsigned char *e;

    if (srv_store_reserve((void **)&l->recs, &l->cap, l->n, sizeof(*l->recs), err) != LF_OK)
        return LF_ENOMEM;
    b = &l->recs[l->n];
    memset(b, 0, sizeof(*b));
    snprintf(b->id, sizeof(b->id), "%s", (const char *)sqlite3_column_text(s, 0));
    snprintf(b->status, sizeof(b->status), "%s", (const char *)sqlite3_column_text(s, 1));
    b->owner = strdup((const char *)sqlite3_column_text(s, 2));
    b->doc = cJSON_Parse((const char *)sqlite3_column_text(s, 3));
    e = sqlite3_column_text(s, 4);
    b->error = e ? strdup((const char *)e) : NULL;
    b->created_us = sqlite3_column_int64(s, 5);
    b->finished_us = sqlite3_column_int64(s, 6);
    b->total = sqlite3_column_int64(s, 7);
    b->completed = sqlite3_column_int64(s, 8);
    if (b->owner == NULL || b->doc == NULL) {
        srv_batch_rec_release(b);
        return lf_err_set(err, LF_EIO, "store: batch job '%s' is unreadable", b->id);
    }
    l->n++;
    return LF_OK;
}

static void
batch_list_free(struct batch_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        srv_batch_rec_release(&l->recs[i]);
    free(l->recs);
}

int
srv_store_batch_insert(struct srv_store *st, const struct srv_batch_rec *b, struct lf_err *err)
{
    char *doc = cJSON_PrintUnformatted(b->doc);
    int rc;

    if (doc == NULL)
        return lf_err_set(err, LF_ENOMEM, "out of memory");
    pthread_mutex_lock(&st->lock);
    rc = srv_store_run(st, "INSERT INTO batch_jobs (id, owner, status, created_us, doc)"
                       " VALUES (?,?,'PENDING',?,?)", NULL, NULL, NULL, err, "ssis", b->id,
                       b->owner, b->created_us, doc);
    pthread_mutex_unlock(&st->lock);
    cJSON_free(doc);
    return rc;
}

int
srv_store_batch_get(struct srv_store *st, const char *owner, const char *id,
                    struct srv_batch_rec *out, struct lf_err *err)
{
    struct batch_list l = { NULL, 0, 0 };
    int rc;

    pthread_mutex_lock(&st->lock);
    if (owner != NULL)
        rc = srv_store_run(st, "SELECT " BATCH_COLUMNS " FROM batch_jobs WHERE id = ? AND owner = ?",
                           row_batch_append, &l, NULL, err, "ss", id, owner);
    else
        rc = srv_store_run(st, "SELECT " BATCH_COLUMNS " FROM batch_jobs WHERE id = ?",
                           row_batch_append, &l, NULL, err, "s", id);
    pthread_mutex_unlock(&st->lock);
    if (rc == LF_OK && l.n == 0)
        rc = lf_err_set(err, LF_ENOENT, "batch job '%s' not found", id);
    if (rc == LF_OK) {
        *out = l.recs[0];
        l.n = 0;
    }
    batch_list_free(&l);
    return rc;
}

int
srv_store_batch_list(struct srv_store *st, const char *status, struct srv_batch_rec **out,
                     size_t *n, struct lf_err *err)
{
    struct batch_list l = { NULL, 0, 0 };
    int rc;

    pthread_mutex_lock(&st->lock);
    rc = srv_store_run(st, "SELECT " BATCH_COLUMNS " FROM batch_jobs WHERE status = ?"
                       " ORDER BY created_us", row_batch_append, &l, NULL, err, "s", status);
    pthread_mutex_unlock(&st->lock);
    if (rc != LF_OK) {
        batch_list_free(&l);
        return rc;
    }
    *out = l.recs;
    *n = l.n;
    return LF_OK;
}

int
srv_store_batch_start(struct srv_store *st, const char *id, const struct srv_task_rec *rows,
                      size_t n, struct lf_err *err)
{
    int changes = 0, rc;

    pthread_mutex_lock(&st->lock);
    rc = srv_store_exec(st, "BEGIN IMMEDIATE", err);
    for (size_t i = 0; rc == LF_OK && i < n; i++) {
        const struct srv_task_rec *t = &rows[i];

        rc = srv_store_run(st, "INSERT INTO tasks (id, owner, endpoint_id, state, request,"
                           " created_us, batch_id, batch_row, batch_key)"
                           " VALUES (?,?,?,'PENDING',?,?,?,?,?)", NULL, NULL, NULL, err,
                           "ssssisis", t->id, t->owner, t->endpoint_id, t->request, t->created_us,
                           id, t->batch_row, t->batch_key);
    }
    if (rc == LF_OK)
        rc = srv_store_run(st, "UPDATE batch_jobs SET status = 'RUNNING', total = ?, completed = 0"
                           " WHERE id = ? AND status = 'PENDING'", NULL, NULL, &changes, err, "is",
                           (int64_t)n, id);
    if (rc == LF_OK && changes != 1)
        rc = lf_err_set(err, LF_ENOENT, "batch job '%s' is no longer pending", id);
    if (rc == LF_OK)
        rc = srv_store_exec(st, "COMMIT", err);
    else
        srv_store_exec(st, "ROLLBACK", NULL);
    pthread_mutex_unlock(&st->lock);
    return rc;
}

int
srv_store_batch_set(struct srv_store *st, const char *id, const char *status, const char *error,
                    int64_t completed, struct lf_err *err)
{
    bool final = strcmp(status, "RUNNING") != 0 && strcmp(status, "PENDING") != 0;
    int rc;

    pthread_mutex_lock(&st->lock);
    if (final)
        rc = srv_store_run(st, "UPDATE batch_jobs SET status = ?, error = ?, finished_us = ?,"
                           " completed = ? WHERE id = ? AND status NOT IN " FINAL_STATUSES,
                           NULL, NULL, NULL, err, "ssiis", status, error, lf_now_us(), completed,
                           id);
    else
        rc = srv_store_run(st, "UPDATE batch_jobs SET status = ? WHERE id = ?", NULL, NULL, NULL,
                           err, "ss", status, id);
    pthread_mutex_unlock(&st->lock);
    return rc;
}

int
srv_store_batch_counts(struct srv_store *st, const char *id, int64_t *pending, int64_t *done,
                       struct lf_err *err)
{
    int rc;

    pthread_mutex_lock(&st->lock);
    rc = srv_store_run(st, "SELECT count(*) FROM tasks WHERE batch_id = ? AND state = 'PENDING'",
                       srv_store_row_int, pending, NULL, err, "s", id);
    if (rc == LF_OK)
        rc = srv_store_run(st, "SELECT count(*) FROM tasks WHERE batch_id = ?"
                           " AND state != 'PENDING'", srv_store_row_int, done, NULL, err, "s", id);
    pthread_mutex_unlock(&st->lock);
    return rc;
}

struct rows_ctx {
    int (*fn)(const struct srv_task_rec *t, void *ctx);
    void *ctx;
};

static int
row_each(sqlite3_stmt *s, void *ctx, struct lf_err *err)
{
    struct rows_ctx *r = ctx;
    struct srv_task_rec t;
    int rc;

    memset(&t, 0, sizeof(t));
    snprintf(t.id, sizeof(t.id), "%s", (const char *)sqlite3_column_text(s, 0));
    snprintf(t.state, sizeof(t.state), "%s", (const char *)sqlite3_column_text(s, 1));
    t.result = (char *)sqlite3_column_text(s, 2);     /* borrowed for the call */
    t.traceback = (char *)sqlite3_column_text(s, 3);
    t.batch_key = (char *)sqlite3_column_text(s, 4);
    rc = r->fn(&t, r->ctx);
    if (rc != LF_OK)
        return lf_err_set(err, rc, "cannot write the batch result");
    return LF_OK;
}

int
srv_store_batch_rows(struct srv_store *st, const char *id,
                     int (*fn)(const struct srv_task_rec *t, void *ctx), void *ctx,
                     struct lf_err *err)
{
    struct rows_ctx r = { fn, ctx };
    int rc;

    pthread_mutex_lock(&st->lock);
    rc = srv_store_run(st, "SELECT id, state, result, traceback, batch_key FROM tasks"
                       " WHERE batch_id = ? ORDER BY batch_row", row_each, &r, NULL, err, "s", id);
    pthread_mutex_unlock(&st->lock);
    return rc;
}

int
srv_store_batch_drop_rows(struct srv_store *st, const char *id, struct lf_err *err)
{
    int rc;

    pthread_mutex_lock(&st->lock);
    rc = srv_store_run(st, "DELETE FROM tasks WHERE batch_id = ?", NULL, NULL, NULL, err, "s", id);
    pthread_mutex_unlock(&st->lock);
    return rc;
}

int
srv_store_batch_fail_pending(struct srv_store *st, const char *id, const char *why,
                             struct lf_err *err)
{
    int rc;

    pthread_mutex_lock(&st->lock);
    rc = srv_store_run(st, "UPDATE tasks SET state = 'FAILURE', traceback = ?, finished_us = ?"
                       " WHERE batch_id = ? AND state = 'PENDING'", NULL, NULL, NULL, err, "sis",
                       why, lf_now_us(), id);
    pthread_mutex_unlock(&st->lock);
    return rc;
}
