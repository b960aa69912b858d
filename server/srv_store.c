/* SQLite store: see srv_store.h. One connection, one mutex: the control
 * plane's writes are few and small, and a single writer is what SQLite
 * wants anyway. Statements go through run(), which binds, steps and hands
 * rows to a callback, so every query has one error path. */
#include "srv_store.h"

#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "lf_util.h"

#define STORE_BUSY_TIMEOUT_MS 5000

struct srv_store {
    sqlite3 *db;
    pthread_mutex_t lock;
};

/* Migration i brings the schema from version i to i + 1. Never edit one
 * that has shipped: add a new one. */
static const char *const migrations[SRV_STORE_SCHEMA_VERSION] = {
    "CREATE TABLE bundles ("
    "  id TEXT PRIMARY KEY, owner TEXT NOT NULL, name TEXT NOT NULL,"
    "  created_us INTEGER NOT NULL, doc TEXT NOT NULL);"
    "CREATE INDEX bundles_by_name ON bundles (owner, name, created_us);"
    "CREATE TABLE endpoints ("
    "  id TEXT PRIMARY KEY, owner TEXT NOT NULL,"
    "  name TEXT,"                 /* NULL while deleting, so the name is free again */
    "  display_name TEXT NOT NULL, status TEXT NOT NULL,"
    "  created_us INTEGER NOT NULL, updated_us INTEGER NOT NULL,"
    "  generation INTEGER NOT NULL, logs TEXT NOT NULL DEFAULT '', doc TEXT NOT NULL,"
    "  UNIQUE (owner, name));"
    "CREATE TABLE uploads ("
    "  key TEXT PRIMARY KEY, token TEXT NOT NULL, state TEXT NOT NULL,"
    "  expires_us INTEGER NOT NULL);",
};

typedef int (*row_fn)(sqlite3_stmt *s, void *ctx, struct lf_err *err);

/* Prepares sql, binds the arguments described by types ('s' text or NULL,
 * 'i' int64), steps it, and calls on_row (NULL allowed) for each row.
 * *changes (NULL allowed) gets the number of rows changed. Caller holds
 * st->lock. */
static int
run(struct srv_store *st, const char *sql, row_fn on_row, void *ctx, int *changes,
    struct lf_err *err, const char *types, ...)
{
    sqlite3_stmt *s = NULL;
    va_list ap;
    int rc = LF_OK, src;

    if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK)
        return lf_err_set(err, LF_EIO, "store: cannot prepare: %s", sqlite3_errmsg(st->db));
    va_start(ap, types);
    for (int i = 0; types[i] != '\0'; i++) {
        if (types[i] == 's') {
            const char *v = va_arg(ap, const char *);

            src = v ? sqlite3_bind_text(s, i + 1, v, -1, SQLITE_TRANSIENT)
                    : sqlite3_bind_null(s, i + 1);
        } else {
            src = sqlite3_bind_int64(s, i + 1, va_arg(ap, int64_t));
        }
        if (src != SQLITE_OK) {
            va_end(ap);
            rc = lf_err_set(err, LF_EIO, "store: cannot bind: %s", sqlite3_errmsg(st->db));
            goto out;
        }
    }
    va_end(ap);
    while ((src = sqlite3_step(s)) == SQLITE_ROW) {
        if (on_row != NULL && (rc = on_row(s, ctx, err)) != LF_OK)
            goto out;
    }
    if (src != SQLITE_DONE) {
        rc = lf_err_set(err, src == SQLITE_CONSTRAINT ? LF_EEXIST : LF_EIO, "store: %s",
                        sqlite3_errmsg(st->db));
        goto out;
    }
    if (changes != NULL)
        *changes = sqlite3_changes(st->db);
out:
    sqlite3_finalize(s);
    return rc;
}

static int
exec_sql(struct srv_store *st, const char *sql, struct lf_err *err)
{
    char *msg = NULL;

    if (sqlite3_exec(st->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        lf_err_set(err, LF_EIO, "store: %s", msg ? msg : "exec failed");
        sqlite3_free(msg);
        return LF_EIO;
    }
    return LF_OK;
}

static int
row_int(sqlite3_stmt *s, void *ctx, struct lf_err *err)
{
    (void)err;
    *(int64_t *)ctx = sqlite3_column_int64(s, 0);
    return LF_OK;
}

static int
migrate(struct srv_store *st, struct lf_err *err)
{
    int64_t version = 0;
    int rc = run(st, "PRAGMA user_version", row_int, &version, NULL, err, "");

    if (rc != LF_OK)
        return rc;
    if (version > SRV_STORE_SCHEMA_VERSION)
        return lf_err_set(err, LF_ECONFIG,
                          "store schema version %lld is newer than this liftoff (%d)",
                          (long long)version, SRV_STORE_SCHEMA_VERSION);
    for (int64_t v = version; v < SRV_STORE_SCHEMA_VERSION; v++) {
        char bump[64];

        snprintf(bump, sizeof(bump), "PRAGMA user_version = %lld", (long long)v + 1);
        if ((rc = exec_sql(st, "BEGIN IMMEDIATE", err)) != LF_OK)
            return rc;
        if ((rc = exec_sql(st, migrations[v], err)) != LF_OK ||
            (rc = exec_sql(st, bump, err)) != LF_OK) {
            exec_sql(st, "ROLLBACK", NULL);
            return rc;
        }
        if ((rc = exec_sql(st, "COMMIT", err)) != LF_OK)
            return rc;
    }
    return LF_OK;
}

int
srv_store_open(const char *data_dir, struct srv_store **out, struct lf_err *err)
{
    struct srv_store *st = calloc(1, sizeof(*st));
    char path[PATH_MAX];
    int rc;

    if (st == NULL)
        return lf_err_set(err, LF_ENOMEM, "out of memory");
    pthread_mutex_init(&st->lock, NULL);
    snprintf(path, sizeof(path), "%s/liftoff.db", data_dir);
    if (sqlite3_open_v2(path, &st->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                        SQLITE_OPEN_FULLMUTEX, NULL) != SQLITE_OK) {
        rc = lf_err_set(err, LF_EIO, "cannot open store '%s': %s", path,
                        st->db ? sqlite3_errmsg(st->db) : "out of memory");
        goto fail;
    }
    sqlite3_busy_timeout(st->db, STORE_BUSY_TIMEOUT_MS);
    /* WAL with synchronous=FULL: a commit is on disk before we answer. */
    rc = exec_sql(st, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                      "PRAGMA foreign_keys=ON;", err);
    if (rc == LF_OK)
        rc = migrate(st, err);
    if (rc != LF_OK)
        goto fail;
    *out = st;
    return LF_OK;
fail:
    srv_store_close(st);
    return rc;
}

void
srv_store_close(struct srv_store *st)
{
    if (st == NULL)
        return;
    sqlite3_close(st->db);
    pthread_mutex_destroy(&st->lock);
    free(st);
}

/* ---- bundles ---- */

static int
row_doc_one(sqlite3_stmt *s, void *ctx, struct lf_err *err)
{
    cJSON **out = ctx;

    cJSON_Delete(*out);
    *out = cJSON_Parse((const char *)sqlite3_column_text(s, 0));
    if (*out == NULL)
        return lf_err_set(err, LF_EIO, "store: a stored record is not valid JSON");
    return LF_OK;
}

static int
row_doc_append(sqlite3_stmt *s, void *ctx, struct lf_err *err)
{
    cJSON *doc = cJSON_Parse((const char *)sqlite3_column_text(s, 0));

    if (doc == NULL)
        return lf_err_set(err, LF_EIO, "store: a stored record is not valid JSON");
    cJSON_AddItemToArray(ctx, doc);
    return LF_OK;
}

int
srv_store_bundle_add(struct srv_store *st, const char *owner, const char *id, const char *name,
                     int64_t created_us, const cJSON *doc, struct lf_err *err)
{
    char *text = cJSON_PrintUnformatted(doc);
    int rc;

    if (text == NULL)
        return lf_err_set(err, LF_ENOMEM, "out of memory");
    pthread_mutex_lock(&st->lock);
    rc = run(st, "INSERT INTO bundles (id, owner, name, created_us, doc) VALUES (?,?,?,?,?)",
             NULL, NULL, NULL, err, "sssis", id, owner, name, created_us, text);
    pthread_mutex_unlock(&st->lock);
    cJSON_free(text);
    return rc;
}

static int
bundle_one(struct srv_store *st, const char *sql, const char *owner, const char *key,
           cJSON **out, struct lf_err *err)
{
    cJSON *doc = NULL;
    int rc;

    pthread_mutex_lock(&st->lock);
    rc = run(st, sql, row_doc_one, &doc, NULL, err, "ss", owner, key);
    pthread_mutex_unlock(&st->lock);
    if (rc == LF_OK && doc == NULL)
        rc = lf_err_set(err, LF_ENOENT, "model bundle '%s' not found", key);
    if (rc != LF_OK) {
        cJSON_Delete(doc);
        return rc;
    }
    *out = doc;
    return LF_OK;
}

int
srv_store_bundle_get(struct srv_store *st, const char *owner, const char *id, cJSON **out,
                     struct lf_err *err)
{
    return bundle_one(st, "SELECT doc FROM bundles WHERE owner = ? AND id = ?", owner, id, out,
                      err);
}

int
srv_store_bundle_latest(struct srv_store *st, const char *owner, const char *name, cJSON **out,
                        struct lf_err *err)
{
    return bundle_one(st, "SELECT doc FROM bundles WHERE owner = ? AND name = ? "
                          "ORDER BY created_us DESC, rowid DESC LIMIT 1",
                      owner, name, out, err);
}

static const char *
order_sql(enum srv_order order, const char *name_column)
{
    static char alpha[64];

    switch (order) {
    case SRV_ORDER_NEWEST: return " ORDER BY created_us DESC, rowid DESC";
    case SRV_ORDER_OLDEST: return " ORDER BY created_us ASC, rowid ASC";
    case SRV_ORDER_ALPHA:
        snprintf(alpha, sizeof(alpha), " ORDER BY %s ASC, rowid ASC", name_column);
        return alpha;
    case SRV_ORDER_NONE: break;
    }
    return " ORDER BY rowid ASC";
}

int
srv_store_bundle_list(struct srv_store *st, const char *owner, const char *name,
                      enum srv_order order, cJSON **out, struct lf_err *err)
{
    char sql[256];
    cJSON *arr = cJSON_CreateArray();
    int rc;

    if (arr == NULL)
        return lf_err_set(err, LF_ENOMEM, "out of memory");
    snprintf(sql, sizeof(sql), "SELECT doc FROM bundles WHERE owner = ?%s%s",
             name ? " AND name = ?" : "", order_sql(order, "name"));
    pthread_mutex_lock(&st->lock);
    rc = run(st, sql, row_doc_append, arr, NULL, err, name ? "ss" : "s", owner, name);
    pthread_mutex_unlock(&st->lock);
    if (rc != LF_OK) {
        cJSON_Delete(arr);
        return rc;
    }
    *out = arr;
    return LF_OK;
}

/* ---- endpoints ---- */

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

    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 8;
        struct srv_ep_rec *p = realloc(l->recs, cap * sizeof(*p));

        if (p == NULL)
            return lf_err_set(err, LF_ENOMEM, "out of memory");
        l->recs = p;
        l->cap = cap;
    }
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
    rc = run(st, sql, row_ep_append, &l, NULL, err, types, a, b);
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
    rc = run(st, "INSERT INTO endpoints (id, owner, name, display_name, status, created_us,"
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
             order_sql(order, "name"));
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
    rc = run(st, "UPDATE endpoints SET doc = ?, status = ?, generation = generation + 1,"
                 " updated_us = ? WHERE id = ? AND name IS NOT NULL",
             NULL, NULL, &changes, err, "ssis", text, status, lf_now_us(), id);
    if (rc == LF_OK && changes == 1)
        rc = run(st, "SELECT generation FROM endpoints WHERE id = ?", row_int, generation, NULL,
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
    rc = run(st, "UPDATE endpoints SET status = coalesce(?, status), updated_us = ?,"
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
    rc = run(st, "UPDATE endpoints SET status = 'DELETE_IN_PROGRESS', name = NULL,"
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
    rc = run(st, "DELETE FROM endpoints WHERE id = ?", NULL, NULL, NULL, err, "s", id);
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
    rc = run(st, "SELECT logs FROM endpoints WHERE owner = ? AND name = ?", row_text, &logs,
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

/* ---- uploads ---- */

int
srv_store_upload_add(struct srv_store *st, const char *key, const char *token,
                     int64_t expires_us, struct lf_err *err)
{
    int rc;

    pthread_mutex_lock(&st->lock);
    rc = run(st, "INSERT INTO uploads (key, token, state, expires_us) VALUES (?,?,'open',?)",
             NULL, NULL, NULL, err, "ssi", key, token, expires_us);
    pthread_mutex_unlock(&st->lock);
    return rc;
}

int
srv_store_upload_claim(struct srv_store *st, const char *key, const char *token, int64_t now_us,
                       struct lf_err *err)
{
    int changes = 0, rc;

    pthread_mutex_lock(&st->lock);
    rc = run(st, "UPDATE uploads SET state = 'writing' WHERE key = ? AND token = ?"
                 " AND state = 'open' AND expires_us > ?",
             NULL, NULL, &changes, err, "ssi", key, token, now_us);
    pthread_mutex_unlock(&st->lock);
    if (rc == LF_OK && changes != 1)
        rc = lf_err_set(err, LF_EPERM, "upload URL is not valid, already used, or expired");
    return rc;
}

int
srv_store_upload_finish(struct srv_store *st, const char *key, int done, struct lf_err *err)
{
    int rc;

    pthread_mutex_lock(&st->lock);
    rc = run(st, "UPDATE uploads SET state = ? WHERE key = ?", NULL, NULL, NULL, err, "ss",
             done ? "done" : "open", key);
    pthread_mutex_unlock(&st->lock);
    return rc;
}
