/* Unit tests of the pickle writer of batch results (server/srv_batchfmt.c):
 * byte for byte where Python's own output has no memo opcodes, and otherwise
 * by loading the pickles in Debian's Python and comparing json.dumps. */
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>
#include <cjson/cJSON.h>

#include "lf_buf.h"
#include "lf_err.h"
#include "srv_batchfmt.h"
#include "unit_tmp.h"

#define PYTHON "/usr/bin/python3"
#define NO_LIMIT SIZE_MAX
/* A buffer cap that is no limit in practice (lf_buf_init(SIZE_MAX) would
 * wrap its "cap + 1" to 0). */
#define BUF_NO_CAP (SIZE_MAX / 2)

/* ==== pickle helpers ==== */

/* Pickles the JSON text json into a fresh buffer (asserting success). */
static void
pickle_text(const char *json, struct lf_buf *b)
{
    cJSON *v = cJSON_Parse(json);
    struct lf_err err = {0};
    int rc;

    ck_assert_msg(v != NULL, "bad test JSON: %s", json);
    lf_buf_init(b, BUF_NO_CAP);
    rc = srv_pickle_json(v, b, &err);
    ck_assert_msg(rc == LF_OK, "pickle failed: %d %s", rc, err.msg);
    cJSON_Delete(v);
    lf_err_release(&err);
}

/* Asserts that the pickle of json is exactly want (n bytes). */
static void
pickle_bytes(const char *json, const char *want, size_t n)
{
    struct lf_buf b;

    pickle_text(json, &b);
    ck_assert_msg(b.len == n && memcmp(b.data, want, n) == 0, "pickle of %s differs", json);
    lf_buf_release(&b);
}

#define PICKLE_BYTES(json, lit) pickle_bytes(json, lit, sizeof(lit) - 1)

/* Loads the n bytes at data with Python's pickle and returns json.dumps of
 * the value (malloc'd, without the final newline). */
static char *
python_load(const char *data, size_t n)
{
    char dir[PATH_MAX], path[PATH_MAX], cmd[2 * PATH_MAX], line[1 << 16];
    struct lf_buf out;
    FILE *f, *p;
    char *text;

    ck_assert_msg(access(PYTHON, X_OK) == 0, PYTHON " is needed for the pickle tests");
    unit_tmp_make(dir);
    snprintf(path, sizeof(path), "%s/v.pickle", dir);
    f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(data, 1, n, f), n);
    ck_assert_int_eq(fclose(f), 0);
    /* No sort_keys: the key order is part of what is checked. */
    snprintf(cmd, sizeof(cmd),
             PYTHON " -c 'import pickle,json,sys; "
                    "v=pickle.load(open(sys.argv[1],\"rb\")); print(json.dumps(v))' '%s'",
             path);
    p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    lf_buf_init(&out, BUF_NO_CAP);
    while ((n = fread(line, 1, sizeof(line), p)) > 0)
        ck_assert_int_eq(lf_buf_add(&out, line, n), LF_OK);
    ck_assert_int_eq(pclose(p), 0);
    unit_tmp_remove(dir);
    text = lf_buf_detach(&out, &n);
    ck_assert_ptr_nonnull(text);
    if (n > 0 && text[n - 1] == '\n')
        text[n - 1] = '\0';
    return text;
}

/* Asserts that the pickle of json loads in Python to a value whose
 * json.dumps is want. */
static void
round_trip(const char *json, const char *want)
{
    struct lf_buf b;
    char *got;

    pickle_text(json, &b);
    got = python_load(b.data, b.len);
    ck_assert_str_eq(got, want);
    free(got);
    lf_buf_release(&b);
}

/* A JSON text of depth nested arrays around 1 (malloc'd). */
static char *
nested_arrays(int depth)
{
    char *s = malloc(2 * (size_t)depth + 2);

    ck_assert_ptr_nonnull(s);
    memset(s, '[', (size_t)depth);
    s[depth] = '1';
    memset(s + depth + 1, ']', (size_t)depth);
    s[2 * depth + 1] = '\0';
    return s;
}

/* ==== pickle: exact bytes ==== */

/* The expected bytes are Python 3.11's pickle.dumps(v, protocol=2); for
 * scalars other than str Python writes no memo opcode, so they match. */
START_TEST(test_pickle_ints_exact)
{
    PICKLE_BYTES("0", "\x80\x02K\x00.");
    PICKLE_BYTES("255", "\x80\x02K\xff.");
    PICKLE_BYTES("256", "\x80\x02M\x00\x01.");
    PICKLE_BYTES("65535", "\x80\x02M\xff\xff.");
    PICKLE_BYTES("65536", "\x80\x02J\x00\x00\x01\x00.");
    PICKLE_BYTES("-1", "\x80\x02J\xff\xff\xff\xff.");
    PICKLE_BYTES("2147483647", "\x80\x02J\xff\xff\xff\x7f.");
    PICKLE_BYTES("-2147483648", "\x80\x02J\x00\x00\x00\x80.");
    PICKLE_BYTES("2147483648", "\x80\x02\x8a\x05\x00\x00\x00\x80\x00.");
    PICKLE_BYTES("-2147483649", "\x80\x02\x8a\x05\xff\xff\xff\x7f\xff.");
    PICKLE_BYTES("9007199254740991", "\x80\x02\x8a\x07\xff\xff\xff\xff\xff\xff\x1f.");
    PICKLE_BYTES("-9007199254740991", "\x80\x02\x8a\x07\x01\x00\x00\x00\x00\x00\xe0.");
    /* A whole number written with a fraction or exponent is still an int. */
    PICKLE_BYTES("2.0", "\x80\x02K\x02.");
    PICKLE_BYTES("1e3", "\x80\x02M\xe8\x03.");
}
END_TEST

START_TEST(test_pickle_floats_exact)
{
    PICKLE_BYTES("1.5", "\x80\x02G?\xf8\x00\x00\x00\x00\x00\x00.");
    PICKLE_BYTES("0.1", "\x80\x02G?\xb9\x99\x99\x99\x99\x99\x9a.");
    PICKLE_BYTES("-2.5", "\x80\x02G\xc0\x04\x00\x00\x00\x00\x00\x00.");
    PICKLE_BYTES("1e300", "\x80\x02G~7\xe4<\x88\x00u\x9c.");
    /* 2^53 and beyond: not exact in a double, so a float. */
    PICKLE_BYTES("9007199254740992", "\x80\x02GC@\x00\x00\x00\x00\x00\x00.");
    PICKLE_BYTES("9223372036854775808", "\x80\x02GC\xe0\x00\x00\x00\x00\x00\x00.");
}
END_TEST

START_TEST(test_pickle_constants_exact)
{
    PICKLE_BYTES("true", "\x80\x02\x88.");
    PICKLE_BYTES("false", "\x80\x02\x89.");
    PICKLE_BYTES("null", "\x80\x02N.");
}
END_TEST

/* Python writes a BINPUT (q, index) after each str, list and dict; these
 * are its bytes without them. */
START_TEST(test_pickle_containers_exact)
{
    PICKLE_BYTES("\"a\"", "\x80\x02X\x01\x00\x00\x00" "a.");
    PICKLE_BYTES("\"\"", "\x80\x02X\x00\x00\x00\x00.");
    PICKLE_BYTES("\"\\u00e9\"", "\x80\x02X\x02\x00\x00\x00\xc3\xa9.");
    PICKLE_BYTES("[]", "\x80\x02].");
    PICKLE_BYTES("{}", "\x80\x02}.");
    PICKLE_BYTES("[1]", "\x80\x02]K\x01" "a.");
    PICKLE_BYTES("[1,2]", "\x80\x02](K\x01K\x02" "e.");
    PICKLE_BYTES("{\"a\":1}", "\x80\x02}X\x01\x00\x00\x00" "aK\x01s.");
    PICKLE_BYTES("{\"a\":1,\"b\":2}",
                 "\x80\x02}(X\x01\x00\x00\x00" "aK\x01X\x01\x00\x00\x00" "bK\x02u.");
    PICKLE_BYTES("[[]]", "\x80\x02]]a.");
}
END_TEST

START_TEST(test_pickle_batches_of_1000)
{
    struct lf_buf json, b;
    size_t n;

    /* 1001 items: MARK, 1000 items, APPENDS, then one item and APPEND, as
     * Python's batch_appends writes them. */
    lf_buf_init(&json, BUF_NO_CAP);
    ck_assert_int_eq(lf_buf_adds(&json, "[0"), LF_OK);
    for (int i = 1; i < 1001; i++)
        ck_assert_int_eq(lf_buf_adds(&json, ",0"), LF_OK);
    ck_assert_int_eq(lf_buf_adds(&json, "]"), LF_OK);
    pickle_text(json.data, &b);
    n = 3 + 1 + 2 * 1000 + 1 + 2 + 1 + 1;
    ck_assert_uint_eq(b.len, n);
    ck_assert_mem_eq(b.data, "\x80\x02](K\x00", 6);
    ck_assert_int_eq(b.data[3 + 1 + 2000], 'e');
    ck_assert_mem_eq(b.data + n - 4, "K\x00" "a.", 4);
    lf_buf_release(&b);
    lf_buf_release(&json);
}
END_TEST

/* ==== pickle: round trips through Python ==== */

START_TEST(test_pickle_round_trip_scalars)
{
    round_trip("0", "0");
    round_trip("-7", "-7");
    round_trip("123456789012", "123456789012");
    round_trip("-9007199254740991", "-9007199254740991");
    round_trip("9007199254740992", "9007199254740992.0");
    round_trip("1.25", "1.25");
    round_trip("-0.001", "-0.001");
    round_trip("1e20", "1e+20");
    round_trip("1.7976931348623157e308", "1.7976931348623157e+308");
    round_trip("true", "true");
    round_trip("false", "false");
    round_trip("null", "null");
    round_trip("\"hello\"", "\"hello\"");
    round_trip("\"caf\\u00e9 \\u20ac \\ud83d\\ude00\"", "\"caf\\u00e9 \\u20ac \\ud83d\\ude00\"");
    round_trip("\"quote \\\" slash \\\\ nl \\n tab \\t\"",
               "\"quote \\\" slash \\\\ nl \\n tab \\t\"");
}
END_TEST

START_TEST(test_pickle_round_trip_containers)
{
    round_trip("[]", "[]");
    round_trip("{}", "{}");
    round_trip("[1, \"a\", null, true, 2.5, [], {}]", "[1, \"a\", null, true, 2.5, [], {}]");
    /* Keys keep their order (no sort_keys in the check). */
    round_trip("{\"z\": 1, \"a\": 2, \"m\": {\"y\": [1, {\"b\": null}], \"c\": \"\"}}",
               "{\"z\": 1, \"a\": 2, \"m\": {\"y\": [1, {\"b\": null}], \"c\": \"\"}}");
    round_trip("{\"\": 0, \"\\u00e9\": 1}", "{\"\": 0, \"\\u00e9\": 1}");
    /* A repeated key: the last value wins, in the first one's place, as
     * with json.loads. */
    round_trip("{\"a\": 1, \"b\": 2, \"a\": 3}", "{\"a\": 3, \"b\": 2}");
}
END_TEST

START_TEST(test_pickle_round_trip_results_list)
{
    /* The shape spec 8.2 pickles: a list of result objects. */
    static const char json[] =
        "[{\"task_id\": \"t-0\", \"status\": \"SUCCESS\", "
        "\"result\": {\"result\": \"{\\\"y\\\": 3}\"}, \"traceback\": null, "
        "\"status_code\": null, \"id\": \"0\"}, "
        "{\"task_id\": \"t-1\", \"status\": \"FAILURE\", \"result\": null, "
        "\"traceback\": \"Traceback (most recent call last):\\n  boom\\n\", "
        "\"status_code\": null, \"id\": \"1\"}]";

    round_trip(json, json);
}
END_TEST

START_TEST(test_pickle_round_trip_large)
{
    struct lf_buf json, want;

    /* Several batches of dicts and lists, and ints of every width. */
    lf_buf_init(&json, BUF_NO_CAP);
    lf_buf_init(&want, BUF_NO_CAP);
    ck_assert_int_eq(lf_buf_adds(&json, "{"), LF_OK);
    ck_assert_int_eq(lf_buf_adds(&want, "{"), LF_OK);
    for (int i = 0; i < 2500; i++) {
        long long v = (long long)i * i * i * i * (i % 2 ? -1 : 1);

        ck_assert_int_eq(lf_buf_addf(&json, "%s\"k%d\":[%lld,%d]", i ? "," : "", i, v, i),
                         LF_OK);
        ck_assert_int_eq(lf_buf_addf(&want, "%s\"k%d\": [%lld, %d]", i ? ", " : "", i, v, i),
                         LF_OK);
    }
    ck_assert_int_eq(lf_buf_adds(&json, "}"), LF_OK);
    ck_assert_int_eq(lf_buf_adds(&want, "}"), LF_OK);
    round_trip(json.data, want.data);
    lf_buf_release(&json);
    lf_buf_release(&want);
}
END_TEST

START_TEST(test_pickle_round_trip_csv_args)
{
    /* What the CSV reader gives can be pickled back as the same value. */
    struct srv_batch_input in;
    struct lf_buf b;
    struct lf_err err = {0};
    char *got;

    {
        static const char csv[] = "id,args\r\n0,eyJ4IjogMiwgInkiOiAiaGVsbG8ifQ==\r\n";

        ck_assert_int_eq(srv_batch_input_parse(csv, sizeof(csv) - 1, 10, &in, &err), LF_OK);
        ck_assert_uint_eq(in.n, 1);
    }
    lf_buf_init(&b, BUF_NO_CAP);
    ck_assert_int_eq(srv_pickle_json(in.rows[0].args, &b, &err), LF_OK);
    got = python_load(b.data, b.len);
    ck_assert_str_eq(got, "{\"x\": 2, \"y\": \"hello\"}");
    free(got);
    lf_buf_release(&b);
    srv_batch_input_release(&in);
}
END_TEST

START_TEST(test_pickle_depth_limit)
{
    char *ok = nested_arrays(SRV_PICKLE_MAX_DEPTH);
    char *deep = nested_arrays(SRV_PICKLE_MAX_DEPTH + 1);
    char *want = nested_arrays(SRV_PICKLE_MAX_DEPTH);
    cJSON *v = cJSON_Parse(deep);
    struct lf_buf b;
    struct lf_err err = {0};

    round_trip(ok, want);
    ck_assert_ptr_nonnull(v);
    lf_buf_init(&b, BUF_NO_CAP);
    ck_assert_int_eq(lf_buf_adds(&b, "keep"), LF_OK);
    ck_assert_int_eq(srv_pickle_json(v, &b, &err), LF_EINVAL);
    ck_assert_str_eq(err.msg, "cannot pickle JSON nested deeper than 64");
    ck_assert_uint_eq(b.len, 4);
    ck_assert_str_eq(b.data, "keep");
    cJSON_Delete(v);
    lf_buf_release(&b);
    lf_err_release(&err);
    free(ok);
    free(deep);
    free(want);
}
END_TEST

/* ==== pickle: buffers and errors ==== */

START_TEST(test_pickle_appends_to_buffer)
{
    cJSON *a = cJSON_CreateTrue(), *n = cJSON_CreateNull();
    struct lf_buf b;
    struct lf_err err = {0};

    lf_buf_init(&b, 64);
    ck_assert_int_eq(lf_buf_adds(&b, "x"), LF_OK);
    ck_assert_int_eq(srv_pickle_json(a, &b, &err), LF_OK);
    ck_assert_int_eq(srv_pickle_json(n, &b, &err), LF_OK);
    ck_assert_uint_eq(b.len, 9);
    ck_assert_mem_eq(b.data, "x\x80\x02\x88.\x80\x02N.", 9);
    cJSON_Delete(a);
    cJSON_Delete(n);
    lf_buf_release(&b);
}
END_TEST

START_TEST(test_pickle_cap)
{
    cJSON *v = cJSON_Parse("{\"a\": [1, 2, 3], \"b\": \"hello world\"}");
    struct lf_buf b;
    struct lf_err err = {0};
    size_t need;

    ck_assert_ptr_nonnull(v);
    lf_buf_init(&b, BUF_NO_CAP);
    ck_assert_int_eq(srv_pickle_json(v, &b, &err), LF_OK);
    need = b.len;
    lf_buf_release(&b);
    /* Exactly enough room fits; one byte less fails at every cut point
     * and leaves what was there. */
    lf_buf_init(&b, need + 2);
    ck_assert_int_eq(lf_buf_adds(&b, "ab"), LF_OK);
    ck_assert_int_eq(srv_pickle_json(v, &b, &err), LF_OK);
    lf_buf_release(&b);
    for (size_t cap = 2; cap < need + 2; cap++) {
        lf_buf_init(&b, cap);
        ck_assert_int_eq(lf_buf_adds(&b, "ab"), LF_OK);
        ck_assert_int_eq(srv_pickle_json(v, &b, &err), LF_ETOOBIG);
        ck_assert_uint_eq(b.len, 2);
        ck_assert_str_eq(b.data, "ab");
        lf_buf_release(&b);
    }
    ck_assert_ptr_nonnull(strstr(err.msg, "pickle is larger than"));
    /* An empty buffer stays empty (and unallocated) on failure. */
    lf_buf_init(&b, 0);
    ck_assert_int_eq(srv_pickle_json(v, &b, &err), LF_ETOOBIG);
    ck_assert_uint_eq(b.len, 0);
    lf_buf_release(&b);
    cJSON_Delete(v);
    lf_err_release(&err);
}
END_TEST

START_TEST(test_pickle_bad_values)
{
    cJSON *s = cJSON_CreateString("ok \xff bad");
    cJSON *o = cJSON_CreateObject();
    cJSON *raw = cJSON_CreateRaw("{\"x\":1}");
    struct lf_buf b;
    struct lf_err err = {0};

    lf_buf_init(&b, BUF_NO_CAP);
    ck_assert_int_eq(srv_pickle_json(s, &b, &err), LF_EINVAL);
    ck_assert_str_eq(err.msg, "cannot pickle a string that is not valid UTF-8");
    ck_assert_uint_eq(b.len, 0);
    /* A bad key is a bad string too. */
    ck_assert_ptr_nonnull(cJSON_AddNumberToObject(o, "\xc3", 1));
    ck_assert_int_eq(srv_pickle_json(o, &b, &err), LF_EINVAL);
    ck_assert_uint_eq(b.len, 0);
    ck_assert_int_eq(srv_pickle_json(raw, &b, &err), LF_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "cannot pickle a cJSON item"));
    ck_assert_int_eq(srv_pickle_json(NULL, &b, &err), LF_EINVAL);
    ck_assert_int_eq(srv_pickle_json(raw, &b, NULL), LF_EINVAL);
    ck_assert_uint_eq(b.len, 0);
    cJSON_Delete(s);
    cJSON_Delete(o);
    cJSON_Delete(raw);
    lf_buf_release(&b);
    lf_err_release(&err);
}
END_TEST

START_TEST(test_pickle_non_finite_numbers)
{
    /* cJSON never parses these, but a built value may hold them; Python's
     * float keeps them (json.dumps writes NaN, Infinity). */
    cJSON *a = cJSON_CreateArray();
    struct lf_buf b;
    struct lf_err err = {0};
    char *got;

    ck_assert_ptr_nonnull(a);
    cJSON_AddItemToArray(a, cJSON_CreateNumber(NAN));
    cJSON_AddItemToArray(a, cJSON_CreateNumber(INFINITY));
    cJSON_AddItemToArray(a, cJSON_CreateNumber(-INFINITY));
    lf_buf_init(&b, BUF_NO_CAP);
    ck_assert_int_eq(srv_pickle_json(a, &b, &err), LF_OK);
    got = python_load(b.data, b.len);
    ck_assert_str_eq(got, "[NaN, Infinity, -Infinity]");
    free(got);
    cJSON_Delete(a);
    lf_buf_release(&b);
}
END_TEST

Suite *
pickle_suite(void)
{
    Suite *s = suite_create("pickle");
    TCase *tc;

    tc = unit_tcase(s, "pickle_bytes");
    tcase_add_test(tc, test_pickle_ints_exact);
    tcase_add_test(tc, test_pickle_floats_exact);
    tcase_add_test(tc, test_pickle_constants_exact);
    tcase_add_test(tc, test_pickle_containers_exact);
    tcase_add_test(tc, test_pickle_batches_of_1000);

    tc = unit_tcase(s, "pickle_round_trip");
    tcase_add_test(tc, test_pickle_round_trip_scalars);
    tcase_add_test(tc, test_pickle_round_trip_containers);
    tcase_add_test(tc, test_pickle_round_trip_results_list);
    tcase_add_test(tc, test_pickle_round_trip_large);
    tcase_add_test(tc, test_pickle_round_trip_csv_args);
    tcase_add_test(tc, test_pickle_depth_limit);
    tcase_add_test(tc, test_pickle_non_finite_numbers);

    tc = unit_tcase(s, "pickle_errors");
    tcase_add_test(tc, test_pickle_appends_to_buffer);
    tcase_add_test(tc, test_pickle_cap);
    tcase_add_test(tc, test_pickle_bad_values);

    return s;
}
