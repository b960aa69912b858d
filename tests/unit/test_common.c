/* Unit tests of common/: errors, capped buffers and helpers. */
#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <check.h>

#include "lf_buf.h"
#include "lf_err.h"
#include "lf_file.h"
#include "lf_log.h"
#include "lf_util.h"
#include "unit_tmp.h"

/* ---- lf_err ---- */

START_TEST(test_err_set_fills_and_returns_code)
{
    struct lf_err err = {0};

    ck_assert_int_eq(lf_err_set(&err, LF_EINVAL, "bad %s %d", "thing", 7), LF_EINVAL);
    ck_assert_int_eq(err.code, LF_EINVAL);
    ck_assert_str_eq(err.msg, "bad thing 7");
    ck_assert_int_eq(lf_err_set(NULL, LF_EIO, "ignored"), LF_EIO);
    lf_err_release(&err);
}
END_TEST

START_TEST(test_err_set_cuts_long_message)
{
    struct lf_err err = {0};
    char big[2 * LF_ERR_MSG_BYTES];

    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    lf_err_set(&err, LF_EIO, "%s", big);
    ck_assert_uint_eq(strlen(err.msg), LF_ERR_MSG_BYTES - 1);
    lf_err_release(&err);
}
END_TEST

START_TEST(test_err_release_frees_trace_and_resets)
{
    struct lf_err err = {0};

    lf_err_set(&err, LF_EPYTHON, "raised");
    err.trace = strdup("Traceback (most recent call last):\n");
    ck_assert_ptr_nonnull(err.trace);
    lf_err_release(&err);
    ck_assert_int_eq(err.code, LF_OK);
    ck_assert_ptr_null(err.trace);
    ck_assert_str_eq(err.msg, "");
    lf_err_release(&err);
    lf_err_release(NULL);
}
END_TEST

START_TEST(test_code_names)
{
    ck_assert_str_eq(lf_code_name(LF_OK), "ok");
    ck_assert_str_eq(lf_code_name(LF_ENOMEM), "enomem");
    ck_assert_str_eq(lf_code_name(LF_EINVAL), "einval");
    ck_assert_str_eq(lf_code_name(LF_ETOOBIG), "etoobig");
    ck_assert_str_eq(lf_code_name(LF_EPERM), "eperm");
    ck_assert_str_eq(lf_code_name(12345), "unknown");
}
END_TEST

/* ---- lf_buf ---- */

START_TEST(test_buf_add_and_nul_terminated)
{
    struct lf_buf b;

    lf_buf_init(&b, 1024);
    ck_assert_ptr_null(b.data);
    ck_assert_int_eq(lf_buf_adds(&b, "hello"), LF_OK);
    ck_assert_int_eq(lf_buf_add(&b, ", world", 7), LF_OK);
    ck_assert_uint_eq(b.len, 12);
    ck_assert_str_eq(b.data, "hello, world");
    ck_assert_int_eq(lf_buf_add(&b, "", 0), LF_OK);
    ck_assert_uint_eq(b.len, 12);
    lf_buf_release(&b);
    ck_assert_ptr_null(b.data);
    ck_assert_uint_eq(b.len, 0);
    ck_assert_uint_eq(b.max_bytes, 1024);
}
END_TEST

START_TEST(test_buf_binary_and_growth)
{
    struct lf_buf b;
    char chunk[100];

    lf_buf_init(&b, 100000);
    for (size_t i = 0; i < sizeof(chunk); i++)
        chunk[i] = (char)i; /* includes a NUL byte */
    for (int i = 0; i < 500; i++)
        ck_assert_int_eq(lf_buf_add(&b, chunk, sizeof(chunk)), LF_OK);
    ck_assert_uint_eq(b.len, 50000);
    ck_assert_uint_ge(b.alloc, b.len + 1);
    ck_assert_int_eq(memcmp(b.data + 49900, chunk, sizeof(chunk)), 0);
    ck_assert_int_eq(b.data[b.len], '\0');
    lf_buf_release(&b);
}
END_TEST

START_TEST(test_buf_cap_leaves_contents)
{
    struct lf_buf b;

    lf_buf_init(&b, 10);
    ck_assert_int_eq(lf_buf_adds(&b, "hello"), LF_OK);
    ck_assert_int_eq(lf_buf_adds(&b, "world!"), LF_ETOOBIG);
    ck_assert_uint_eq(b.len, 5);
    ck_assert_str_eq(b.data, "hello");
    ck_assert_int_eq(lf_buf_adds(&b, "world"), LF_OK); /* exactly the cap */
    ck_assert_str_eq(b.data, "helloworld");
    ck_assert_int_eq(lf_buf_add(&b, "x", 1), LF_ETOOBIG);
    ck_assert_int_eq(lf_buf_addf(&b, "%d", 1), LF_ETOOBIG);
    ck_assert_uint_eq(b.len, 10);
    ck_assert_str_eq(b.data, "helloworld");
    lf_buf_release(&b);
}
END_TEST

START_TEST(test_buf_cap_zero_and_huge_add)
{
    struct lf_buf b;
    char *p;
    size_t len = 99;

    lf_buf_init(&b, 0);
    ck_assert_int_eq(lf_buf_add(&b, "x", 1), LF_ETOOBIG);
    ck_assert_int_eq(lf_buf_add(&b, "x", SIZE_MAX), LF_ETOOBIG); /* no overflow */
    ck_assert_uint_eq(b.len, 0);
    p = lf_buf_detach(&b, &len);
    ck_assert_ptr_nonnull(p);
    ck_assert_str_eq(p, "");
    ck_assert_uint_eq(len, 0);
    free(p);
}
END_TEST

START_TEST(test_buf_addf)
{
    struct lf_buf b;
    char want[400];

    lf_buf_init(&b, 1000);
    ck_assert_int_eq(lf_buf_addf(&b, "%d-%s", 42, "x"), LF_OK);
    ck_assert_str_eq(b.data, "42-x");
    ck_assert_int_eq(lf_buf_addf(&b, "%s", ""), LF_OK);
    ck_assert_uint_eq(b.len, 4);
    /* grows past the first allocation */
    memset(want, 'y', 300);
    want[300] = '\0';
    ck_assert_int_eq(lf_buf_addf(&b, "[%s]", want), LF_OK);
    ck_assert_uint_eq(b.len, 4 + 302);
    ck_assert_int_eq(b.data[4], '[');
    ck_assert_int_eq(b.data[305], ']');
    ck_assert_int_eq(b.data[306], '\0');
    /* past the cap: unchanged */
    memset(want, 'z', 399);
    want[399] = '\0';
    ck_assert_int_eq(lf_buf_addf(&b, "%s%s", want, want), LF_ETOOBIG);
    ck_assert_uint_eq(b.len, 306);
    ck_assert_int_eq(b.data[306], '\0');
    lf_buf_release(&b);
}
END_TEST

START_TEST(test_buf_detach)
{
    struct lf_buf b;
    size_t len = 0;
    char *p;

    lf_buf_init(&b, 64);
    ck_assert_int_eq(lf_buf_adds(&b, "abc"), LF_OK);
    p = lf_buf_detach(&b, &len);
    ck_assert_str_eq(p, "abc");
    ck_assert_uint_eq(len, 3);
    ck_assert_ptr_null(b.data);
    ck_assert_uint_eq(b.len, 0);
    ck_assert_uint_eq(b.alloc, 0);
    ck_assert_uint_eq(b.max_bytes, 64);
    free(p);
    /* usable again after detach, and NULL len is allowed */
    ck_assert_int_eq(lf_buf_adds(&b, "de"), LF_OK);
    p = lf_buf_detach(&b, NULL);
    ck_assert_str_eq(p, "de");
    free(p);
    p = lf_buf_detach(&b, &len);
    ck_assert_str_eq(p, "");
    ck_assert_uint_eq(len, 0);
    free(p);
}
END_TEST

/* ---- base64 ---- */

static void
check_b64(const char *plain, const char *encoded)
{
    char *enc = lf_base64_encode(plain, strlen(plain)), *dec = NULL;
    size_t n = 99;

    ck_assert_str_eq(enc, encoded);
    ck_assert_int_eq(lf_base64_decode(encoded, strlen(encoded), &dec, &n), 0);
    ck_assert_uint_eq(n, strlen(plain));
    ck_assert_str_eq(dec, plain);
    free(enc);
    free(dec);
}

START_TEST(test_base64_vectors)
{
    /* RFC 4648 section 10 */
    check_b64("", "");
    check_b64("f", "Zg==");
    check_b64("fo", "Zm8=");
    check_b64("foo", "Zm9v");
    check_b64("foob", "Zm9vYg==");
    check_b64("fooba", "Zm9vYmE=");
    check_b64("foobar", "Zm9vYmFy");
    check_b64("user:pa ss", "dXNlcjpwYSBzcw==");
}
END_TEST

START_TEST(test_base64_round_trip_binary)
{
    unsigned char raw[300];

    lf_random_bytes(raw, sizeof(raw));
    raw[0] = 0;
    raw[7] = 0xff;
    for (size_t n = 0; n <= sizeof(raw); n += (n < 10 ? 1 : 37)) {
        char *enc = lf_base64_encode(raw, n), *dec = NULL;
        size_t got = 0;

        ck_assert_ptr_nonnull(enc);
        ck_assert_uint_eq(strlen(enc), (n + 2) / 3 * 4);
        ck_assert_int_eq(lf_base64_decode(enc, strlen(enc), &dec, &got), 0);
        ck_assert_uint_eq(got, n);
        ck_assert_int_eq(memcmp(dec, raw, n), 0);
        ck_assert_int_eq(dec[n], '\0');
        free(enc);
        free(dec);
    }
}
END_TEST

START_TEST(test_base64_decode_unpadded_and_plus_slash)
{
    char *dec = NULL;
    size_t n = 0;

    ck_assert_int_eq(lf_base64_decode("Zg", 2, &dec, &n), 0);
    ck_assert_uint_eq(n, 1);
    ck_assert_str_eq(dec, "f");
    free(dec);
    ck_assert_int_eq(lf_base64_decode("+/+/", 4, &dec, &n), 0);
    ck_assert_uint_eq(n, 3);
    ck_assert_int_eq((unsigned char)dec[0], 0xfb);
    ck_assert_int_eq((unsigned char)dec[1], 0xff);
    ck_assert_int_eq((unsigned char)dec[2], 0xbf);
    free(dec);
    /* len bounds the input: the rest is not read */
    ck_assert_int_eq(lf_base64_decode("Zm9v!!!!", 4, &dec, &n), 0);
    ck_assert_str_eq(dec, "foo");
    free(dec);
}
END_TEST

START_TEST(test_base64_decode_bad_input)
{
    static const char *const bad[] = {
        "Z", "Zm9vY", "Zm9v!", "Zm=v", "Zm9v\n", "Zm 9v", "Zm9v-_", "\xc3\xa9\xc3\xa9",
    };
    char *dec = (char *)"untouched";
    size_t n = 77;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_msg(lf_base64_decode(bad[i], strlen(bad[i]), &dec, &n) == -1,
                      "accepted '%s'", bad[i]);
        ck_assert_str_eq(dec, "untouched");
        ck_assert_uint_eq(n, 77);
    }
}
END_TEST

/* ---- percent-decoding ---- */

static void
check_pct(const char *in, int rc, const char *want)
{
    char buf[256];

    snprintf(buf, sizeof(buf), "%s", in);
    ck_assert_msg(lf_pct_decode(buf) == rc, "lf_pct_decode('%s') != %d", in, rc);
    if (rc == 0)
        ck_assert_str_eq(buf, want);
}

START_TEST(test_pct_decode_good)
{
    check_pct("", 0, "");
    check_pct("plain", 0, "plain");
    check_pct("a%20b", 0, "a b");
    check_pct("a%2Fb", 0, "a/b");
    check_pct("a%2fb", 0, "a/b");
    check_pct("%41%42%43", 0, "ABC");
    check_pct("a+b", 0, "a+b");
    check_pct("%25", 0, "%");
    check_pct("%2525", 0, "%25"); /* decoded once, not twice */
    check_pct("%C3%A9", 0, "\xc3\xa9");
}
END_TEST

START_TEST(test_pct_decode_bad)
{
    check_pct("%zz", -1, NULL);
    check_pct("a%2", -1, NULL);
    check_pct("a%", -1, NULL);
    check_pct("%g0", -1, NULL);
    check_pct("%0g", -1, NULL);
    check_pct("%00", -1, NULL);
    check_pct("abc%00def", -1, NULL);
}
END_TEST

/* ---- lf_parse_i64 ---- */

START_TEST(test_parse_i64_bounds)
{
    int64_t v = 99;

    ck_assert_int_eq(lf_parse_i64("0", -10, 10, &v), 0);
    ck_assert_int_eq(v, 0);
    ck_assert_int_eq(lf_parse_i64("-10", -10, 10, &v), 0);
    ck_assert_int_eq(v, -10);
    ck_assert_int_eq(lf_parse_i64("10", -10, 10, &v), 0);
    ck_assert_int_eq(v, 10);
    v = 99;
    ck_assert_int_eq(lf_parse_i64("11", -10, 10, &v), -1);
    ck_assert_int_eq(lf_parse_i64("-11", -10, 10, &v), -1);
    ck_assert_int_eq(v, 99);
    ck_assert_int_eq(lf_parse_i64("9223372036854775807", INT64_MIN, INT64_MAX, &v), 0);
    ck_assert_int_eq(v, INT64_MAX);
    ck_assert_int_eq(lf_parse_i64("-9223372036854775808", INT64_MIN, INT64_MAX, &v), 0);
    ck_assert_int_eq(v, INT64_MIN);
    ck_assert_int_eq(lf_parse_i64("9223372036854775808", INT64_MIN, INT64_MAX, &v), -1);
    ck_assert_int_eq(lf_parse_i64("-9223372036854775809", INT64_MIN, INT64_MAX, &v), -1);
    ck_assert_int_eq(lf_parse_i64("99999999999999999999", 0, INT64_MAX, &v), -1);
}
END_TEST

START_TEST(test_parse_i64_rejects_non_numbers)
{
    static const char *const bad[] = { "", "abc", "12a", "1.5", "5 ", "0x10", "--1", "1e3" };
    int64_t v = 99;

    ck_assert_int_eq(lf_parse_i64(NULL, 0, 100, &v), -1);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(lf_parse_i64(bad[i], 0, 100, &v) == -1, "accepted '%s'", bad[i]);
    ck_assert_int_eq(v, 99);
}
END_TEST

/* "a whole decimal integer": leading blanks are not part of one, just as
 * trailing ones are not ("5 " is rejected above). */
START_TEST(test_parse_i64_rejects_leading_space)
{
    int64_t v = 99;

    ck_assert_msg(lf_parse_i64(" 5", 0, 100, &v) == -1, "accepted ' 5'");
    ck_assert_msg(lf_parse_i64("\t5", 0, 100, &v) == -1, "accepted '\\t5'");
}
END_TEST

/* ---- ids, UUIDs, times ---- */

static int
b32hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'v')
        return c - 'a' + 10;
    return -1;
}

/* The seconds in the first 4 bytes of an id body (the first 32 of 35 bits
 * of its first 7 characters). */
static uint32_t
id_time(const char *body)
{
    uint64_t acc = 0;

    for (int i = 0; i < 7; i++) {
        int d = b32hex_value(body[i]);

        ck_assert_int_ge(d, 0);
        acc = (acc << 5) | (uint64_t)d;
    }
    return (uint32_t)(acc >> 3);
}

START_TEST(test_id_format)
{
    char id[64];
    time_t before = time(NULL), after;
    uint32_t t;

    lf_id_new("bun_", id, sizeof(id));
    after = time(NULL);
    ck_assert_uint_eq(strlen(id), 4 + 20);
    ck_assert_int_eq(strncmp(id, "bun_", 4), 0);
    for (size_t i = 4; i < strlen(id); i++)
        ck_assert_msg(b32hex_value(id[i]) >= 0, "bad character '%c' in %s", id[i], id);
    t = id_time(id + 4);
    ck_assert_uint_ge(t, (uint32_t)before);
    ck_assert_uint_le(t, (uint32_t)after);
    /* an empty prefix and a cap of exactly prefix + body */
    lf_id_new("", id, LF_ID_BODY_BYTES);
    ck_assert_uint_eq(strlen(id), 20);
}
END_TEST

START_TEST(test_id_cap_too_small)
{
    char id[64];

    memset(id, 'x', sizeof(id));
    lf_id_new("end_", id, 4 + LF_ID_BODY_BYTES - 1);
    ck_assert_str_eq(id, "");
    ck_assert_int_eq(id[1], 'x'); /* nothing written past the cap */
}
END_TEST

static int
cmp_str(const void *a, const void *b)
{
    return strcmp(a, b);
}

START_TEST(test_id_unique)
{
    enum { N = 2000 };
    static char ids[N][32];

    for (int i = 0; i < N; i++)
        lf_id_new("x", ids[i], sizeof(ids[i]));
    qsort(ids, N, sizeof(ids[0]), cmp_str);
    for (int i = 1; i < N; i++)
        ck_assert_str_ne(ids[i - 1], ids[i]);
}
END_TEST

START_TEST(test_id_sorts_over_time)
{
    char a[32], b[32];
    time_t t0 = time(NULL);

    lf_id_new("ep_", a, sizeof(a));
    while (time(NULL) == t0)
        usleep(20000);
    lf_id_new("ep_", b, sizeof(b));
    ck_assert_msg(strcmp(a, b) < 0, "%s was made before %s", a, b);
}
END_TEST

START_TEST(test_uuid4_format)
{
    char seen[50][LF_UUID_BYTES];

    for (int k = 0; k < 50; k++) {
        char *u = seen[k];

        lf_uuid4(u);
        ck_assert_uint_eq(strlen(u), 36);
        for (int i = 0; i < 36; i++) {
            if (i == 8 || i == 13 || i == 18 || i == 23)
                ck_assert_int_eq(u[i], '-');
            else
                ck_assert_msg(isxdigit((unsigned char)u[i]) && !isupper((unsigned char)u[i]),
                              "bad character in %s", u);
        }
        ck_assert_int_eq(u[14], '4');
        ck_assert_ptr_nonnull(strchr("89ab", u[19]));
        for (int j = 0; j < k; j++)
            ck_assert_str_ne(seen[j], u);
    }
}
END_TEST

START_TEST(test_time_iso8601)
{
    char out[LF_TIME_ISO_BYTES];

    lf_time_iso8601(0, out);
    ck_assert_str_eq(out, "1970-01-01T00:00:00.000000+00:00");
    lf_time_iso8601(1680627605123456LL, out);
    ck_assert_str_eq(out, "2023-04-04T17:00:05.123456+00:00");
    lf_time_iso8601(951782400000001LL, out); /* a leap day */
    ck_assert_str_eq(out, "2000-02-29T00:00:00.000001+00:00");
}
END_TEST

START_TEST(test_time_iso8601_now_shape)
{
    static const char shape[] = "dddd-dd-ddTdd:dd:dd.dddddd+00:00";
    char out[LF_TIME_ISO_BYTES];

    lf_time_iso8601(lf_now_us(), out);
    ck_assert_uint_eq(strlen(out), strlen(shape));
    for (size_t i = 0; i < strlen(shape); i++) {
        if (shape[i] == 'd')
            ck_assert_msg(isdigit((unsigned char)out[i]), "bad timestamp %s", out);
        else
            ck_assert_int_eq(out[i], shape[i]);
    }
}
END_TEST

START_TEST(test_clocks)
{
    int64_t now = lf_now_us(), t = (int64_t)time(NULL);
    int64_t m0 = lf_mono_ms(), m1;

    ck_assert_int_ge(now / 1000000, t - 1);
    ck_assert_int_le(now / 1000000, t + 1);
    usleep(20000);
    m1 = lf_mono_ms();
    ck_assert_int_ge(m1 - m0, 15);
}
END_TEST

START_TEST(test_random_hex_and_hash)
{
    char hex[2 * 100 + 1], fp[9], fp2[9];

    memset(hex, 'Z', sizeof(hex));
    lf_random_hex(hex, 100);
    ck_assert_uint_eq(strlen(hex), 200);
    for (size_t i = 0; i < 200; i++)
        ck_assert_ptr_nonnull(strchr("0123456789abcdef", hex[i]));
    /* FNV-1a 64 reference values */
    ck_assert_uint_eq(lf_hash64("", 0), 0xcbf29ce484222325ULL);
    ck_assert_uint_eq(lf_hash64("a", 1), 0xaf63dc4c8601ec8cULL);
    ck_assert_uint_eq(lf_hash64("foobar", 6), 0x85944171f73967e8ULL);
    lf_fingerprint("secret-key", fp);
    lf_fingerprint("secret-key", fp2);
    ck_assert_uint_eq(strlen(fp), 8);
    ck_assert_str_eq(fp, fp2);
    lf_fingerprint("other-key", fp2);
    ck_assert_str_ne(fp, fp2);
}
END_TEST

START_TEST(test_utf8_valid)
{
    ck_assert_int_eq(lf_utf8_valid("", 0), 1);
    ck_assert_int_eq(lf_utf8_valid("plain", 5), 1);
    ck_assert_int_eq(lf_utf8_valid("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 9), 1);
    ck_assert_int_eq(lf_utf8_valid("\xff", 1), 0);           /* never valid */
    ck_assert_int_eq(lf_utf8_valid("\xc3", 1), 0);           /* truncated */
    ck_assert_int_eq(lf_utf8_valid("\xc0\xaf", 2), 0);       /* overlong '/' */
    ck_assert_int_eq(lf_utf8_valid("\xed\xa0\x80", 3), 0);   /* surrogate */
    ck_assert_int_eq(lf_utf8_valid("\xf4\x90\x80\x80", 4), 0); /* above U+10FFFF */
    ck_assert_int_eq(lf_utf8_valid("a\x80" "b", 3), 0);          /* stray continuation */
}
END_TEST

START_TEST(test_utf8_len)
{
    ck_assert_uint_eq(lf_utf8_len(""), 0);
    ck_assert_uint_eq(lf_utf8_len("abc"), 3);
    ck_assert_uint_eq(lf_utf8_len("\xc3\xa9t\xc3\xa9"), 3);
    ck_assert_uint_eq(lf_utf8_len("\xf0\x9f\x98\x80"), 1);
}
END_TEST

Suite *
common_suite(void)
{
    Suite *s = suite_create("common");
    TCase *tc;

    tc = unit_tcase(s, "lf_err");
    tcase_add_test(tc, test_err_set_fills_and_returns_code);
    tcase_add_test(tc, test_err_set_cuts_long_message);
    tcase_add_test(tc, test_err_release_frees_trace_and_resets);
    tcase_add_test(tc, test_code_names);

    tc = unit_tcase(s, "lf_buf");
    tcase_add_test(tc, test_buf_add_and_nul_terminated);
    tcase_add_test(tc, test_buf_binary_and_growth);
    tcase_add_test(tc, test_buf_cap_leaves_contents);
    tcase_add_test(tc, test_buf_cap_zero_and_huge_add);
    tcase_add_test(tc, test_buf_addf);
    tcase_add_test(tc, test_buf_detach);

    tc = unit_tcase(s, "base64");
    tcase_add_test(tc, test_base64_vectors);
    tcase_add_test(tc, test_base64_round_trip_binary);
    tcase_add_test(tc, test_base64_decode_unpadded_and_plus_slash);
    tcase_add_test(tc, test_base64_decode_bad_input);

    tc = unit_tcase(s, "utf8");
    tcase_add_test(tc, test_utf8_valid);
    tcase_add_test(tc, test_utf8_len);

    tc = unit_tcase(s, "lf_pct_decode");
    tcase_add_test(tc, test_pct_decode_good);
    tcase_add_test(tc, test_pct_decode_bad);

    tc = unit_tcase(s, "lf_parse_i64");
    tcase_add_test(tc, test_parse_i64_bounds);
    tcase_add_test(tc, test_parse_i64_rejects_non_numbers);
    tcase_add_test(tc, test_parse_i64_rejects_leading_space);

    tc = unit_tcase(s, "ids_and_times");
    tcase_add_test(tc, test_id_format);
    tcase_add_test(tc, test_id_cap_too_small);
    tcase_add_test(tc, test_id_unique);
    tcase_add_test(tc, test_id_sorts_over_time);
    tcase_add_test(tc, test_uuid4_format);
    tcase_add_test(tc, test_time_iso8601);
    tcase_add_test(tc, test_time_iso8601_now_shape);
    tcase_add_test(tc, test_clocks);
    tcase_add_test(tc, test_random_hex_and_hash);

    return s;
}
