/* Unit tests of the store's async tasks, callback deliveries and batch jobs
 * (server/srv_store_task.c, srv_store_batch.c), each on a fresh database. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <cjson/cJSON.h>

#include "lf_err.h"
#include "lf_util.h"
#include "srv_store.h"
#include "unit_json.h"
#include "unit_tmp.h"

struct tfix {
    char dir[PATH_MAX];
    struct srv_store *st;
    struct lf_err err;
};

static void
tfix_open(struct tfix *f)
{
    memset(f, 0, sizeof(*f));
    unit_tmp_make(f->dir);
    ck_assert_int_eq(srv_store_open(f->dir, &f->st, &f->err), LF_OK);
}

static void
tfix_close(struct tfix *f)
{
    srv_store_close(f->st);
    lf_err_release(&f->err);
    unit_tmp_remove(f->dir);
}

static void
task_row(struct srv_task_rec *t, const char *id, const char *owner, int64_t created_us)
{
    memset(t, 0, sizeof(*t));
    snprintf(t->id, sizeof(t->id), "%s", id);
    snprintf(t->endpoint_id, sizeof(t->endpoint_id), "end_x");
    t->owner = (char *)owner;
    t->request = (char *)"{\"args\":{}}";
    t->created_us = created_us;
}

START_TEST(test_task_lifecycle)
{
    struct tfix f;
    struct srv_task_rec t1, t2, t3, got, *pending = NULL;
    const struct srv_task_rec *rows[] = { &t1, &t2 }, *clash[] = { &t3, &t1 };
    size_t n = 0;
    int deleted = -1;
    struct srv_task_end end = { "t1", "SUCCESS", "{\"result\":\"15\"}", NULL, 1, NULL, NULL, NULL };
    struct srv_task_end t2_end = { "t2", "FAILURE", NULL, "boom", 1, NULL, NULL, NULL };

    tfix_open(&f);
    task_row(&t1, "t1", "k1", 10);
    task_row(&t2, "t2", "k1", 5);
    ck_assert_int_eq(srv_store_tasks_write(f.st, rows, 2, NULL, 0, 0, &f.err), LF_OK);
    /* A write with an id already stored writes nothing: neither its other
     * new rows nor its ends. */
    task_row(&t3, "t3", "k1", 20);
    ck_assert_int_eq(srv_store_tasks_write(f.st, clash, 2, &t2_end, 1, 30, &f.err), LF_EEXIST);
    ck_assert_int_eq(srv_store_task_get(f.st, "t3", &got, &f.err), LF_ENOENT);
    ck_assert_int_eq(srv_store_task_get(f.st, "t2", &got, &f.err), LF_OK);
    ck_assert_str_eq(got.state, "PENDING");
    srv_task_rec_release(&got);
    ck_assert_int_eq(srv_store_task_get(f.st, "t1", &got, &f.err), LF_OK);
    ck_assert_str_eq(got.state, "PENDING");
    ck_assert_str_eq(got.owner, "k1");
    ck_assert_ptr_null(got.result);
    srv_task_rec_release(&got);
    ck_assert_int_eq(srv_store_task_get(f.st, "nope", &got, &f.err), LF_ENOENT);
    /* Pending ones come oldest first. */
    ck_assert_int_eq(srv_store_tasks_pending(f.st, &pending, &n, &f.err), LF_OK);
    ck_assert_uint_eq(n, 2);
    ck_assert_str_eq(pending[0].id, "t2");
    for (size_t i = 0; i < n; i++)
        srv_task_rec_release(&pending[i]);
    free(pending);
    ck_assert_int_eq(srv_store_tasks_write(f.st, NULL, 0, &end, 1, 1000, &f.err), LF_OK);
    ck_assert_int_eq(srv_store_task_get(f.st, "t1", &got, &f.err), LF_OK);
    ck_assert_str_eq(got.state, "SUCCESS");
    ck_assert_str_eq(got.result, "{\"result\":\"15\"}");
    ck_assert_int_eq(got.attempts, 1);
    ck_assert_int_eq(got.finished_us, 1000);
    srv_task_rec_release(&got);
    /* Purge takes ended tasks only, and only those ended before the limit. */
    ck_assert_int_eq(srv_store_tasks_purge(f.st, 999, &deleted, &f.err), LF_OK);
    ck_assert_int_eq(deleted, 0);
    ck_assert_int_eq(srv_store_tasks_purge(f.st, 1001, &deleted, &f.err), LF_OK);
    ck_assert_int_eq(deleted, 1);
    ck_assert_int_eq(srv_store_task_get(f.st, "t1", &got, &f.err), LF_ENOENT);
    ck_assert_int_eq(srv_store_task_get(f.st, "t2", &got, &f.err), LF_OK);
    srv_task_rec_release(&got);
    tfix_close(&f);
}
END_TEST

START_TEST(test_callbacks_queue)
{
    struct tfix f;
    struct srv_task_rec t;
    struct srv_cb_rec d;
    bool got = true;
    int64_t next = -1;
    int n = -1;
    struct srv_task_end ends[3] = {
        { "a", "SUCCESS", "{}", NULL, 1, "http://h/cb", "{\"kind\":\"basic\"}", "{\"x\":1}" },
        { "b", "FAILURE", NULL, "boom", 1, NULL, NULL, NULL }, /* no callback */
        { "c", "SUCCESS", "{}", NULL, 1, "http://h/c", NULL, "{\"x\":3}" },
    };

    tfix_open(&f);
    for (int i = 0; i < 3; i++) {
        const struct srv_task_rec *row = &t;

        task_row(&t, ends[i].id, "k", 1);
        ck_assert_int_eq(srv_store_tasks_write(f.st, &row, 1, NULL, 0, 0, &f.err), LF_OK);
    }
    ck_assert_int_eq(srv_store_tasks_write(f.st, NULL, 0, ends, 3, 100, &f.err), LF_OK);
    /* Oldest first; a claimed delivery is not handed out twice. */
    ck_assert_int_eq(srv_store_cb_claim(f.st, 100, &d, &got, &next, &f.err), LF_OK);
    ck_assert(got);
    ck_assert_str_eq(d.task_id, "a");
    ck_assert_str_eq(d.url, "http://h/cb");
    ck_assert_str_eq(d.auth, "{\"kind\":\"basic\"}");
    ck_assert_str_eq(d.body, "{\"x\":1}");
    ck_assert_int_eq(d.attempts, 0);
    ck_assert_int_eq(next, 0);
    /* A retry is no longer claimed, due later, and reported as the next one. */
    ck_assert_int_eq(srv_store_cb_retry(f.st, d.id, 1, 500, &f.err), LF_OK);
    srv_cb_rec_release(&d);
    ck_assert_int_eq(srv_store_cb_claim(f.st, 200, &d, &got, &next, &f.err), LF_OK);
    ck_assert(got);
    ck_assert_str_eq(d.task_id, "c");
    ck_assert(d.auth == NULL);
    ck_assert_int_eq(next, 500);
    srv_cb_rec_release(&d);
    /* "c" is claimed: nothing else is due at 200. */
    ck_assert_int_eq(srv_store_cb_claim(f.st, 200, &d, &got, &next, &f.err), LF_OK);
    ck_assert(!got);
    ck_assert_int_eq(next, 500);
    ck_assert_int_eq(srv_store_cb_claim(f.st, 500, &d, &got, &next, &f.err), LF_OK);
    ck_assert(got);
    ck_assert_str_eq(d.task_id, "a");
    ck_assert_int_eq(d.attempts, 1);
    ck_assert_int_eq(srv_store_cb_done(f.st, d.id, &f.err), LF_OK);
    srv_cb_rec_release(&d);
    ck_assert_int_eq(srv_store_cb_claim(f.st, 9999, &d, &got, &next, &f.err), LF_OK);
    ck_assert(!got);
    ck_assert_int_eq(next, 0);
    /* A start after an exit with "c" still claimed makes it due again. */
    ck_assert_int_eq(srv_store_cb_unclaim_all(f.st, 600, &n, &f.err), LF_OK);
    ck_assert_int_eq(n, 1);
    ck_assert_int_eq(srv_store_cb_claim(f.st, 600, &d, &got, &next, &f.err), LF_OK);
    ck_assert(got);
    ck_assert_str_eq(d.task_id, "c");
    ck_assert_int_eq(srv_store_cb_done(f.st, d.id, &f.err), LF_OK);
    srv_cb_rec_release(&d);
    ck_assert_int_eq(srv_store_cb_unclaim_all(f.st, 700, &n, &f.err), LF_OK);
    ck_assert_int_eq(n, 0);
    tfix_close(&f);
}
END_TEST

struct collected {
    char keys[8][8];
    int n;
};

static int
collect(const struct srv_task_rec *t, void *ctx)
{
    struct collected *c = ctx;

    snprintf(c->keys[c->n++], sizeof(c->keys[0]), "%s", t->batch_key);
    return LF_OK;
}

START_TEST(test_batch_lifecycle)
{
    struct tfix f;
    struct srv_batch_rec job, got;
    struct srv_task_rec rows[3];
    struct srv_task_end end = { "r1", "SUCCESS", "{}", NULL, 1, NULL, NULL, NULL };
    struct collected c = { .n = 0 };
    int64_t pending = -1, done = -1;
    const char *keys[3] = { "z", "a", "m" };

    tfix_open(&f);
    memset(&job, 0, sizeof(job));
    snprintf(job.id, sizeof(job.id), "bat_1");
    job.owner = (char *)"k";
    job.doc = doc_of("{\"serialization_format\":\"JSON\"}");
    job.created_us = 1;
    ck_assert_int_eq(srv_store_batch_insert(f.st, &job, &f.err), LF_OK);
    cJSON_Delete(job.doc);
    ck_assert_int_eq(srv_store_batch_get(f.st, "other", "bat_1", &got, &f.err), LF_ENOENT);
    ck_assert_int_eq(srv_store_batch_get(f.st, "k", "bat_1", &got, &f.err), LF_OK);
    ck_assert_str_eq(got.status, "PENDING");
    ck_assert_int_eq(got.total, -1);
    srv_batch_rec_release(&got);
    for (int i = 0; i < 3; i++) {
        char id[8];

        snprintf(id, sizeof(id), "r%d", i);
        task_row(&rows[i], id, "k", 1);
        rows[i].batch_row = i;
        rows[i].batch_key = (char *)keys[i];
    }
    ck_assert_int_eq(srv_store_batch_start(f.st, "bat_1", rows, 3, &f.err), LF_OK);
    /* Starting twice is refused: the job is no longer PENDING. */
    ck_assert_int_eq(srv_store_batch_start(f.st, "bat_1", rows, 0, &f.err), LF_ENOENT);
    ck_assert_int_eq(srv_store_batch_counts(f.st, "bat_1", &pending, &done, &f.err), LF_OK);
    ck_assert_int_eq(pending, 3);
    ck_assert_int_eq(done, 0);
    ck_assert_int_eq(srv_store_tasks_write(f.st, NULL, 0, &end, 1, 5, &f.err), LF_OK);
    ck_assert_int_eq(srv_store_batch_fail_pending(f.st, "bat_1", "cancelled", &f.err), LF_OK);
    ck_assert_int_eq(srv_store_batch_counts(f.st, "bat_1", &pending, &done, &f.err), LF_OK);
    ck_assert_int_eq(pending, 0);
    ck_assert_int_eq(done, 3);
    /* Rows come back in input order, whatever their keys. */
    ck_assert_int_eq(srv_store_batch_rows(f.st, "bat_1", collect, &c, &f.err), LF_OK);
    ck_assert_int_eq(c.n, 3);
    ck_assert_str_eq(c.keys[0], "z");
    ck_assert_str_eq(c.keys[2], "m");
    /* A final status sticks. */
    ck_assert_int_eq(srv_store_batch_set(f.st, "bat_1", "CANCELLED", "cancelled", 1, &f.err),
                     LF_OK);
    ck_assert_int_eq(srv_store_batch_set(f.st, "bat_1", "SUCCESS", NULL, 3, &f.err), LF_OK);
    ck_assert_int_eq(srv_store_batch_get(f.st, NULL, "bat_1", &got, &f.err), LF_OK);
    ck_assert_str_eq(got.status, "CANCELLED");
    ck_assert_str_eq(got.error, "cancelled");
    ck_assert_int_eq(got.completed, 1);
    srv_batch_rec_release(&got);
    /* Batch rows are not purged with plain tasks; dropping them removes them. */
    {
        int deleted = -1;

        ck_assert_int_eq(srv_store_tasks_purge(f.st, INT64_MAX, &deleted, &f.err), LF_OK);
        ck_assert_int_eq(deleted, 0);
    }
    ck_assert_int_eq(srv_store_batch_drop_rows(f.st, "bat_1", &f.err), LF_OK);
    c.n = 0;
    ck_assert_int_eq(srv_store_batch_rows(f.st, "bat_1", collect, &c, &f.err), LF_OK);
    ck_assert_int_eq(c.n, 0);
    tfix_close(&f);
}
END_TEST

Suite *
store_task_suite(void)
{
    Suite *s = suite_create("store_task");
    TCase *tc;

    tc = unit_tcase(s, "tasks");
    tcase_add_test(tc, test_task_lifecycle);
    tcase_add_test(tc, test_callbacks_queue);
    tc = unit_tcase(s, "batch");
    tcase_add_test(tc, test_batch_lifecycle);
    return s;
}
