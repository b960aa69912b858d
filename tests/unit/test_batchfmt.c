/* Unit tests of the batch input CSV reader (server/srv_batchfmt.c). */
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

/* ==== CSV helpers ==== */

/* Parses text (len bytes) and asserts success with n rows. */
static void
parse_ok_len(const char *text, size_t len, size_t n, struct srv_batch_input *in)
{
    struct lf_err err = {0};
    int rc = srv_batch_input_parse(text, len, NO_LIMIT, in, &err);

    ck_assert_msg(rc == LF_OK, "parse failed: %d %s", rc, err.msg);
    ck_assert_uint_eq(in->n, n);
    lf_err_release(&err);
}

static void
parse_ok(const char *text, size_t n, struct srv_batch_input *in)
{
    parse_ok_len(text, strlen(text), n, in);
}

/* Asserts that text (len bytes) fails with code and exactly msg, and that
 * the output is left empty. */
static void
parse_err_len(const char *text, size_t len, size_t max_rows, int code, const char *msg)
{
    struct srv_batch_input in = {(struct srv_batch_row *)1, 99};
    struct lf_err err = {0};

    ck_assert_int_eq(srv_batch_input_parse(text, len, max_rows, &in, &err), code);
    ck_assert_int_eq(err.code, code);
    ck_assert_str_eq(err.msg, msg);
    ck_assert_ptr_null(in.rows);
    ck_assert_uint_eq(in.n, 0);
    srv_batch_input_release(&in);
    lf_err_release(&err);
}

static void
parse_err(const char *text, int code, const char *msg)
{
    parse_err_len(text, strlen(text), NO_LIMIT, code, msg);
}

/* Asserts that row i has this id and url (args NULL). */
static void
row_url(const struct srv_batch_input *in, size_t i, const char *id, const char *url)
{
    ck_assert_str_eq(in->rows[i].id, id);
    ck_assert_ptr_nonnull(in->rows[i].url);
    ck_assert_str_eq(in->rows[i].url, url);
    ck_assert_ptr_null(in->rows[i].args);
}

/* Asserts that row i has this id and args printing as json (url NULL). */
static void
row_args(const struct srv_batch_input *in, size_t i, const char *id, const char *json)
{
    char *text;

    ck_assert_str_eq(in->rows[i].id, id);
    ck_assert_ptr_null(in->rows[i].url);
    ck_assert_ptr_nonnull(in->rows[i].args);
    text = cJSON_PrintUnformatted(in->rows[i].args);
    ck_assert_ptr_nonnull(text);
    ck_assert_str_eq(text, json);
    cJSON_free(text);
}

/* ==== CSV: accepted input ==== */

START_TEST(test_csv_client_args_crlf)
{
    /* The captured example of spec 8.1. */
    struct srv_batch_input in;

    parse_ok("id,args\r\n0,eyJ4IjogMiwgInkiOiAiaGVsbG8ifQ==\r\n", 1, &in);
    row_args(&in, 0, "0", "{\"x\":2,\"y\":\"hello\"}");
    ck_assert_int_eq(cJSON_GetObjectItemCaseSensitive(in.rows[0].args, "x")->valueint, 2);
    srv_batch_input_release(&in);
    ck_assert_ptr_null(in.rows);
    ck_assert_uint_eq(in.n, 0);
}
END_TEST

START_TEST(test_csv_client_args_several_rows)
{
    struct srv_batch_input in;

    parse_ok("id,args\r\n"
             "0,eyJ4IjogMiwgInkiOiAiaGVsbG8ifQ==\r\n"
             "1,WzEsIDJd\r\n"
             "2,bnVsbA==\r\n"
             "3,eyJhIjogImIsYyJ9\r\n",
             4, &in);
    row_args(&in, 0, "0", "{\"x\":2,\"y\":\"hello\"}");
    row_args(&in, 1, "1", "[1,2]");
    row_args(&in, 2, "2", "null");
    row_args(&in, 3, "3", "{\"a\":\"b,c\"}");
    srv_batch_input_release(&in);
}
END_TEST

START_TEST(test_csv_client_urls)
{
    struct srv_batch_input in;

    parse_ok("id,url\r\n0,https://example.com/a.jpg\r\n1,s3://bucket/key?x=1&y=2\r\n", 2, &in);
    row_url(&in, 0, "0", "https://example.com/a.jpg");
    row_url(&in, 1, "1", "s3://bucket/key?x=1&y=2");
    srv_batch_input_release(&in);
}
END_TEST

START_TEST(test_csv_lf_and_final_newline_optional)
{
    struct srv_batch_input in;

    parse_ok("id,url\n0,u0\n1,u1\n", 2, &in);
    row_url(&in, 1, "1", "u1");
    srv_batch_input_release(&in);
    parse_ok("id,url\n0,u0\n1,u1", 2, &in);
    row_url(&in, 1, "1", "u1");
    srv_batch_input_release(&in);
    parse_ok("id,url\r\n0,u0\r\n1,u1", 2, &in);
    row_url(&in, 1, "1", "u1");
    srv_batch_input_release(&in);
    /* Old Mac line ends, which Python's reader takes too. */
    parse_ok("id,url\r0,u0\r1,u1\r", 2, &in);
    row_url(&in, 0, "0", "u0");
    row_url(&in, 1, "1", "u1");
    srv_batch_input_release(&in);
}
END_TEST

START_TEST(test_csv_blank_lines_skipped)
{
    struct srv_batch_input in;

    parse_ok("id,url\r\n0,u0\r\n\r\n\r\n", 1, &in);
    srv_batch_input_release(&in);
    parse_ok("id,url\n0,u0\n\n\n", 1, &in);
    srv_batch_input_release(&in);
    /* DictReader skips blank lines anywhere, leading ones included. */
    parse_ok("\n\nid,url\n\n0,u0\n\n1,u1\n", 2, &in);
    row_url(&in, 0, "0", "u0");
    row_url(&in, 1, "1", "u1");
    srv_batch_input_release(&in);
}
END_TEST

START_TEST(test_csv_bom)
{
    struct srv_batch_input in;

    parse_ok("\xef\xbb\xbfid,url\r\n7,u\r\n", 1, &in);
    row_url(&in, 0, "7", "u");
    srv_batch_input_release(&in);
    /* Only a leading BOM is one: elsewhere it is text. */
    parse_ok("id,url\r\n\xef\xbb\xbf" "7,u\r\n", 1, &in);
    row_url(&in, 0, "\xef\xbb\xbf" "7", "u");
    srv_batch_input_release(&in);
}
END_TEST

START_TEST(test_csv_quoted_fields)
{
    struct srv_batch_input in;

    parse_ok("id,url\r\n"
             "\"a,b\",\"http://x/?q=1,2\"\r\n"
             "\"say \"\"hi\"\"\",u\r\n"
             "\"two\r\nlines\",\"lf\nonly\"\r\n"
             "\"\",u3\r\n"
             "plain,\"\"\"\"\r\n",
             5, &in);
    row_url(&in, 0, "a,b", "http://x/?q=1,2");
    row_url(&in, 1, "say \"hi\"", "u");
    row_url(&in, 2, "two\r\nlines", "lf\nonly");
    row_url(&in, 3, "", "u3");
    row_url(&in, 4, "plain", "\"");
    srv_batch_input_release(&in);
}
END_TEST

START_TEST(test_csv_quoted_header_and_args)
{
    struct srv_batch_input in;

    parse_ok("\"id\",\"args\"\r\n\"0\",\"eyJrIjogInYifQ==\"\r\n", 1, &in);
    row_args(&in, 0, "0", "{\"k\":\"v\"}");
    srv_batch_input_release(&in);
}
END_TEST

START_TEST(test_csv_quotes_like_python)
{
    struct srv_batch_input in;

    /* Python's non-strict reader: a quote inside an unquoted field is text,
     * and text after a closing quote is kept. */
    parse_ok("id,url\r\nab\"c,u\"v\"\r\n\"a\"b,\"x\"y\"z\"\r\n", 2, &in);
    row_url(&in, 0, "ab\"c", "u\"v\"");
    row_url(&in, 1, "ab", "xy\"z\"");
    srv_batch_input_release(&in);
}
END_TEST

START_TEST(test_csv_extra_columns_and_order)
{
    struct srv_batch_input in;

    parse_ok("note,args,x,id\r\nhello,eyJrIjogInYifQ==,,5\r\n\"a,b\",e30=,1,6\r\n", 2, &in);
    row_args(&in, 0, "5", "{\"k\":\"v\"}");
    row_args(&in, 1, "6", "{}");
    srv_batch_input_release(&in);
    parse_ok("url,id\nu0,0\n", 1, &in);
    row_url(&in, 0, "0", "u0");
    srv_batch_input_release(&in);
    /* Names are case-sensitive, as DictReader keys are: "ID" is an extra. */
    parse_ok("ID,id,url\nX,0,u\n", 1, &in);
    row_url(&in, 0, "0", "u");
    srv_batch_input_release(&in);
}
END_TEST

START_TEST(test_csv_trailing_comma_is_an_empty_column)
{
    struct srv_batch_input in;

    parse_ok("id,url,\r\n0,u,\r\n1,v,", 2, &in);
    row_url(&in, 0, "0", "u");
    row_url(&in, 1, "1", "v");
    srv_batch_input_release(&in);
}
END_TEST

START_TEST(test_csv_url_and_args_columns)
{
    struct srv_batch_input in;

    parse_ok("id,url,args\r\n0,http://u,e30=\r\n1,,eyJrIjogInYifQ==\r\n2,http://w,\r\n", 3,
             &in);
    row_url(&in, 0, "0", "http://u");
    row_args(&in, 1, "1", "{\"k\":\"v\"}");
    row_url(&in, 2, "2", "http://w");
    srv_batch_input_release(&in);
}
END_TEST

START_TEST(test_csv_args_lenient_forms)
{
    struct srv_batch_input in;

    /* Unpadded base64, blanks around it, JSON with blanks around it. */
    parse_ok("id,args\n0,WzEsIDJd\n1, e30= \n2,eyJrIjogInYifQ\n3,IFsxXSAg\n", 4, &in);
    row_args(&in, 0, "0", "[1,2]");
    row_args(&in, 1, "1", "{}");
    row_args(&in, 2, "2", "{\"k\":\"v\"}");
    row_args(&in, 3, "3", "[1]");
    srv_batch_input_release(&in);
}
END_TEST

START_TEST(test_csv_empty_id_and_utf8)
{
    struct srv_batch_input in;

    parse_ok("id,url\n,u\n\xc3\xa9t\xc3\xa9,http://x/\xe2\x82\xac\n", 2, &in);
    row_url(&in, 0, "", "u");
    row_url(&in, 1, "\xc3\xa9t\xc3\xa9", "http://x/\xe2\x82\xac");
    srv_batch_input_release(&in);
}
END_TEST

START_TEST(test_csv_header_only)
{
    struct srv_batch_input in;

    parse_ok("id,args\r\n", 0, &in);
    ck_assert_ptr_null(in.rows);
    srv_batch_input_release(&in);
    parse_ok("id,url", 0, &in);
    srv_batch_input_release(&in);
    parse_ok("id,url\n\n\n", 0, &in);
    srv_batch_input_release(&in);
}
END_TEST

START_TEST(test_csv_not_nul_terminated)
{
    /* The text is a prefix of a longer buffer: nothing past len is read. */
    static const char text[] = "id,url\n0,u0\n1,u1\nGARBAGE\"";
    struct srv_batch_input in;
    char *copy = malloc(17);

    ck_assert_ptr_nonnull(copy);
    memcpy(copy, text, 17); /* "id,url\n0,u0\n1,u1" without a NUL */
    parse_ok_len(copy, 17, 2, &in);
    row_url(&in, 1, "1", "u1");
    srv_batch_input_release(&in);
    free(copy);
}
END_TEST

START_TEST(test_csv_many_rows_in_order)
{
    struct lf_buf b;
    struct srv_batch_input in;
    char id[32];

    lf_buf_init(&b, BUF_NO_CAP);
    ck_assert_int_eq(lf_buf_adds(&b, "id,args\r\n"), LF_OK);
    for (int i = 0; i < 5000; i++)
        ck_assert_int_eq(lf_buf_addf(&b, "%d,eyJ4IjogMiwgInkiOiAiaGVsbG8ifQ==\r\n", i), LF_OK);
    parse_ok_len(b.data, b.len, 5000, &in);
    for (int i = 0; i < 5000; i++) {
        snprintf(id, sizeof(id), "%d", i);
        ck_assert_str_eq(in.rows[i].id, id);
        ck_assert_ptr_nonnull(in.rows[i].args);
    }
    srv_batch_input_release(&in);
    lf_buf_release(&b);
}
END_TEST

START_TEST(test_csv_max_rows)
{
    static const char text[] = "id,url\n0,a\n1,b\n2,c\n";
    struct srv_batch_input in;
    struct lf_err err = {0};

    ck_assert_int_eq(srv_batch_input_parse(text, strlen(text), 3, &in, &err), LF_OK);
    ck_assert_uint_eq(in.n, 3);
    srv_batch_input_release(&in);
    parse_err_len(text, strlen(text), 2, LF_ETOOBIG, "more than 2 rows");
    parse_err_len(text, strlen(text), 0, LF_ETOOBIG, "more than 0 rows");
    /* No rows at all fits any cap, 0 included. */
    ck_assert_int_eq(srv_batch_input_parse("id,url\n", 7, 0, &in, &err), LF_OK);
    ck_assert_uint_eq(in.n, 0);
    srv_batch_input_release(&in);
    lf_err_release(&err);
}
END_TEST

START_TEST(test_csv_release_null_and_twice)
{
    struct srv_batch_input in = {NULL, 0};

    srv_batch_input_release(NULL);
    srv_batch_input_release(&in);
    srv_batch_input_release(&in);
}
END_TEST

/* ==== CSV: errors ==== */

START_TEST(test_csv_err_no_header)
{
    parse_err("", LF_EINVAL, "line 1: no header");
    parse_err("\r\n\r\n", LF_EINVAL, "line 1: no header");
    parse_err("\xef\xbb\xbf", LF_EINVAL, "line 1: no header");
    parse_err_len(NULL, 0, NO_LIMIT, LF_EINVAL, "line 1: no header");
}
END_TEST

START_TEST(test_csv_err_header_columns)
{
    parse_err("url,args\r\nu,e30=\r\n", LF_EINVAL, "line 1: no \"id\" column");
    parse_err("ID,url\r\n", LF_EINVAL, "line 1: no \"id\" column");
    parse_err("id,URL\r\n0,u\r\n", LF_EINVAL, "line 1: no \"args\" or \"url\" column");
    parse_err("id\r\n0\r\n", LF_EINVAL, "line 1: no \"args\" or \"url\" column");
    parse_err("id,url,id\r\n", LF_EINVAL, "line 1: duplicate \"id\" column");
    parse_err("id,args,url,args\r\n", LF_EINVAL, "line 1: duplicate \"args\" column");
    parse_err(" id,url\r\n", LF_EINVAL, "line 1: no \"id\" column");
    /* The header is the first non-blank line. */
    parse_err("\n\nid,x\n", LF_EINVAL, "line 3: no \"args\" or \"url\" column");
}
END_TEST

START_TEST(test_csv_err_unterminated_quote)
{
    parse_err("id,url\r\n0,u\r\n1,u\r\n2,u\r\n3,\"u\r\n4,v\r\n", LF_EINVAL,
              "line 5: unterminated quoted field");
    parse_err("\"id,url\r\n0,u\r\n", LF_EINVAL, "line 1: unterminated quoted field");
    parse_err("id,url\n0,\"", LF_EINVAL, "line 2: unterminated quoted field");
    parse_err("id,url\n0,\"abc\"\"", LF_EINVAL, "line 2: unterminated quoted field");
}
END_TEST

START_TEST(test_csv_err_field_count)
{
    parse_err("id,url\r\n0,a\r\n1,b\r\n2,c,d\r\n", LF_EINVAL, "line 4: expected 2 fields, found 3");
    parse_err("id,url\r\n0,a\r\n1\r\n", LF_EINVAL, "line 3: expected 2 fields, found 1");
    parse_err("id,url,x\n0,a\n", LF_EINVAL, "line 2: expected 3 fields, found 2");
    /* A line of only blanks is not blank: it is one field. */
    parse_err("id,url\n0,a\n  \n", LF_EINVAL, "line 3: expected 2 fields, found 1");
    /* A record's number is its first line, after a field that spans two. */
    parse_err("id,url\n\"a\nb\",u\n1,u,x\n", LF_EINVAL, "line 4: expected 2 fields, found 3");
}
END_TEST

START_TEST(test_csv_err_bad_base64)
{
    parse_err("id,args\r\n0,e30=\r\n1,e30=\r\n2,not base64!\r\n", LF_EINVAL,
              "line 4: args is not valid base64");
    parse_err("id,args\r\n0,e30=\r\n1,e30\xc3\xa9\r\n", LF_EINVAL,
              "line 3: args is not valid base64");
    parse_err("id,args\r\n0,e3=\r\n", LF_EINVAL, "line 2: args is not valid base64");
    parse_err("id,args\r\n0,e===\r\n", LF_EINVAL, "line 2: args is not valid base64");
    parse_err("id,args\r\n0,e30==\r\n", LF_EINVAL, "line 2: args is not valid base64");
    parse_err("id,args\r\n0,e\r\n", LF_EINVAL, "line 2: args is not valid base64");
    parse_err("id,args\r\n0,e3 0=\r\n", LF_EINVAL, "line 2: args is not valid base64");
    parse_err("id,args\r\n0,====\r\n", LF_EINVAL, "line 2: args is not valid base64");
}
END_TEST

START_TEST(test_csv_err_args_not_json)
{
    /* "not json", trailing garbage, bad UTF-8 in a string, a NUL byte. */
    parse_err("id,args\r\n0,e30=\r\n0,e30=\r\n0,e30=\r\n0,e30=\r\n0,e30=\r\n0,bm90IGpzb24=\r\n",
              LF_EINVAL, "line 7: args does not decode to JSON");
    parse_err("id,args\r\n0,eyJhIjogMX0geA==\r\n", LF_EINVAL,
              "line 2: args does not decode to JSON");
    parse_err("id,args\r\n0,Iv8i\r\n", LF_EINVAL, "line 2: args does not decode to JSON");
    parse_err("id,args\r\n0,eyJhIjoAMX0=\r\n", LF_EINVAL, "line 2: args does not decode to JSON");
    /* Only blanks: nothing to decode. */
    parse_err("id,args\r\n0,  \r\n", LF_EINVAL, "line 2: args does not decode to JSON");
}
END_TEST

START_TEST(test_csv_err_empty_values)
{
    parse_err("id,url\r\n0,\r\n", LF_EINVAL, "line 2: empty url");
    parse_err("id,url\r\n0,u\r\n1,\"\"\r\n", LF_EINVAL, "line 3: empty url");
    parse_err("id,args\r\n0,e30=\r\n1,\r\n", LF_EINVAL, "line 3: empty args");
    parse_err("id,url,args\r\n0,,\r\n", LF_EINVAL, "line 2: empty url and args");
}
END_TEST

START_TEST(test_csv_err_bad_utf8_and_nul)
{
    static const char nul_row[] = "id,url\n0,u\n1,a\0b\n";
    static const char nul_quoted[] = "id,url\n0,\"a\0b\"\n";

    parse_err("id,url\n\xff,u\n", LF_EINVAL, "line 2: id is not valid UTF-8");
    parse_err("id,url\n0,u\n1,\xc3(\n", LF_EINVAL, "line 3: url is not valid UTF-8");
    parse_err_len(nul_row, sizeof(nul_row) - 1, NO_LIMIT, LF_EINVAL, "line 3: NUL byte");
    parse_err_len(nul_quoted, sizeof(nul_quoted) - 1, NO_LIMIT, LF_EINVAL, "line 2: NUL byte");
}
END_TEST

START_TEST(test_csv_err_null_err_allowed)
{
    struct srv_batch_input in;

    ck_assert_int_eq(srv_batch_input_parse("id\n", 3, NO_LIMIT, &in, NULL), LF_EINVAL);
    ck_assert_uint_eq(in.n, 0);
}
END_TEST

Suite *
batchfmt_suite(void)
{
    Suite *s = suite_create("batchfmt");
    TCase *tc;

    tc = unit_tcase(s, "csv_accepts");
    tcase_add_test(tc, test_csv_client_args_crlf);
    tcase_add_test(tc, test_csv_client_args_several_rows);
    tcase_add_test(tc, test_csv_client_urls);
    tcase_add_test(tc, test_csv_lf_and_final_newline_optional);
    tcase_add_test(tc, test_csv_blank_lines_skipped);
    tcase_add_test(tc, test_csv_bom);
    tcase_add_test(tc, test_csv_quoted_fields);
    tcase_add_test(tc, test_csv_quoted_header_and_args);
    tcase_add_test(tc, test_csv_quotes_like_python);
    tcase_add_test(tc, test_csv_extra_columns_and_order);
    tcase_add_test(tc, test_csv_trailing_comma_is_an_empty_column);
    tcase_add_test(tc, test_csv_url_and_args_columns);
    tcase_add_test(tc, test_csv_args_lenient_forms);
    tcase_add_test(tc, test_csv_empty_id_and_utf8);
    tcase_add_test(tc, test_csv_header_only);
    tcase_add_test(tc, test_csv_not_nul_terminated);
    tcase_add_test(tc, test_csv_many_rows_in_order);
    tcase_add_test(tc, test_csv_max_rows);
    tcase_add_test(tc, test_csv_release_null_and_twice);

    tc = unit_tcase(s, "csv_errors");
    tcase_add_test(tc, test_csv_err_no_header);
    tcase_add_test(tc, test_csv_err_header_columns);
    tcase_add_test(tc, test_csv_err_unterminated_quote);
    tcase_add_test(tc, test_csv_err_field_count);
    tcase_add_test(tc, test_csv_err_bad_base64);
    tcase_add_test(tc, test_csv_err_args_not_json);
    tcase_add_test(tc, test_csv_err_empty_values);
    tcase_add_test(tc, test_csv_err_bad_utf8_and_nul);
    tcase_add_test(tc, test_csv_err_null_err_allowed);

    return s;
}
