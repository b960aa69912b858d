/* Unit tests of server/: request validation (srv_valid.c) and endpoint
 * settings (srv_ep_settings.c). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <cjson/cJSON.h>

#include "srv_int.h"
#include "srv_store.h"
#include "unit_json.h"
#include "unit_tmp.h"

/* ================= validation ================= */

/* "body/key" for the loc of error i of v. */
static void
loc_of(const struct srv_valid *v, int i, char *out, size_t cap)
{
    const cJSON *e = cJSON_GetArrayItem(v->errors, i), *part;
    size_t n = 0;

    out[0] = '\0';
    ck_assert_ptr_nonnull(e);
    ck_assert(cJSON_IsArray(cJSON_GetObjectItem(e, "loc")));
    cJSON_ArrayForEach(part, cJSON_GetObjectItem(e, "loc")) {
        ck_assert(cJSON_IsString(part));
        n += (size_t)snprintf(out + n, cap - n, "%s%s", n ? "/" : "", part->valuestring);
    }
}

/* Checks error i of v: its loc ("body/a/b"), its type, and a msg present. */
static void
err_is(const struct srv_valid *v, int i, const char *loc, const char *type)
{
    char got[512];
    const cJSON *e = cJSON_GetArrayItem(v->errors, i);

    loc_of(v, i, got, sizeof(got));
    ck_assert_str_eq(got, loc);
    ck_assert_str_eq(str_of(e, "type"), type);
    ck_assert_str_ne(str_of(e, "msg"), "");
    ck_assert_int_eq(cJSON_GetArraySize(e), 3);
}

static int
n_errors(const struct srv_valid *v)
{
    return v->errors ? cJSON_GetArraySize(v->errors) : 0;
}

START_TEST(test_valid_get_types)
{
    cJSON *obj = doc_of("{\"s\": 1, \"i\": 1.5, \"n\": \"x\", \"b\": 1, \"o\": [],"
                        " \"a\": {}, \"sa\": [\"x\", 1], \"sm\": {\"k\": 1}, \"q\": true,"
                        " \"big\": 1e16}");
    struct srv_valid v;

    srv_valid_init(&v, "body");
    ck_assert(srv_valid_ok(&v));
    ck_assert_ptr_null(srv_valid_get(&v, obj, "s", SRV_J_STRING, true));
    ck_assert_ptr_null(srv_valid_get(&v, obj, "i", SRV_J_INT, true));
    ck_assert_ptr_null(srv_valid_get(&v, obj, "n", SRV_J_NUMBER, false));
    ck_assert_ptr_null(srv_valid_get(&v, obj, "b", SRV_J_BOOL, false));
    ck_assert_ptr_null(srv_valid_get(&v, obj, "o", SRV_J_OBJECT, false));
    ck_assert_ptr_null(srv_valid_get(&v, obj, "a", SRV_J_ARRAY, false));
    ck_assert_ptr_null(srv_valid_get(&v, obj, "sa", SRV_J_STR_ARRAY, false));
    ck_assert_ptr_null(srv_valid_get(&v, obj, "sm", SRV_J_STR_MAP, false));
    ck_assert_ptr_null(srv_valid_get(&v, obj, "q", SRV_J_QUANTITY, false));
    ck_assert_ptr_null(srv_valid_get(&v, obj, "big", SRV_J_INT, false));
    ck_assert(!srv_valid_ok(&v));
    ck_assert_int_eq(n_errors(&v), 10);
    err_is(&v, 0, "body/s", "type_error.str");
    ck_assert_str_eq(str_of(cJSON_GetArrayItem(v.errors, 0), "msg"), "str type expected");
    err_is(&v, 1, "body/i", "type_error.integer");
    err_is(&v, 2, "body/n", "type_error.float");
    err_is(&v, 3, "body/b", "type_error.bool");
    err_is(&v, 4, "body/o", "type_error.dict");
    err_is(&v, 5, "body/a", "type_error.list");
    err_is(&v, 6, "body/sa", "type_error.list");
    err_is(&v, 7, "body/sm", "type_error.dict");
    err_is(&v, 8, "body/q", "type_error");
    err_is(&v, 9, "body/big", "type_error.integer");
    srv_valid_release(&v);
    ck_assert_ptr_null(v.errors);
    cJSON_Delete(obj);
}
END_TEST

START_TEST(test_valid_get_good_and_missing)
{
    cJSON *obj = doc_of("{\"s\": \"x\", \"i\": 3, \"f\": 3.0, \"n\": 0.5, \"b\": false,"
                        " \"o\": {}, \"a\": [1], \"sa\": [\"x\"], \"sm\": {\"k\": \"v\"},"
                        " \"q1\": \"1Gi\", \"q2\": 2, \"nul\": null, \"any\": [null]}");
    struct srv_valid v;

    srv_valid_init(&v, "body");
    ck_assert_str_eq(srv_valid_get(&v, obj, "s", SRV_J_STRING, true)->valuestring, "x");
    ck_assert_int_eq(srv_valid_get(&v, obj, "i", SRV_J_INT, true)->valueint, 3);
    ck_assert_ptr_nonnull(srv_valid_get(&v, obj, "f", SRV_J_INT, true));
    ck_assert_ptr_nonnull(srv_valid_get(&v, obj, "i", SRV_J_NUMBER, true));
    ck_assert_ptr_nonnull(srv_valid_get(&v, obj, "n", SRV_J_NUMBER, true));
    ck_assert_ptr_nonnull(srv_valid_get(&v, obj, "b", SRV_J_BOOL, true));
    ck_assert_ptr_nonnull(srv_valid_get(&v, obj, "o", SRV_J_OBJECT, true));
    ck_assert_ptr_nonnull(srv_valid_get(&v, obj, "a", SRV_J_ARRAY, true));
    ck_assert_ptr_nonnull(srv_valid_get(&v, obj, "sa", SRV_J_STR_ARRAY, true));
    ck_assert_ptr_nonnull(srv_valid_get(&v, obj, "sm", SRV_J_STR_MAP, true));
    ck_assert_ptr_nonnull(srv_valid_get(&v, obj, "q1", SRV_J_QUANTITY, true));
    ck_assert_ptr_nonnull(srv_valid_get(&v, obj, "q2", SRV_J_QUANTITY, true));
    ck_assert_ptr_nonnull(srv_valid_get(&v, obj, "any", SRV_J_ANY, true));
    /* absent or null: NULL, and an error only when required */
    ck_assert_ptr_null(srv_valid_get(&v, obj, "absent", SRV_J_STRING, false));
    ck_assert_ptr_null(srv_valid_get(&v, obj, "nul", SRV_J_STRING, false));
    ck_assert(srv_valid_ok(&v));
    ck_assert_ptr_null(srv_valid_get(&v, obj, "absent", SRV_J_STRING, true));
    ck_assert_ptr_null(srv_valid_get(&v, obj, "nul", SRV_J_INT, true));
    ck_assert_int_eq(n_errors(&v), 2);
    err_is(&v, 0, "body/absent", "value_error.missing");
    ck_assert_str_eq(str_of(cJSON_GetArrayItem(v.errors, 0), "msg"), "field required");
    err_is(&v, 1, "body/nul", "value_error.missing");
    srv_valid_release(&v);
    /* a non-object holds no fields */
    srv_valid_init(&v, "body");
    ck_assert_ptr_null(srv_valid_get(&v, cJSON_GetObjectItem(obj, "a"), "x", SRV_J_ANY, true));
    err_is(&v, 0, "body/x", "value_error.missing");
    srv_valid_release(&v);
    cJSON_Delete(obj);
}
END_TEST

START_TEST(test_valid_push_nesting)
{
    cJSON *obj = doc_of("{\"auth\": {\"kind\": 5}}");
    struct srv_valid v;

    srv_valid_init(&v, "body");
    srv_valid_push(&v, "auth");
    ck_assert_ptr_null(srv_valid_get(&v, cJSON_GetObjectItem(obj, "auth"), "kind",
                                     SRV_J_STRING, true));
    srv_valid_push(&v, "inner");
    srv_valid_fail(&v, NULL, "bad", "value_error");
    srv_valid_pop(&v);
    srv_valid_pop(&v);
    srv_valid_fail(&v, "top", "bad", "value_error");
    srv_valid_pop(&v); /* never below the root */
    srv_valid_fail(&v, "again", "bad", "value_error");
    ck_assert_int_eq(n_errors(&v), 4);
    err_is(&v, 0, "body/auth/kind", "type_error.str");
    err_is(&v, 1, "body/auth/inner", "value_error");
    err_is(&v, 2, "body/top", "value_error");
    err_is(&v, 3, "body/again", "value_error");
    srv_valid_release(&v);

    /* deeper than SRV_VALID_MAX_DEPTH: cut, not overrun */
    srv_valid_init(&v, "query");
    for (int i = 0; i < SRV_VALID_MAX_DEPTH + 3; i++)
        srv_valid_push(&v, "d");
    srv_valid_fail(&v, "k", "bad", "value_error");
    for (int i = 0; i < SRV_VALID_MAX_DEPTH + 3; i++)
        srv_valid_pop(&v);
    srv_valid_fail(&v, "k", "bad", "value_error");
    err_is(&v, 0, "query/d/d/d/d/d/k", "value_error");
    err_is(&v, 1, "query/k", "value_error");
    srv_valid_release(&v);
    cJSON_Delete(obj);
}
END_TEST

START_TEST(test_valid_enum)
{
    static const char *const kinds[] = { "basic", "mtls", NULL };
    cJSON *obj = doc_of("{\"a\": \"mtls\", \"b\": \"oauth\", \"c\": 1}");
    struct srv_valid v;
    const char *got;

    srv_valid_init(&v, "body");
    got = srv_valid_enum(&v, obj, "a", kinds, true);
    ck_assert_ptr_eq(got, kinds[1]);
    ck_assert(srv_valid_ok(&v));
    ck_assert_ptr_null(srv_valid_enum(&v, obj, "b", kinds, true));
    ck_assert_ptr_null(srv_valid_enum(&v, obj, "c", kinds, true));
    ck_assert_ptr_null(srv_valid_enum(&v, obj, "d", kinds, false));
    ck_assert_int_eq(n_errors(&v), 2);
    err_is(&v, 0, "body/b", "type_error.enum");
    ck_assert_ptr_nonnull(strstr(str_of(cJSON_GetArrayItem(v.errors, 0), "msg"),
                                 "'basic', 'mtls'"));
    err_is(&v, 1, "body/c", "type_error.str");
    srv_valid_release(&v);
    cJSON_Delete(obj);
}
END_TEST

START_TEST(test_valid_callbacks)
{
    cJSON *obj = doc_of("{\"u1\": \"https://example.com/cb\", \"u2\": \"ftp://x\","
                        " \"u3\": \"http://\", \"u4\": \"http://a b\","
                        " \"a1\": {\"kind\": \"basic\", \"username\": \"u\", \"password\": \"p\"},"
                        " \"a2\": {\"kind\": \"basic\"}, \"a3\": {\"kind\": \"mtls\","
                        " \"cert\": \"c\", \"key\": \"k\"}, \"a4\": {\"kind\": \"x\"}}");
    struct srv_valid v;

    srv_valid_init(&v, "body");
    ck_assert(srv_valid_callback_url(&v, obj, "u1"));
    ck_assert(!srv_valid_callback_url(&v, obj, "absent"));
    ck_assert(srv_valid_callback_auth(&v, obj, "a1"));
    ck_assert(srv_valid_callback_auth(&v, obj, "a3"));
    ck_assert(!srv_valid_callback_auth(&v, obj, "absent"));
    ck_assert(srv_valid_ok(&v));
    ck_assert(!srv_valid_callback_url(&v, obj, "u2"));
    ck_assert(!srv_valid_callback_url(&v, obj, "u3"));
    ck_assert(!srv_valid_callback_url(&v, obj, "u4"));
    ck_assert(!srv_valid_callback_auth(&v, obj, "a2"));
    ck_assert(!srv_valid_callback_auth(&v, obj, "a4"));
    ck_assert_int_eq(n_errors(&v), 6);
    err_is(&v, 0, "body/u2", "value_error.url.scheme");
    err_is(&v, 1, "body/u3", "value_error.url.scheme");
    err_is(&v, 2, "body/u4", "value_error.url.scheme");
    err_is(&v, 3, "body/a2/username", "value_error.missing");
    err_is(&v, 4, "body/a2/password", "value_error.missing");
    err_is(&v, 5, "body/a4/kind", "type_error.enum");
    srv_valid_release(&v);
    cJSON_Delete(obj);
}
END_TEST

START_TEST(test_valid_respond)
{
    struct srv_req *r = calloc(1, sizeof(*r));
    struct srv_valid v;
    cJSON *body, *detail;

    ck_assert_ptr_nonnull(r);
    srv_valid_init(&v, "body");
    srv_valid_fail(&v, "name", "field required", "value_error.missing");
    srv_valid_respond(&v, r);
    ck_assert_ptr_null(v.errors); /* handed over */
    srv_valid_release(&v);
    ck_assert_int_eq(r->resp.status, 422);
    body = doc_of(r->resp.body);
    detail = cJSON_GetObjectItem(body, "detail");
    ck_assert_int_eq(cJSON_GetArraySize(detail), 1);
    ck_assert_str_eq(str_of(cJSON_GetArrayItem(detail, 0), "type"), "value_error.missing");
    cJSON_Delete(body);
    /* no errors: an empty list */
    srv_valid_init(&v, "body");
    srv_valid_respond(&v, r);
    ck_assert_str_eq(r->resp.body, "{\"detail\":[]}");
    free(r->resp.body);
    free(r);
}
END_TEST

/* ================= endpoint settings ================= */

static void
quantity_ok(const char *json, double want)
{
    cJSON *item = doc_of(json);
    double got = -1;

    ck_assert_msg(srv_quantity_parse(item, &got) == 0, "rejected %s", json);
    ck_assert_msg(fabs(got - want) <= 1e-9 * fabs(want), "%s gave %g, not %g", json, got, want);
    cJSON_Delete(item);
}

static void
quantity_bad(const char *json)
{
    cJSON *item = doc_of(json);
    double got = -1;

    ck_assert_msg(srv_quantity_parse(item, &got) == -1, "accepted %s as %g", json, got);
    cJSON_Delete(item);
}

START_TEST(test_quantity_parse)
{
    quantity_ok("\"1\"", 1);
    quantity_ok("1", 1);
    quantity_ok("0.5", 0.5);
    quantity_ok("\"0.5\"", 0.5);
    quantity_ok("\".5\"", 0.5);
    quantity_ok("\"500m\"", 0.5);
    quantity_ok("\"8Gi\"", 8.0 * 1073741824.0);
    quantity_ok("\"512Mi\"", 512.0 * 1048576.0);
    quantity_ok("\"2k\"", 2000);
    quantity_ok("\"10G\"", 1e10);
    quantity_ok("\"1e3\"", 1000);
    quantity_ok("-2", -2); /* a number as given: settings_check rejects it */
    quantity_bad("\"abc\"");
    quantity_bad("\"8Gx\"");
    quantity_bad("\"\"");
    quantity_bad("\"-1\"");
    quantity_bad("\" 1\"");
    quantity_bad("\"1 \"");
    quantity_bad("\"8gi\"");
    quantity_bad("\"1e999\"");
    quantity_bad("\"inf\"");
    quantity_bad("true");
    quantity_bad("null");
    quantity_bad("[1]");
    quantity_bad("{\"a\": 1}");
}
END_TEST

/* Kubernetes quantities are decimal: strtod's hexadecimal floats are not. */
START_TEST(test_quantity_parse_rejects_hex)
{
    quantity_bad("\"0x10\"");
    quantity_bad("\"0x1p4\"");
}
END_TEST

static const char VALID_DOC[] =
    "{\"metadata\": {\"team\": \"x\"}, \"cpus\": \"1\", \"gpus\": 0, \"memory\": \"8Gi\","
    " \"storage\": \"10G\", \"min_workers\": 0, \"max_workers\": 2, \"per_worker\": 1,"
    " \"post_inference_hooks\": [\"callback\", \"Billing\"]}";

/* Runs srv_ep_settings_check on VALID_DOC with key set to value (JSON;
 * NULL removes key), and checks the verdict and that msg holds want. */
static void
check_with(const char *key, const char *value, bool ok, const char *want)
{
    cJSON *doc = doc_of(VALID_DOC);
    char msg[256] = "";

    if (key != NULL) {
        cJSON_DeleteItemFromObject(doc, key);
        if (value != NULL)
            cJSON_AddItemToObject(doc, key, doc_of(value));
    }
    ck_assert_msg(srv_ep_settings_check(doc, msg, sizeof(msg)) == ok, "%s=%s: '%s'",
                  key ? key : "-", value ? value : "-", msg);
    if (!ok)
        ck_assert_msg(strstr(msg, want) != NULL, "'%s' not in '%s'", want, msg);
    cJSON_Delete(doc);
}

START_TEST(test_settings_check_valid)
{
    check_with(NULL, NULL, true, NULL);
    check_with("storage", NULL, true, NULL);
    check_with("storage", "null", true, NULL);
    check_with("post_inference_hooks", NULL, true, NULL);
    check_with("max_workers", "250", true, NULL);
    check_with("cpus", "0.25", true, NULL);
    check_with("cpus", "\"250m\"", true, NULL);
}
END_TEST

START_TEST(test_settings_check_invalid)
{
    cJSON *doc;
    char msg[256];

    check_with("gpus", "1", false, "gpu_type");
    check_with("gpu_type", "\"nvidia-tesla-t4\"", false, "gpus=0");
    check_with("min_workers", "3", false, "min workers");
    check_with("max_workers", "251", false, "251");
    check_with("post_inference_hooks", "[\"callback\", \"email\"]", false, "email");
    check_with("metadata", "{\"_CONVERTED_FROM_ARTIFACT_LIKE\": true}", false,
               "_CONVERTED_FROM_ARTIFACT_LIKE");
    check_with("cpus", "0", false, "cpus");
    check_with("cpus", "-0.5", false, "cpus");
    check_with("cpus", "\"0\"", false, "cpus");
    check_with("cpus", "\"-1\"", false, "cpus");
    check_with("memory", "\"lots\"", false, "memory");
    check_with("storage", "\"0Gi\"", false, "storage");
    /* gpus with a gpu_type is fine */
    doc = doc_of(VALID_DOC);
    cJSON_ReplaceItemInObject(doc, "gpus", cJSON_CreateNumber(1));
    cJSON_AddStringToObject(doc, "gpu_type", "nvidia-ampere-a10");
    ck_assert(srv_ep_settings_check(doc, msg, sizeof(msg)));
    cJSON_Delete(doc);
}
END_TEST

START_TEST(test_settings_check_small_msg)
{
    cJSON *doc = doc_of(VALID_DOC);
    char msg[12];

    memset(msg, 'x', sizeof(msg));
    cJSON_ReplaceItemInObject(doc, "min_workers", cJSON_CreateNumber(9));
    ck_assert(!srv_ep_settings_check(doc, msg, sizeof(msg)));
    ck_assert_uint_eq(strlen(msg), sizeof(msg) - 1);
    cJSON_Delete(doc);
}
END_TEST

static const char CREATE_IN[] =
    "{\"name\": \"ep\", \"metadata\": {}, \"cpus\": 1, \"gpus\": 1, \"gpu_type\": \"nvidia-a100\","
    " \"memory\": \"4Gi\", \"storage\": \"1Gi\", \"min_workers\": 1, \"max_workers\": 3,"
    " \"per_worker\": 2, \"labels\": {\"team\": \"a\"}, \"post_inference_hooks\": [\"callback\"],"
    " \"high_priority\": true, \"billing_tags\": {\"x\": 1}, \"optimize_costs\": false,"
    " \"prewarm\": true, \"public_inference\": false, \"aws_role\": \"r\","
    " \"results_s3_bucket\": \"b\", \"default_callback_url\": \"https://cb.example/x\","
    " \"default_callback_auth\": {\"kind\": \"basic\", \"username\": \"u\", \"password\": \"p\"},"
    " \"unknown_field\": 1}";

START_TEST(test_settings_apply_create)
{
    cJSON *in = doc_of(CREATE_IN), *doc = cJSON_CreateObject();
    struct srv_valid v;
    char msg[256];
    static const char *const keys[] = {
        "metadata", "cpus", "gpus", "gpu_type", "memory", "storage", "min_workers",
        "max_workers", "per_worker", "labels", "post_inference_hooks", "high_priority",
        "billing_tags", "optimize_costs", "prewarm", "public_inference", "aws_role",
        "results_s3_bucket", "default_callback_url", "default_callback_auth",
    };

    srv_valid_init(&v, "body");
    srv_ep_settings_apply(&v, in, doc, true);
    ck_assert_msg(srv_valid_ok(&v), "errors on a valid request");
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
        ck_assert_msg(cJSON_HasObjectItem(doc, keys[i]), "%s not copied", keys[i]);
    ck_assert(!cJSON_HasObjectItem(doc, "unknown_field"));
    ck_assert(!cJSON_HasObjectItem(doc, "name"));
    ck_assert_msg(srv_ep_settings_check(doc, msg, sizeof(msg)), "%s", msg);
    /* doc holds copies */
    cJSON_Delete(in);
    ck_assert_str_eq(str_of(doc, "memory"), "4Gi");
    srv_valid_release(&v);
    cJSON_Delete(doc);
}
END_TEST

START_TEST(test_settings_apply_create_errors)
{
    cJSON *in = doc_of("{}"), *doc = cJSON_CreateObject();
    struct srv_valid v;

    srv_valid_init(&v, "body");
    srv_ep_settings_apply(&v, in, doc, true);
    ck_assert_int_eq(n_errors(&v), 7);
    err_is(&v, 0, "body/metadata", "value_error.missing");
    err_is(&v, 1, "body/cpus", "value_error.missing");
    err_is(&v, 2, "body/gpus", "value_error.missing");
    err_is(&v, 3, "body/memory", "value_error.missing");
    err_is(&v, 4, "body/min_workers", "value_error.missing");
    err_is(&v, 5, "body/max_workers", "value_error.missing");
    err_is(&v, 6, "body/per_worker", "value_error.missing");
    srv_valid_release(&v);
    cJSON_Delete(in);
    cJSON_Delete(doc);

    in = doc_of("{\"metadata\": {}, \"cpus\": 1, \"gpus\": -1, \"memory\": \"1Gi\","
                " \"min_workers\": 0, \"max_workers\": 1, \"per_worker\": 0,"
                " \"gpu_type\": \"nvidia-voodoo\", \"labels\": {\"a\": 1},"
                " \"default_callback_auth\": {\"kind\": \"mtls\"}}");
    doc = cJSON_CreateObject();
    srv_valid_init(&v, "body");
    srv_ep_settings_apply(&v, in, doc, true);
    ck_assert_int_eq(n_errors(&v), 6);
    err_is(&v, 0, "body/gpus", "value_error.number.not_ge");
    err_is(&v, 1, "body/per_worker", "value_error.number.not_gt");
    err_is(&v, 2, "body/labels", "type_error.dict");
    err_is(&v, 3, "body/gpu_type", "type_error.enum");
    err_is(&v, 4, "body/default_callback_auth/cert", "value_error.missing");
    err_is(&v, 5, "body/default_callback_auth/key", "value_error.missing");
    srv_valid_release(&v);
    cJSON_Delete(in);
    cJSON_Delete(doc);
}
END_TEST

START_TEST(test_settings_apply_update_merges_labels)
{
    cJSON *doc = doc_of("{\"cpus\": 1, \"labels\": {\"a\": \"1\", \"b\": \"2\"}}");
    cJSON *in = doc_of("{\"cpus\": \"2\", \"labels\": {\"b\": \"3\", \"c\": \"4\"}}");
    cJSON *empty = doc_of("{}"), *labels;
    struct srv_valid v;

    srv_valid_init(&v, "body");
    srv_ep_settings_apply(&v, empty, doc, false); /* nothing is required on update */
    ck_assert(srv_valid_ok(&v));
    srv_ep_settings_apply(&v, in, doc, false);
    ck_assert(srv_valid_ok(&v));
    ck_assert_str_eq(str_of(doc, "cpus"), "2");
    labels = cJSON_GetObjectItem(doc, "labels");
    ck_assert_int_eq(cJSON_GetArraySize(labels), 3);
    ck_assert_str_eq(str_of(labels, "a"), "1");
    ck_assert_str_eq(str_of(labels, "b"), "3");
    ck_assert_str_eq(str_of(labels, "c"), "4");
    /* on create, labels replace */
    srv_ep_settings_apply(&v, in, doc, true);
    labels = cJSON_GetObjectItem(doc, "labels");
    ck_assert_int_eq(cJSON_GetArraySize(labels), 2);
    srv_valid_release(&v);
    cJSON_Delete(in);
    cJSON_Delete(empty);
    cJSON_Delete(doc);
}
END_TEST

START_TEST(test_ep_name_valid)
{
    cJSON *in;
    struct srv_valid v;
    char json[128];

    srv_valid_init(&v, "body");
    in = doc_of("{\"name\": \"my-endpoint\"}");
    ck_assert(srv_ep_name_valid(&v, in));
    cJSON_Delete(in);
    snprintf(json, sizeof(json), "{\"name\": \"%063d\"}", 0);
    in = doc_of(json);
    ck_assert(srv_ep_name_valid(&v, in));
    cJSON_Delete(in);
    ck_assert(srv_valid_ok(&v));

    snprintf(json, sizeof(json), "{\"name\": \"%064d\"}", 0);
    in = doc_of(json);
    ck_assert(!srv_ep_name_valid(&v, in));
    cJSON_Delete(in);
    in = doc_of("{\"name\": \"\"}");
    ck_assert(!srv_ep_name_valid(&v, in));
    cJSON_Delete(in);
    in = doc_of("{\"name\": 5}");
    ck_assert(!srv_ep_name_valid(&v, in));
    cJSON_Delete(in);
    in = doc_of("{}");
    ck_assert(!srv_ep_name_valid(&v, in));
    cJSON_Delete(in);
    ck_assert_int_eq(n_errors(&v), 4);
    err_is(&v, 0, "body/name", "value_error.any_str.max_length");
    err_is(&v, 1, "body/name", "value_error.any_str.min_length");
    err_is(&v, 2, "body/name", "type_error.str");
    err_is(&v, 3, "body/name", "value_error.missing");
    srv_valid_release(&v);
}
END_TEST

Suite *
srv_valid_suite(void)
{
    Suite *s = suite_create("srv_valid");
    TCase *tc;

    tc = unit_tcase(s, "srv_valid");
    tcase_add_test(tc, test_valid_get_types);
    tcase_add_test(tc, test_valid_get_good_and_missing);
    tcase_add_test(tc, test_valid_push_nesting);
    tcase_add_test(tc, test_valid_enum);
    tcase_add_test(tc, test_valid_callbacks);
    tcase_add_test(tc, test_valid_respond);

    tc = unit_tcase(s, "srv_ep_settings");
    tcase_add_test(tc, test_quantity_parse);
    tcase_add_test(tc, test_quantity_parse_rejects_hex);
    tcase_add_test(tc, test_settings_check_valid);
    tcase_add_test(tc, test_settings_check_invalid);
    tcase_add_test(tc, test_settings_check_small_msg);
    tcase_add_test(tc, test_settings_apply_create);
    tcase_add_test(tc, test_settings_apply_create_errors);
    tcase_add_test(tc, test_settings_apply_update_merges_labels);
    tcase_add_test(tc, test_ep_name_valid);

    return s;
}
