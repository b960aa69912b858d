/* SQLite store: see srv_store.h. One connection, one mutex: the control
 * plane's writes are few and small, and a single writer is what SQLite
 * wants anyway. Statements go through run(), which binds, steps and hands
 * rows to a callback, so every query has one error path. */
#include "srv_store.h"
#include "srv_store_int.h"

#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "lf_util.h"

#define STORE_BUSY_TIMEOUT_MS 5000


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

    /* 2: async tasks (STARTED lives in memory only), callback deliveries. */
    "CREATE TABLE tasks ("
    "  id TEXT PRIMARY KEY, owner TEXT NOT NULL, endpoint_id TEXT NOT NULL,"
    "  state TEXT NOT NULL,"       /* PENDING, SUCCESS or FAILURE */
    "  request TEXT NOT NULL, result TEXT, traceback TEXT,"
    "  attempts INTEGER NOT NULL DEFAULT 0,"
    "  created_us INTEGER NOT NULL, finished_us INTEGER,"
    "  callback_url TEXT, callback_auth TEXT,"
    "  batch_id TEXT, batch_row INTEGER, batch_key TEXT);"
    "CREATE INDEX tasks_pending ON tasks (created_us) WHERE state = 'PENDING';"
    "CREATE INDEX tasks_finished ON tasks (finished_us)"
    "  WHERE finished_us IS NOT NULL AND batch_id IS NULL;"
    "CREATE INDEX tasks_batch ON tasks (batch_id, batch_row) WHERE batch_id IS NOT NULL;"
    "CREATE TABLE batch_jobs ("
    "  id TEXT PRIMARY KEY, owner TEXT NOT NULL, status TEXT NOT NULL,"
    "  created_us INTEGER NOT NULL, finished_us INTEGER,"
    "  total INTEGER, completed INTEGER, error TEXT, doc TEXT NOT NULL);"
    "CREATE TABLE callbacks ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT, task_id TEXT NOT NULL, url TEXT NOT NULL,"
    "  auth TEXT, body TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,"
    "  next_us INTEGER NOT NULL);"
    "CREATE INDEX callbacks_due ON callbacks (next_us);",
};

int
srv_store_run(struct srv_store *st, const char *sql, srv_row_fn on_row, void *ctx, int *changes,
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

int
srv_store_exec(struct srv_store *st, const char *sql, struct lf_err *err)
{
    char *msg = NULL;

    if (sqlite3_exec(st->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        lf_err_set(err, LF_EIO, "store: %s", msg ? msg : "exec failed");
        sqlite3_free(msg);
        return LF_EIO;
    }
    return LF_OK;
}

int
srv_store_reserve(void **arr, size_t *cap, size_t n, size_t size, struct lf_err *err)
{
    size_t want;
    void *p;

    if (n < *cap)
        return LF_OK;
    want = *cap ? *cap * 2 : 16;
    p = realloc(*arr, want * size);
    if (p == NULL)
        return lf_err_set(err, LF_ENOMEM, "out of memory");
    *arr = p;
    *cap = want;
    return LF_OK;
}

int
srv_store_row_int(sqlite3_stmt *s, void *ctx, struct lf_err *err)
{
    (void)err;
    *(int64_t *)ctx = sqlite3_column_int64(s, 0);
    return LF_OK;
}

static int
migrate(struct srv_store *st, struct lf_err *err)
{
    int64_t version = 0;
    int rc = srv_store_run(st, "PRAGMA user_version", srv_store_row_int, &version, NULL, err, "");

    if (rc != LF_OK)
        return rc;
    if (version > SRV_STORE_SCHEMA_VERSION)
        return lf_err_set(err, LF_ECONFIG,
                          "store schema version %lld is newer than this liftoff (%d)",
                          (long long)version, SRV_STORE_SCHEMA_VERSION);
    for (int64_t v = version; v < SRV_STORE_SCHEMA_VERSION; v++) {
        char bump[64];

        snprintf(bump, sizeof(bump), "PRAGMA user_version = %lld", (long long)v + 1);
        if ((rc = srv_store_exec(st, "BEGIN IMMEDIATE", err)) != LF_OK)
            return rc;
        if ((rc = srv_store_exec(st, migrations[v], err)) != LF_OK ||
            (rc = srv_store_exec(st, bump, err)) != LF_OK) {
            srv_store_exec(st, "ROLLBACK", NULL);
            return rc;
        }
        if ((rc = srv_store_exec(st, "COMMIT", err)) != LF_OK)
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
    rc = srv_store_exec(st, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
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
    rc = srv_store_run(st, "INSERT INTO bundles (id, owner, name, created_us, doc) VALUES (?,?,?,?,?)",
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
    rc = srv_store_run(st, sql, row_doc_one, &doc, NULL, err, "ss", owner, key);
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

const char *
srv_store_order_sql(enum srv_order order, const char *name_column)
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
             name ? " AND name = ?" : "", srv_store_order_sql(order, "name"));
    pthread_mutex_lock(&st->lock);
    rc = srv_store_run(st, sql, row_doc_append, arr, NULL, err, name ? "ss" : "s", owner, name);
    pthread_mutex_unlock(&st->lock);
    if (rc != LF_OK) {
        cJSON_Delete(arr);
        return rc;
    }
    *out = arr;
    return LF_OK;
}

/* ---- uploads ---- */

int
srv_store_upload_add(struct srv_store *st, const char *key, const char *token,
                     int64_t expires_us, struct lf_err *err)
{
    int rc;

    pthread_mutex_lock(&st->lock);
    rc = srv_store_run(st, "INSERT INTO uploads (key, token, state, expires_us) VALUES (?,?,'open',?)",
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
    rc = srv_store_run(st, "UPDATE uploads SET state = 'writing' WHERE key = ? AND token = ?"
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
    rc = srv_store_run(st, "UPDATE uploads SET state = ? WHERE key = ?", NULL, NULL, NULL, err, "ss",
             done ? "done" : "open", key);
    pthread_mutex_unlock(&st->lock);
    return rc;
}
