/* The store's endpoints table: settings as JSON plus state columns; see
 * srv_store.h. */
#include "srv_store.h"
#include "srv_store_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lf_util.h"

#define EP_COLUMNS "id, owner, display_name, status, created_us, updated_us, generation, doc"

void
srv_ep_rec_release(struct srv_ep_rec *r)
{
    if (r == NULL)
        return;
    cJSON_Delete(r->doc);
    r->doc = NULL;
}

void
srv_ep_recs_free(struct srv_ep_rec *recs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        srv_ep_rec_release(&recs[i]);
    free(recs);
}

static int
ep_from_row(sqlite3_stmt *s, struct srv_ep_rec *r, struct lf_err *err)
{
    memset(r, 0, sizeof(*r));
    snprintf(r->id, sizeof(r->id), "%s", (const char *)sqlite3_column_text(s, 0));
    snprintf(r->owner, sizeof(r->owner), "%s", (const char *)sqlite3_column_text(s, 1));
    snprintf(r->name, sizeof(r->name), "%s", (const char *)sqlite3_column_text(s, 2));
    snprintf(r->status, sizeof(r->status), "%s", (const char *)sqlite3_column_text(s, 3));
    r->created_us = sqlite3_column_int64(s, 4);
    r->updated_us = sqlite3_column_int64(s, 5);
    r->generation = sqlite3_column_int64(s, 6);
    r->doc = cJSON_Parse((const char *)sqlite3_column_text(s, 7));
    if (r->doc == NULL)
        return lf_err_set(err, LF_EIO, "store: endpoint '%s' is not valid JSON", r->id);
    return LF_OK;
}

struct ep_list {
    struct srv_ep_rec *recs;
    size_t n, cap;
};

static int
row_ep_append(sqlite3_stmt *s, void *ctx, struct lf_err *err)
{
    struct ep_list *l = ctx;

    if (srv_store_reserve((void **)&l->recs, &l->cap, l->n, sizeof(*l->recs), err) != LF_OK)
        return LF_ENOMEM;
    if (ep_from_row(s, &l->recs[l->n], err) != LF_OK)
        return LF_EIO;
    l->n++;
    return LF_OK;
}

static int
ep_query(struct srv_store *st, const char *sql, struct srv_ep_rec **out, size_t *n,
         struct lf_err *err, const char *types, const char *a, const char *b)
{
    struct ep_list l = { NULL, 0, 0 };
    int rc;

    pthread_mutex_lock(&st->lock);
    rc = srv_store_run(st, sql, row_ep_append, &l, NULL, err, types, a, b);
    pthread_mutex_unlock(&st->lock);
    if (rc != LF_OK) {
        srv_ep_recs_free(l.recs, l.n);
        return rc;
    }
    *out = l.recs;
    *n = l.n;
    return LF_OK;
}

int
srv_store_ep_insert(struct srv_store *st, const struct srv_ep_rec *r, struct lf_err *err)
{
    char *text = cJSON_PrintUnformatted(r->doc);
    int rc;

    if (text == NULL)
        return lf_err_set(err, LF_ENOMEM, "out of memory");
    pthread_mutex_lock(&st->lock);
    rc = srv_store_run(st, "INSERT INTO endpoints (id, owner, name, display_name, status, created_us,"
                 " updated_us, generation, doc) VALUES (?,?,?,?,?,?,?,?,?)",
             NULL, NULL, NULL, err, "sssssiiis", r->id, r->owner, r->name, r->name, r->status,
             r->created_us, r->updated_us, r->generation, text);
    pthread_mutex_unlock(&st->lock);
    cJSON_free(text);
    if (rc == LF_EEXIST)
        lf_err_set(err, LF_EEXIST, "endpoint '%s' already exists", r->name);
    return rc;
}

int
srv_store_ep_get(struct srv_store *st, const char *owner, const char *id,
                 struct srv_ep_rec *out, struct lf_err *err)
{
    struct srv_ep_rec *recs = NULL;
    size_t n = 0;
    int rc;

    if (owner != NULL)
        rc = ep_query(st, "SELECT " EP_COLUMNS " FROM endpoints WHERE id = ? AND owner = ?",
                      &recs, &n, err, "ss", id, owner);
    else
        rc = ep_query(st, "SELECT " EP_COLUMNS " FROM endpoints WHERE id = ?", &recs, &n, err,
                      "s", id, NULL);
    if (rc != LF_OK)
        return rc;
    if (n == 0) {
        free(recs);
        return lf_err_set(err, LF_ENOENT, "endpoint '%s' not found", id);
    }
    *out = recs[0];
    recs[0].doc = NULL;
    srv_ep_recs_free(recs, n);
    return LF_OK;
}

int
srv_store_ep_list(struct srv_store *st, const char *owner, const char *name,
                  enum srv_order order, struct srv_ep_rec **out, size_t *n, struct lf_err *err)
{
    char sql[512];

    snprintf(sql, sizeof(sql), "SELECT " EP_COLUMNS " FROM endpoints WHERE name IS NOT NULL%s%s%s",
             owner ? " AND owner = ?" : "", name ? " AND name = ?" : "",
             srv_store_order_sql(order, "name"));
    if (owner != NULL)
        return ep_query(st, sql, out, n, err, name ? "ss" : "s", owner, name);
    return ep_query(st, sql, out, n, err, name ? "s" : "", name, NULL);
}

int
srv_store_ep_all(struct srv_store *st, struct srv_ep_rec **out, size_t *n, struct lf_err *err)
{
    return ep_query(st, "SELECT " EP_COLUMNS " FROM endpoints ORDER BY rowid", out, n, err, "",
                    NULL, NULL);
}

int
srv_store_ep_update(struct srv_store *st, const char *id, const cJSON *doc, const char *status,
                    int64_t *generation, struct lf_err *err)
{
    char *text = cJSON_PrintUnformatted(doc);
    int changes = 0, rc;

    if (text == NULL)
        return lf_err_set(err, LF_ENOMEM, "out of memory");
    pthread_mutex_lock(&st->lock);
    rc = srv_store_run(st, "UPDATE endpoints SET doc = ?, status = ?, generation = generation + 1,"
                 " updated_us = ? WHERE id = ? AND name IS NOT NULL",
             NULL, NULL, &changes, err, "ssis", text, status, lf_now_us(), id);
    if (rc == LF_OK && changes == 1)
        rc = srv_store_run(st, "SELECT generation FROM endpoints WHERE id = ?", srv_store_row_int, generation, NULL,
                 err, "s", id);
    pthread_mutex_unlock(&st->lock);
    cJSON_free(text);
    if (rc == LF_OK && changes != 1)
        rc = lf_err_set(err, LF_ENOENT, "endpoint '%s' not found", id);
    return rc;
}

int
srv_store_ep_set_status(struct srv_store *st, const char *id, int64_t generation,
                        const char *status, const char *log_line, struct lf_err *err)
{
    int changes = 0, rc;

    pthread_mutex_lock(&st->lock);
    rc = srv_store_run(st, "UPDATE endpoints SET status = coalesce(?, status), updated_us = ?,"
                 " logs = CAST(substr(CAST(logs || coalesce(?, '') AS BLOB), -?) AS TEXT)"
                 " WHERE id = ? AND generation = ? AND name IS NOT NULL",
             NULL, NULL, &changes, err, "sisisi", status, lf_now_us(), log_line,
             (int64_t)SRV_STORE_LOG_MAX_BYTES, id, generation);
    pthread_mutex_unlock(&st->lock);
    if (rc == LF_OK && changes != 1)
        rc = lf_err_set(err, LF_ENOENT, "endpoint '%s' generation %lld is gone", id,
                        (long long)generation);
    return rc;
}

int
srv_store_ep_mark_deleting(struct srv_store *st, const char *id, struct lf_err *err)
{
    int changes = 0, rc;

    pthread_mutex_lock(&st->lock);
    rc = srv_store_run(st, "UPDATE endpoints SET status = 'DELETE_IN_PROGRESS', name = NULL,"
                 " generation = generation + 1, updated_us = ? WHERE id = ? AND name IS NOT NULL",
             NULL, NULL, &changes, err, "is", lf_now_us(), id);
    pthread_mutex_unlock(&st->lock);
    if (rc == LF_OK && changes != 1)
        rc = lf_err_set(err, LF_ENOENT, "endpoint '%s' not found", id);
    return rc;
}

int
srv_store_ep_remove(struct srv_store *st, const char *id, struct lf_err *err)
{
    int rc;

    pthread_mutex_lock(&st->lock);
    rc = srv_store_run(st, "DELETE FROM endpoints WHERE id = ?", NULL, NULL, NULL, err, "s", id);
    pthread_mutex_unlock(&st->lock);
    return rc;
}

static int
row_text(sqlite3_stmt *s, void *ctx, struct lf_err *err)
{
    char **out = ctx;
    const char *text = (const char *)sqlite3_column_text(s, 0);

    /* The log is cut by bytes: skip a character the cut split. */
    while ((*text & 0xc0) == 0x80)
        text++;
    free(*out);
    *out = strdup(text);
    if (*out == NULL)
        return lf_err_set(err, LF_ENOMEM, "out of memory");
    return LF_OK;
}

int
srv_store_ep_logs(struct srv_store *st, const char *owner, const char *name, char **out,
                  struct lf_err *err)
{
    char *logs = NULL;
    int rc;

    pthread_mutex_lock(&st->lock);
    rc = srv_store_run(st, "SELECT logs FROM endpoints WHERE owner = ? AND name = ?", row_text, &logs,
             NULL, err, "ss", owner, name);
    pthread_mutex_unlock(&st->lock);
    if (rc == LF_OK && logs == NULL)
        rc = lf_err_set(err, LF_ENOENT, "endpoint '%s' not found", name);
    if (rc != LF_OK) {
        free(logs);
        return rc;
    }
    *out = logs;
    return LF_OK;
}

