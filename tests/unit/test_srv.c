/* Unit tests of server/: auth keys, path normalization, routing, responses
 * and the endpoint cache (request validation and endpoint settings are in
 * test_srv_valid.c). */
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <check.h>
#include <cjson/cJSON.h>

#include "lf_err.h"
#include "lf_util.h"
#include "srv_int.h"
#include "srv_store.h"
#include "unit_json.h"
#include "unit_tmp.h"

/* ================= API-key file ================= */

START_TEST(test_auth_new)
{
    char dir[PATH_MAX], path[PATH_MAX];
    struct srv_auth *a = NULL;
    struct lf_err err = {0};

    ck_assert_int_eq(srv_auth_new("", &a, &err), LF_OK); /* open mode */
    ck_assert_ptr_nonnull(a);
    srv_auth_free(a);
    a = NULL;
    unit_tmp_make(dir);
    unit_tmp_write(dir, "keys", "# team keys\n  key-one  \n\nkey-two\n", path);
    ck_assert_int_eq(srv_auth_new(path, &a, &err), LF_OK);
    ck_assert_ptr_nonnull(a);
    srv_auth_free(a);
    a = NULL;
    srv_auth_free(NULL);
    unit_tmp_write(dir, "empty", "# only a comment\n\n", path);
    ck_assert_int_eq(srv_auth_new(path, &a, &err), LF_ECONFIG);
    ck_assert_ptr_nonnull(strstr(err.msg, path));
    unit_tmp_write(dir, "colon", "user:pass\n", path);
    ck_assert_int_eq(srv_auth_new(path, &a, &err), LF_ECONFIG);
    ck_assert_ptr_nonnull(strstr(err.msg, "api_keys"));
    ck_assert_ptr_null(a);
    lf_err_release(&err);
    unit_tmp_remove(dir);
}
END_TEST

START_TEST(test_auth_new_missing_file)
{
    static const char path[] = "/nonexistent/liftoff-unit-keys";
    struct srv_auth *a = NULL;
    struct lf_err err = {0};

    ck_assert_int_eq(srv_auth_new(path, &a, &err), LF_ECONFIG);
    ck_assert_ptr_null(a);
    ck_assert_ptr_nonnull(strstr(err.msg, "api_keys"));
    /* the setting once, then the reason (the message must not be formatted
     * from itself) */
    ck_assert_msg(unit_count(err.msg, "invalid api_keys") == 1, "garbled message '%s'",
                  err.msg);
    ck_assert_msg(strstr(err.msg, path) != NULL, "no path in '%s'", err.msg);
    ck_assert_msg(strstr(err.msg, "No such file") != NULL, "no reason in '%s'", err.msg);
    lf_err_release(&err);
}
END_TEST

/* ================= paths, routes, responses ================= */

static void
normalizes(const char *in, const char *want)
{
    char buf[256];

    snprintf(buf, sizeof(buf), "%s", in);
    srv_path_normalize(buf);
    ck_assert_msg(strcmp(buf, want) == 0, "'%s' gave '%s', not '%s'", in, buf, want);
}

START_TEST(test_path_normalize)
{
    normalizes("//v1//x/", "/v1/x");
    normalizes("/", "/");
    normalizes("//", "/");
    normalizes("///", "/");
    normalizes("", "");
    normalizes("/v1/model-bundles", "/v1/model-bundles");
    normalizes("/v1/model-bundles/", "/v1/model-bundles");
    normalizes("/a///b////c//", "/a/b/c");
}
END_TEST

static struct srv_req *
req_new(const char *method, const char *path)
{
    struct srv_req *r = calloc(1, sizeof(*r));

    ck_assert_ptr_nonnull(r);
    r->method = method;
    snprintf(r->path, sizeof(r->path), "%s", path);
    return r;
}

START_TEST(test_route_find)
{
    struct srv_req *r;

    r = req_new("GET", "/healthz");
    ck_assert_int_eq(srv_route_find(r), SRV_MATCH_OK);
    ck_assert_ptr_eq(r->route->handler, srv_h_health);
    ck_assert(r->route->flags & SRV_ROUTE_NO_AUTH);
    free(r);

    r = req_new("HEAD", "/readyz");
    ck_assert_int_eq(srv_route_find(r), SRV_MATCH_OK);
    free(r);

    r = req_new("GET", "//v1//model-bundles/latest/");
    ck_assert_int_eq(srv_route_find(r), SRV_MATCH_OK);
    ck_assert_str_eq(r->path, "/v1/model-bundles/latest");
    ck_assert_ptr_eq(r->route->handler, srv_h_bundle_latest_v1); /* before "{}" */
    free(r);

    r = req_new("GET", "/v2/model-bundles/bun_abc");
    ck_assert_int_eq(srv_route_find(r), SRV_MATCH_OK);
    ck_assert_ptr_eq(r->route->handler, srv_h_bundle_get_v2);
    ck_assert_str_eq(r->params[0], "bun_abc");
    free(r);

    r = req_new("PUT", "/upload/bundles/x.zip");
    ck_assert_int_eq(srv_route_find(r), SRV_MATCH_OK);
    ck_assert_str_eq(r->params[0], "bundles");
    ck_assert_str_eq(r->params[1], "x.zip");
    ck_assert(r->route->flags & SRV_ROUTE_UPLOAD);
    free(r);

    r = req_new("DELETE", "/v1/model-endpoints/end_1");
    ck_assert_int_eq(srv_route_find(r), SRV_MATCH_OK);
    ck_assert_ptr_eq(r->route->handler, srv_h_endpoint_delete);
    free(r);

    /* a final "{*}" takes the rest of the path, slashes included */
    r = req_new("GET", "/endpoints/creation_logs/team/my-ep");
    ck_assert_int_eq(srv_route_find(r), SRV_MATCH_OK);
    ck_assert_ptr_eq(r->route->handler, srv_h_endpoint_logs);
    ck_assert_str_eq(r->params[0], "team/my-ep");
    free(r);

    r = req_new("GET", "/v1/hosted_inference/endpoints/creation_logs/ep");
    ck_assert_int_eq(srv_route_find(r), SRV_MATCH_OK);
    ck_assert_str_eq(r->params[0], "ep");
    free(r);

    r = req_new("GET", "/endpoints/creation_logs/");
    ck_assert_int_eq(srv_route_find(r), SRV_MATCH_NOT_FOUND);
    free(r);

    r = req_new("POST", "/healthz");
    ck_assert_int_eq(srv_route_find(r), SRV_MATCH_BAD_METHOD);
    free(r);

    r = req_new("GET", "/nope");
    ck_assert_int_eq(srv_route_find(r), SRV_MATCH_NOT_FOUND);
    free(r);

    r = req_new("GET", "/a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p/q/r/s");
    ck_assert_int_eq(srv_route_find(r), SRV_MATCH_NOT_FOUND);
    free(r);
}
END_TEST

START_TEST(test_resp_err_statuses)
{
    static const struct { int code, status; } map[] = {
        { LF_ENOENT, 404 }, { LF_EINVAL, 400 }, { LF_EEXIST, 400 }, { LF_ETOOBIG, 413 },
        { LF_EPERM, 403 }, { LF_EBUSY, 503 }, { LF_EIO, 500 }, { LF_ENOMEM, 500 },
    };
    struct srv_req *r = req_new("GET", "/x");
    int saved = dup(STDERR_FILENO), null = open("/dev/null", O_WRONLY);

    /* the 500s log their message: keep it out of the test output */
    ck_assert_int_ge(saved, 0);
    ck_assert_int_ge(null, 0);
    ck_assert_int_ge(dup2(null, STDERR_FILENO), 0);
    close(null);
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
        struct lf_err err = {0};
        cJSON *body;

        lf_err_set(&err, map[i].code, "secret detail %zu", i);
        srv_resp_err(r, &err);
        ck_assert_int_eq(r->resp.status, map[i].status);
        body = doc_of(r->resp.body);
        if (map[i].status == 500) /* the message is logged, not sent */
            ck_assert_ptr_null(strstr(str_of(body, "detail"), "secret"));
        else
            ck_assert_str_eq(str_of(body, "detail"), err.msg);
        cJSON_Delete(body);
    }
    ck_assert_int_ge(dup2(saved, STDERR_FILENO), 0);
    close(saved);
    srv_resp_detail(r, 418, "teapot %d", 1);
    ck_assert_int_eq(r->resp.status, 418);
    ck_assert_str_eq(r->resp.body, "{\"detail\":\"teapot 1\"}");
    srv_resp_raw(r, 200, "text/plain", "a\0b", 3);
    ck_assert_uint_eq(r->resp.body_len, 3);
    ck_assert_str_eq(r->resp.content_type, "text/plain");
    ck_assert_int_eq(memcmp(r->resp.body, "a\0b", 4), 0);
    free(r->resp.body);
    free(r);
}
END_TEST

START_TEST(test_epcache)
{
    struct srv_epcache *c = NULL;
    struct lf_err err = {0};
    char id[32];
    bool sync = false;

    ck_assert_int_eq(srv_epcache_new(&c, &err), LF_OK);
    ck_assert(!srv_epcache_get(c, "end_a", "k1", &sync));
    /* Enough entries to grow the table several times. */
    for (int i = 0; i < 500; i++) {
        snprintf(id, sizeof(id), "end_%d", i);
        srv_epcache_put(c, id, i % 2 ? "k1" : "k2", i % 3 == 0);
    }
    for (int i = 0; i < 500; i++) {
        snprintf(id, sizeof(id), "end_%d", i);
        ck_assert(srv_epcache_get(c, id, i % 2 ? "k1" : "k2", &sync));
        ck_assert_int_eq(sync, i % 3 == 0);
        ck_assert(!srv_epcache_get(c, id, i % 2 ? "k2" : "k1", &sync)); /* other owner */
    }
    /* Removing every other entry keeps the rest reachable. */
    for (int i = 0; i < 500; i += 2) {
        snprintf(id, sizeof(id), "end_%d", i);
        srv_epcache_remove(c, id);
    }
    for (int i = 0; i < 500; i++) {
        snprintf(id, sizeof(id), "end_%d", i);
        ck_assert_int_eq(srv_epcache_get(c, id, i % 2 ? "k1" : "k2", &sync), i % 2 == 1);
    }
    srv_epcache_remove(c, "end_missing");
    srv_epcache_free(c);
}
END_TEST

Suite *
srv_suite(void)
{
    Suite *s = suite_create("srv");
    TCase *tc;

    tc = unit_tcase(s, "srv_epcache");
    tcase_add_test(tc, test_epcache);

    tc = unit_tcase(s, "srv_auth");
    tcase_add_test(tc, test_auth_new);
    tcase_add_test(tc, test_auth_new_missing_file);

    tc = unit_tcase(s, "srv_route");
    tcase_add_test(tc, test_path_normalize);
    tcase_add_test(tc, test_route_find);
    tcase_add_test(tc, test_resp_err_statuses);

    return s;
}
