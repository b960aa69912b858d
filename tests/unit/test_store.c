/* Unit tests of the SQLite store (server/srv_store.c): each test opens a
 * fresh database in its own temporary data directory. */
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <check.h>
#include <cjson/cJSON.h>
#include <sqlite3.h>

#include "lf_err.h"
#include "lf_util.h"
#include "srv_int.h"
#include "srv_store.h"
#include "unit_json.h"
#include "unit_tmp.h"

/* ================= store ================= */

struct sfix {
    char dir[PATH_MAX];
    struct srv_store *st;
    struct lf_err err;
};

static void
sfix_open(struct sfix *f)
{
    memset(f, 0, sizeof(*f));
    unit_tmp_make(f->dir);
    ck_assert_int_eq(srv_store_open(f->dir, &f->st, &f->err), LF_OK);
    ck_assert_ptr_nonnull(f->st);
}

static void
sfix_close(struct sfix *f)
{
    srv_store_close(f->st);
    f->st = NULL;
    lf_err_release(&f->err);
    unit_tmp_remove(f->dir);
}

static int64_t
user_version(const char *dir)
{
    char path[PATH_MAX];
    sqlite3 *db = NULL;
    sqlite3_stmt *s = NULL;
    int64_t v;

    snprintf(path, sizeof(path), "%s/liftoff.db", dir);
    ck_assert_int_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &s, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(s), SQLITE_ROW);
    v = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    sqlite3_close(db);
    return v;
}

static void
set_user_version(const char *dir, int v)
{
    char path[PATH_MAX], sql[64];
    sqlite3 *db = NULL;

    snprintf(path, sizeof(path), "%s/liftoff.db", dir);
    snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", v);
    ck_assert_int_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
}

START_TEST(test_store_open_creates_and_reopens)
{
    struct sfix f;
    char path[PATH_MAX];
    struct stat st;
    cJSON *doc, *got = NULL;

    sfix_open(&f);
    snprintf(path, sizeof(path), "%s/liftoff.db", f.dir);
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_int_eq(user_version(f.dir), SRV_STORE_SCHEMA_VERSION);
    doc = doc_of("{\"id\": \"b1\", \"name\": \"m\"}");
    ck_assert_int_eq(srv_store_bundle_add(f.st, "alice", "b1", "m", 10, doc, &f.err), LF_OK);
    cJSON_Delete(doc);
    srv_store_close(f.st);

    /* reopen: no migration runs twice, the data and the version stay */
    ck_assert_int_eq(srv_store_open(f.dir, &f.st, &f.err), LF_OK);
    ck_assert_int_eq(user_version(f.dir), SRV_STORE_SCHEMA_VERSION);
    ck_assert_int_eq(srv_store_bundle_get(f.st, "alice", "b1", &got, &f.err), LF_OK);
    ck_assert_str_eq(str_of(got, "name"), "m");
    cJSON_Delete(got);
    sfix_close(&f);
}
END_TEST

START_TEST(test_store_open_newer_schema)
{
    struct sfix f;
    struct srv_store *st = NULL;

    sfix_open(&f);
    srv_store_close(f.st);
    f.st = NULL;
    set_user_version(f.dir, SRV_STORE_SCHEMA_VERSION + 1);
    ck_assert_int_eq(srv_store_open(f.dir, &st, &f.err), LF_ECONFIG);
    ck_assert_ptr_null(st);
    ck_assert_ptr_nonnull(strstr(f.err.msg, "newer"));
    sfix_close(&f);
}
END_TEST

START_TEST(test_store_open_bad_dir)
{
    struct srv_store *st = NULL;
    struct lf_err err = {0};

    ck_assert_int_eq(srv_store_open("/nonexistent/liftoff-unit", &st, &err), LF_EIO);
    ck_assert_ptr_null(st);
    ck_assert_ptr_nonnull(strstr(err.msg, "/nonexistent/liftoff-unit"));
    lf_err_release(&err);
    srv_store_close(NULL);
}
END_TEST

/* ---- bundles ---- */

static void
add_bundle(struct sfix *f, const char *owner, const char *id, const char *name, int64_t us)
{
    char json[256];
    cJSON *doc;

    snprintf(json, sizeof(json), "{\"id\": \"%s\", \"name\": \"%s\", \"owner\": \"%s\"}", id,
             name, owner);
    doc = doc_of(json);
    ck_assert_int_eq(srv_store_bundle_add(f->st, owner, id, name, us, doc, &f->err), LF_OK);
    cJSON_Delete(doc);
}

/* Checks that arr holds records with exactly the ids in want, in order
 * ("b2,b3,b1"; "" for none). */
static void
ids_are(const cJSON *arr, const char *want)
{
    char got[512] = "";
    const cJSON *item;

    ck_assert(cJSON_IsArray(arr));
    cJSON_ArrayForEach(item, arr) {
        size_t n = strlen(got);

        snprintf(got + n, sizeof(got) - n, "%s%s", n ? "," : "", str_of(item, "id"));
    }
    ck_assert_str_eq(got, want);
}

START_TEST(test_store_bundles)
{
    struct sfix f;
    cJSON *got = NULL, *doc;

    sfix_open(&f);
    add_bundle(&f, "alice", "b1", "m", 100);
    add_bundle(&f, "alice", "b2", "m", 200);
    add_bundle(&f, "alice", "b3", "n", 150);
    add_bundle(&f, "bob", "b4", "m", 300);

    ck_assert_int_eq(srv_store_bundle_get(f.st, "alice", "b1", &got, &f.err), LF_OK);
    ck_assert_str_eq(str_of(got, "id"), "b1");
    ck_assert_str_eq(str_of(got, "owner"), "alice");
    cJSON_Delete(got);
    got = NULL;
    /* owner scoping */
    ck_assert_int_eq(srv_store_bundle_get(f.st, "bob", "b1", &got, &f.err), LF_ENOENT);
    ck_assert_ptr_nonnull(strstr(f.err.msg, "b1"));
    ck_assert_ptr_null(got);
    ck_assert_int_eq(srv_store_bundle_get(f.st, "alice", "nope", &got, &f.err), LF_ENOENT);

    /* latest: the newest of that owner and name */
    ck_assert_int_eq(srv_store_bundle_latest(f.st, "alice", "m", &got, &f.err), LF_OK);
    ck_assert_str_eq(str_of(got, "id"), "b2");
    cJSON_Delete(got);
    ck_assert_int_eq(srv_store_bundle_latest(f.st, "bob", "m", &got, &f.err), LF_OK);
    ck_assert_str_eq(str_of(got, "id"), "b4");
    cJSON_Delete(got);
    got = NULL;
    ck_assert_int_eq(srv_store_bundle_latest(f.st, "bob", "n", &got, &f.err), LF_ENOENT);
    ck_assert_int_eq(srv_store_bundle_latest(f.st, "carol", "m", &got, &f.err), LF_ENOENT);
    ck_assert_ptr_null(got);

    /* lists */
    ck_assert_int_eq(srv_store_bundle_list(f.st, "alice", NULL, SRV_ORDER_NEWEST, &got, &f.err),
                     LF_OK);
    ids_are(got, "b2,b3,b1");
    cJSON_Delete(got);
    ck_assert_int_eq(srv_store_bundle_list(f.st, "alice", NULL, SRV_ORDER_OLDEST, &got, &f.err),
                     LF_OK);
    ids_are(got, "b1,b3,b2");
    cJSON_Delete(got);
    ck_assert_int_eq(srv_store_bundle_list(f.st, "alice", NULL, SRV_ORDER_NONE, &got, &f.err),
                     LF_OK);
    ids_are(got, "b1,b2,b3");
    cJSON_Delete(got);
    ck_assert_int_eq(srv_store_bundle_list(f.st, "alice", NULL, SRV_ORDER_ALPHA, &got, &f.err),
                     LF_OK);
    ids_are(got, "b1,b2,b3");
    cJSON_Delete(got);
    ck_assert_int_eq(srv_store_bundle_list(f.st, "alice", "m", SRV_ORDER_NEWEST, &got, &f.err),
                     LF_OK);
    ids_are(got, "b2,b1");
    cJSON_Delete(got);
    ck_assert_int_eq(srv_store_bundle_list(f.st, "bob", NULL, SRV_ORDER_NEWEST, &got, &f.err),
                     LF_OK);
    ids_are(got, "b4");
    cJSON_Delete(got);
    ck_assert_int_eq(srv_store_bundle_list(f.st, "carol", NULL, SRV_ORDER_NEWEST, &got, &f.err),
                     LF_OK);
    ids_are(got, "");
    cJSON_Delete(got);

    /* the stored doc is a copy */
    doc = doc_of("{\"id\": \"b5\", \"x\": 1}");
    ck_assert_int_eq(srv_store_bundle_add(f.st, "alice", "b5", "m", 50, doc, &f.err), LF_OK);
    cJSON_ReplaceItemInObject(doc, "x", cJSON_CreateNumber(2));
    cJSON_Delete(doc);
    ck_assert_int_eq(srv_store_bundle_get(f.st, "alice", "b5", &got, &f.err), LF_OK);
    ck_assert_int_eq(cJSON_GetObjectItem(got, "x")->valueint, 1);
    cJSON_Delete(got);
    sfix_close(&f);
}
END_TEST

START_TEST(test_store_bundle_latest_tie)
{
    struct sfix f;
    cJSON *got = NULL;

    sfix_open(&f);
    add_bundle(&f, "alice", "first", "m", 100);
    add_bundle(&f, "alice", "second", "m", 100); /* same microsecond: the later insert */
    ck_assert_int_eq(srv_store_bundle_latest(f.st, "alice", "m", &got, &f.err), LF_OK);
    ck_assert_str_eq(str_of(got, "id"), "second");
    cJSON_Delete(got);
    ck_assert_int_eq(srv_store_bundle_list(f.st, "alice", "m", SRV_ORDER_NEWEST, &got, &f.err),
                     LF_OK);
    ids_are(got, "second,first");
    cJSON_Delete(got);
    sfix_close(&f);
}
END_TEST

/* ---- endpoints ---- */

static void
rec_make(struct srv_ep_rec *r, const char *id, const char *owner, const char *name,
         int64_t created_us)
{
    memset(r, 0, sizeof(*r));
    snprintf(r->id, sizeof(r->id), "%s", id);
    snprintf(r->owner, sizeof(r->owner), "%s", owner);
    snprintf(r->name, sizeof(r->name), "%s", name);
    snprintf(r->status, sizeof(r->status), "UPDATE_PENDING");
    r->created_us = created_us;
    r->updated_us = created_us;
    r->generation = 1;
    r->doc = doc_of("{\"cpus\": 1, \"labels\": {\"team\": \"a\"}}");
}

static void
insert_ep(struct sfix *f, const char *id, const char *owner, const char *name, int64_t us)
{
    struct srv_ep_rec r;

    rec_make(&r, id, owner, name, us);
    ck_assert_int_eq(srv_store_ep_insert(f->st, &r, &f->err), LF_OK);
    srv_ep_rec_release(&r);
}

static void
ep_ids_are(struct srv_ep_rec *recs, size_t n, const char *want)
{
    char got[512] = "";

    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(got);

        snprintf(got + len, sizeof(got) - len, "%s%s", i ? "," : "", recs[i].id);
    }
    ck_assert_str_eq(got, want);
    srv_ep_recs_free(recs, n);
}

START_TEST(test_store_ep_insert_and_get)
{
    struct sfix f;
    struct srv_ep_rec r, got;

    sfix_open(&f);
    rec_make(&r, "e1", "alice", "ep", 1000);
    ck_assert_int_eq(srv_store_ep_insert(f.st, &r, &f.err), LF_OK);
    /* the same name for the same owner */
    snprintf(r.id, sizeof(r.id), "e2");
    ck_assert_int_eq(srv_store_ep_insert(f.st, &r, &f.err), LF_EEXIST);
    ck_assert_int_eq(f.err.code, LF_EEXIST);
    ck_assert_ptr_nonnull(strstr(f.err.msg, "ep"));
    /* the same name for another owner */
    snprintf(r.owner, sizeof(r.owner), "bob");
    ck_assert_int_eq(srv_store_ep_insert(f.st, &r, &f.err), LF_OK);
    srv_ep_rec_release(&r);
    srv_ep_rec_release(&r); /* twice is harmless */

    ck_assert_int_eq(srv_store_ep_get(f.st, "alice", "e1", &got, &f.err), LF_OK);
    ck_assert_str_eq(got.id, "e1");
    ck_assert_str_eq(got.owner, "alice");
    ck_assert_str_eq(got.name, "ep");
    ck_assert_str_eq(got.status, "UPDATE_PENDING");
    ck_assert_int_eq(got.created_us, 1000);
    ck_assert_int_eq(got.updated_us, 1000);
    ck_assert_int_eq(got.generation, 1);
    ck_assert_str_eq(str_of(cJSON_GetObjectItem(got.doc, "labels"), "team"), "a");
    srv_ep_rec_release(&got);
    ck_assert_ptr_null(got.doc);
    /* owner scoping; NULL owner means anyone */
    ck_assert_int_eq(srv_store_ep_get(f.st, "bob", "e1", &got, &f.err), LF_ENOENT);
    ck_assert_ptr_nonnull(strstr(f.err.msg, "e1"));
    ck_assert_int_eq(srv_store_ep_get(f.st, NULL, "e1", &got, &f.err), LF_OK);
    srv_ep_rec_release(&got);
    ck_assert_int_eq(srv_store_ep_get(f.st, NULL, "nope", &got, &f.err), LF_ENOENT);
    sfix_close(&f);
}
END_TEST

START_TEST(test_store_ep_list)
{
    struct sfix f;
    struct srv_ep_rec *recs = NULL;
    size_t n = 99;

    sfix_open(&f);
    insert_ep(&f, "e1", "alice", "b-ep", 300);
    insert_ep(&f, "e2", "alice", "a-ep", 100);
    insert_ep(&f, "e3", "alice", "c-ep", 200);
    insert_ep(&f, "e4", "bob", "a-ep", 400);
    ck_assert_int_eq(srv_store_ep_list(f.st, "alice", NULL, SRV_ORDER_NEWEST, &recs, &n, &f.err),
                     LF_OK);
    ep_ids_are(recs, n, "e1,e3,e2");
    ck_assert_int_eq(srv_store_ep_list(f.st, "alice", NULL, SRV_ORDER_OLDEST, &recs, &n, &f.err),
                     LF_OK);
    ep_ids_are(recs, n, "e2,e3,e1");
    ck_assert_int_eq(srv_store_ep_list(f.st, "alice", NULL, SRV_ORDER_ALPHA, &recs, &n, &f.err),
                     LF_OK);
    ep_ids_are(recs, n, "e2,e1,e3");
    ck_assert_int_eq(srv_store_ep_list(f.st, "alice", "c-ep", SRV_ORDER_NONE, &recs, &n, &f.err),
                     LF_OK);
    ep_ids_are(recs, n, "e3");
    ck_assert_int_eq(srv_store_ep_list(f.st, NULL, "a-ep", SRV_ORDER_NEWEST, &recs, &n, &f.err),
                     LF_OK);
    ep_ids_are(recs, n, "e4,e2");
    ck_assert_int_eq(srv_store_ep_list(f.st, NULL, NULL, SRV_ORDER_NONE, &recs, &n, &f.err),
                     LF_OK);
    ep_ids_are(recs, n, "e1,e2,e3,e4");
    ck_assert_int_eq(srv_store_ep_list(f.st, "carol", NULL, SRV_ORDER_NONE, &recs, &n, &f.err),
                     LF_OK);
    ck_assert_uint_eq(n, 0);
    ep_ids_are(recs, n, "");
    sfix_close(&f);
}
END_TEST

START_TEST(test_store_ep_update_and_status)
{
    struct sfix f;
    struct srv_ep_rec got;
    cJSON *doc;
    int64_t gen = 0;
    char *logs = NULL;

    sfix_open(&f);
    insert_ep(&f, "e1", "alice", "ep", 1000);
    doc = doc_of("{\"cpus\": 2}");
    ck_assert_int_eq(srv_store_ep_update(f.st, "e1", doc, "UPDATE_IN_PROGRESS", &gen, &f.err),
                     LF_OK);
    ck_assert_int_eq(gen, 2);
    ck_assert_int_eq(srv_store_ep_update(f.st, "e1", doc, "UPDATE_PENDING", &gen, &f.err), LF_OK);
    ck_assert_int_eq(gen, 3);
    ck_assert_int_eq(srv_store_ep_update(f.st, "nope", doc, "X", &gen, &f.err), LF_ENOENT);
    ck_assert_int_eq(gen, 3);
    cJSON_Delete(doc);
    ck_assert_int_eq(srv_store_ep_get(f.st, "alice", "e1", &got, &f.err), LF_OK);
    ck_assert_int_eq(got.generation, 3);
    ck_assert_str_eq(got.status, "UPDATE_PENDING");
    ck_assert_int_eq(cJSON_GetObjectItem(got.doc, "cpus")->valueint, 2);
    ck_assert_ptr_null(cJSON_GetObjectItem(got.doc, "labels")); /* replaced, not merged */
    ck_assert_int_eq(got.created_us, 1000);
    ck_assert_int_gt(got.updated_us, 1000);
    srv_ep_rec_release(&got);

    /* a stale generation changes nothing */
    ck_assert_int_eq(srv_store_ep_set_status(f.st, "e1", 2, "READY", "stale\n", &f.err),
                     LF_ENOENT);
    ck_assert_int_eq(srv_store_ep_get(f.st, "alice", "e1", &got, &f.err), LF_OK);
    ck_assert_str_eq(got.status, "UPDATE_PENDING");
    srv_ep_rec_release(&got);
    ck_assert_int_eq(srv_store_ep_logs(f.st, "alice", "ep", &logs, &f.err), LF_OK);
    ck_assert_str_eq(logs, "");
    free(logs);
    /* the current one does, and appends to the log */
    ck_assert_int_eq(srv_store_ep_set_status(f.st, "e1", 3, "UPDATE_IN_PROGRESS", "one\n",
                                             &f.err), LF_OK);
    ck_assert_int_eq(srv_store_ep_set_status(f.st, "e1", 3, "READY", NULL, &f.err), LF_OK);
    ck_assert_int_eq(srv_store_ep_set_status(f.st, "e1", 3, "READY", "two\n", &f.err), LF_OK);
    ck_assert_int_eq(srv_store_ep_get(f.st, "alice", "e1", &got, &f.err), LF_OK);
    ck_assert_str_eq(got.status, "READY");
    ck_assert_int_eq(got.generation, 3); /* set_status does not bump it */
    srv_ep_rec_release(&got);
    ck_assert_int_eq(srv_store_ep_logs(f.st, "alice", "ep", &logs, &f.err), LF_OK);
    ck_assert_str_eq(logs, "one\ntwo\n");
    free(logs);
    logs = NULL;
    ck_assert_int_eq(srv_store_ep_logs(f.st, "bob", "ep", &logs, &f.err), LF_ENOENT);
    ck_assert_int_eq(srv_store_ep_logs(f.st, "alice", "nope", &logs, &f.err), LF_ENOENT);
    ck_assert_ptr_null(logs);
    ck_assert_int_eq(srv_store_ep_set_status(f.st, "nope", 1, "READY", NULL, &f.err), LF_ENOENT);
    sfix_close(&f);
}
END_TEST

START_TEST(test_store_ep_log_truncation)
{
    struct sfix f;
    enum { LINE = 10000, LINES = 10 };
    char *line = malloc(LINE + 1), *logs = NULL;
    size_t n;

    ck_assert_ptr_nonnull(line);
    sfix_open(&f);
    insert_ep(&f, "e1", "alice", "ep", 1000);
    for (int i = 0; i < LINES; i++) {
        memset(line, 'a' + i, LINE);
        snprintf(line, 12, "line %05d ", i);
        line[11] = 'a' + (char)i;
        line[LINE - 1] = '\n';
        line[LINE] = '\0';
        ck_assert_int_eq(srv_store_ep_set_status(f.st, "e1", 1, "UPDATE_IN_PROGRESS", line,
                                                 &f.err), LF_OK);
    }
    ck_assert_int_eq(srv_store_ep_logs(f.st, "alice", "ep", &logs, &f.err), LF_OK);
    n = strlen(logs);
    ck_assert_uint_eq(n, SRV_STORE_LOG_MAX_BYTES);
    /* the newest bytes are kept */
    ck_assert_str_eq(logs + n - LINE, line);
    ck_assert_int_eq(logs[0], 'a' + LINES - (SRV_STORE_LOG_MAX_BYTES + LINE - 1) / LINE);
    free(logs);
    free(line);
    sfix_close(&f);
}
END_TEST

/* The limit is in bytes (srv_store.h), also for UTF-8 text from user code. */
START_TEST(test_store_ep_log_truncation_multibyte)
{
    struct sfix f;
    enum { CHARS = 30000 };
    char *line = malloc(2 * CHARS + 2), *logs = NULL;
    size_t n;

    ck_assert_ptr_nonnull(line);
    for (int i = 0; i < CHARS; i++)
        memcpy(line + 2 * i, "\xc3\xa9", 2); /* U+00E9, 2 bytes */
    line[2 * CHARS] = '\n';
    line[2 * CHARS + 1] = '\0';
    sfix_open(&f);
    insert_ep(&f, "e1", "alice", "ep", 1000);
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(srv_store_ep_set_status(f.st, "e1", 1, "UPDATE_IN_PROGRESS", line,
                                                 &f.err), LF_OK);
    ck_assert_int_eq(srv_store_ep_logs(f.st, "alice", "ep", &logs, &f.err), LF_OK);
    n = strlen(logs);
    free(line);
    free(logs);
    sfix_close(&f);
    ck_assert_msg(n <= SRV_STORE_LOG_MAX_BYTES, "kept %zu bytes of log, more than %d", n,
                  SRV_STORE_LOG_MAX_BYTES);
    ck_assert_uint_gt(n, SRV_STORE_LOG_MAX_BYTES - 4);
}
END_TEST

START_TEST(test_store_ep_mark_deleting_and_remove)
{
    struct sfix f;
    struct srv_ep_rec got, *recs = NULL;
    size_t n = 0;
    cJSON *doc;
    int64_t gen = 0;
    char *logs = NULL;

    sfix_open(&f);
    insert_ep(&f, "e1", "alice", "ep", 1000);
    ck_assert_int_eq(srv_store_ep_set_status(f.st, "e1", 1, "READY", "old log\n", &f.err), LF_OK);
    ck_assert_int_eq(srv_store_ep_mark_deleting(f.st, "e1", &f.err), LF_OK);
    ck_assert_int_eq(srv_store_ep_get(f.st, "alice", "e1", &got, &f.err), LF_OK);
    ck_assert_str_eq(got.status, "DELETE_IN_PROGRESS");
    ck_assert_str_eq(got.name, "ep"); /* still shown by its name */
    ck_assert_int_eq(got.generation, 2);
    srv_ep_rec_release(&got);
    /* a deleting endpoint takes no more changes */
    ck_assert_int_eq(srv_store_ep_mark_deleting(f.st, "e1", &f.err), LF_ENOENT);
    ck_assert_int_eq(srv_store_ep_set_status(f.st, "e1", 2, "READY", NULL, &f.err), LF_ENOENT);
    doc = doc_of("{}");
    ck_assert_int_eq(srv_store_ep_update(f.st, "e1", doc, "X", &gen, &f.err), LF_ENOENT);
    cJSON_Delete(doc);
    /* its name is free again, and lists leave it out */
    ck_assert_int_eq(srv_store_ep_list(f.st, "alice", NULL, SRV_ORDER_NONE, &recs, &n, &f.err),
                     LF_OK);
    ep_ids_are(recs, n, "");
    ck_assert_int_eq(srv_store_ep_logs(f.st, "alice", "ep", &logs, &f.err), LF_ENOENT);
    insert_ep(&f, "e2", "alice", "ep", 2000);
    ck_assert_int_eq(srv_store_ep_list(f.st, "alice", "ep", SRV_ORDER_NONE, &recs, &n, &f.err),
                     LF_OK);
    ep_ids_are(recs, n, "e2");
    ck_assert_int_eq(srv_store_ep_logs(f.st, "alice", "ep", &logs, &f.err), LF_OK);
    ck_assert_str_eq(logs, ""); /* the new endpoint's log, not the old one's */
    free(logs);
    /* recovery sees both */
    ck_assert_int_eq(srv_store_ep_all(f.st, &recs, &n, &f.err), LF_OK);
    ep_ids_are(recs, n, "e1,e2");
    /* remove */
    ck_assert_int_eq(srv_store_ep_remove(f.st, "e1", &f.err), LF_OK);
    ck_assert_int_eq(srv_store_ep_get(f.st, NULL, "e1", &got, &f.err), LF_ENOENT);
    ck_assert_int_eq(srv_store_ep_all(f.st, &recs, &n, &f.err), LF_OK);
    ep_ids_are(recs, n, "e2");
    ck_assert_int_eq(srv_store_ep_remove(f.st, "e1", &f.err), LF_OK); /* already gone */
    sfix_close(&f);
}
END_TEST

/* ---- upload tokens ---- */

START_TEST(test_store_uploads)
{
    struct sfix f;
    int64_t now = lf_now_us();

    sfix_open(&f);
    ck_assert_int_eq(srv_store_upload_add(f.st, "bundles/k1", "tok1", now + 60000000, &f.err),
                     LF_OK);
    ck_assert_int_eq(srv_store_upload_claim(f.st, "bundles/k1", "wrong", now, &f.err), LF_EPERM);
    ck_assert_int_eq(f.err.code, LF_EPERM);
    ck_assert_int_eq(srv_store_upload_claim(f.st, "bundles/other", "tok1", now, &f.err),
                     LF_EPERM);
    ck_assert_int_eq(srv_store_upload_claim(f.st, "bundles/k1", "tok1", now, &f.err), LF_OK);
    /* once only, while writing */
    ck_assert_int_eq(srv_store_upload_claim(f.st, "bundles/k1", "tok1", now, &f.err), LF_EPERM);
    /* a failed upload gives the token back */
    ck_assert_int_eq(srv_store_upload_finish(f.st, "bundles/k1", 0, &f.err), LF_OK);
    ck_assert_int_eq(srv_store_upload_claim(f.st, "bundles/k1", "tok1", now, &f.err), LF_OK);
    /* a finished one spends it */
    ck_assert_int_eq(srv_store_upload_finish(f.st, "bundles/k1", 1, &f.err), LF_OK);
    ck_assert_int_eq(srv_store_upload_claim(f.st, "bundles/k1", "tok1", now, &f.err), LF_EPERM);
    sfix_close(&f);
}
END_TEST

START_TEST(test_store_upload_expiry)
{
    struct sfix f;
    int64_t now = lf_now_us();

    sfix_open(&f);
    ck_assert_int_eq(srv_store_upload_add(f.st, "k2", "tok2", now - 1, &f.err), LF_OK);
    ck_assert_int_eq(srv_store_upload_claim(f.st, "k2", "tok2", now, &f.err), LF_EPERM);
    ck_assert_int_eq(srv_store_upload_add(f.st, "k3", "tok3", now + 1000, &f.err), LF_OK);
    ck_assert_int_eq(srv_store_upload_claim(f.st, "k3", "tok3", now + 1000, &f.err), LF_EPERM);
    ck_assert_int_eq(srv_store_upload_claim(f.st, "k3", "tok3", now + 999, &f.err), LF_OK);
    sfix_close(&f);
}
END_TEST

Suite *
store_suite(void)
{
    Suite *s = suite_create("store");
    TCase *tc;

    tc = unit_tcase(s, "store_open");
    tcase_add_test(tc, test_store_open_creates_and_reopens);
    tcase_add_test(tc, test_store_open_newer_schema);
    tcase_add_test(tc, test_store_open_bad_dir);

    tc = unit_tcase(s, "store_bundles");
    tcase_add_test(tc, test_store_bundles);
    tcase_add_test(tc, test_store_bundle_latest_tie);

    tc = unit_tcase(s, "store_endpoints");
    tcase_add_test(tc, test_store_ep_insert_and_get);
    tcase_add_test(tc, test_store_ep_list);
    tcase_add_test(tc, test_store_ep_update_and_status);
    tcase_add_test(tc, test_store_ep_log_truncation);
    tcase_add_test(tc, test_store_ep_log_truncation_multibyte);
    tcase_add_test(tc, test_store_ep_mark_deleting_and_remove);

    tc = unit_tcase(s, "store_uploads");
    tcase_add_test(tc, test_store_uploads);
    tcase_add_test(tc, test_store_upload_expiry);

    return s;
}
