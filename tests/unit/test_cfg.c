/* Unit tests of config/: defaults, the four sources and their precedence,
 * and the errors, which must name the setting as the user wrote it. Each
 * test runs in its own child (check's fork mode) and starts with no
 * LIFTOFF_* variables set, so setenv here cannot leak into other tests. */
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "cfg.h"
#include "lf_err.h"
#include "lf_log.h"
#include "unit_tmp.h"

#define MIB (1024ULL * 1024ULL)
#define GIB (1024ULL * MIB)

extern char **environ;

/* Checked fixture: drops every LIFTOFF_* variable inherited from the run. */
static void
clear_env(void)
{
    for (;;) {
        char name[256] = "";

        for (char **e = environ; *e != NULL; e++) {
            if (strncmp(*e, "LIFTOFF_", 8) == 0) {
                size_t n = strcspn(*e, "=");

                snprintf(name, sizeof(name), "%.*s", (int)n, *e);
                break;
            }
        }
        if (name[0] == '\0')
            return;
        ck_assert_int_eq(unsetenv(name), 0);
    }
}

#define ARGC(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* cfg_load that must fail with LF_ECONFIG and a message naming want. */
static void
load_fails(int argc, char **argv, const char *want)
{
    struct cfg c;
    struct lf_err err = {0};

    ck_assert_int_eq(cfg_load(&c, argc, argv, &err), LF_ECONFIG);
    ck_assert_int_eq(err.code, LF_ECONFIG);
    ck_assert_msg(strstr(err.msg, want) != NULL, "'%s' not in message '%s'", want, err.msg);
    lf_err_release(&err);
}

/* ---- defaults ---- */

static void
check_defaults(const struct cfg *c)
{
    ck_assert_str_eq(c->host, "127.0.0.1");
    ck_assert_int_eq(c->port, 5000);
    ck_assert_str_eq(c->data_dir, "./liftoff-data");
    ck_assert_str_eq(c->config_file, "");
    ck_assert_str_eq(c->api_keys_file, "");
    ck_assert_str_eq(c->public_url, "");
    ck_assert_uint_eq(c->max_body_bytes, 16 * MIB);
    ck_assert_uint_eq(c->max_upload_bytes, 20 * GIB);
    ck_assert_int_eq(c->log_level, LF_LOG_INFO);
    ck_assert_int_eq(c->http_threads, 2);
    ck_assert_int_eq(c->download_timeout_s, 600);
    ck_assert_int_eq(c->shutdown_timeout_s, 30);
    ck_assert_int_eq(c->upload_token_ttl_s, 3600);
    ck_assert_uint_eq(c->async_backlog_max_bytes, GIB);
    ck_assert_int_eq(c->callback_threads, 4);
}

START_TEST(test_cfg_defaults)
{
    struct cfg c;

    memset(&c, 0x5a, sizeof(c));
    cfg_defaults(&c);
    check_defaults(&c);
}
END_TEST

START_TEST(test_cfg_load_no_sources_gives_defaults)
{
    struct cfg c;
    struct lf_err err = {0};

    ck_assert_int_eq(cfg_load(&c, 0, NULL, &err), LF_OK);
    check_defaults(&c);
    ck_assert_int_eq(cfg_validate(&c, &err), LF_OK);
}
END_TEST

/* ---- sources and precedence ---- */

START_TEST(test_cfg_config_file)
{
    char dir[PATH_MAX], path[PATH_MAX], flag[PATH_MAX + 16];
    struct cfg c;
    struct lf_err err = {0};

    unit_tmp_make(dir);
    unit_tmp_write(dir, "c.json",
                   "{\"host\": \"0.0.0.0\", \"port\": 6000, \"data_dir\": \"/srv/lf\","
                   " \"max_body_bytes\": \"1MiB\", \"max_upload_bytes\": 4096,"
                   " \"async_backlog_max_bytes\": \"2k\","
                   " \"log_level\": \"debug\", \"http_threads\": \"8\","
                   " \"public_url\": \"https://models.example.com/\"}",
                   path);
    snprintf(flag, sizeof(flag), "--config=%s", path);
    {
        char *argv[] = { flag };

        ck_assert_int_eq(cfg_load(&c, ARGC(argv), argv, &err), LF_OK);
    }
    ck_assert_str_eq(c.config_file, path);
    ck_assert_str_eq(c.host, "0.0.0.0");
    ck_assert_int_eq(c.port, 6000);
    ck_assert_str_eq(c.data_dir, "/srv/lf");
    ck_assert_uint_eq(c.max_body_bytes, MIB);
    ck_assert_uint_eq(c.max_upload_bytes, 4096);
    ck_assert_uint_eq(c.async_backlog_max_bytes, 2048);
    ck_assert_int_eq(c.log_level, LF_LOG_DEBUG);
    ck_assert_int_eq(c.http_threads, 8);
    ck_assert_str_eq(c.public_url, "https://models.example.com"); /* trailing slash dropped */
    ck_assert_int_eq(c.download_timeout_s, 600);                  /* untouched: default */
    unit_tmp_remove(dir);
}
END_TEST

START_TEST(test_cfg_config_from_env_and_flag_wins)
{
    char dir[PATH_MAX], a[PATH_MAX], b[PATH_MAX];
    struct cfg c;
    struct lf_err err = {0};

    unit_tmp_make(dir);
    unit_tmp_write(dir, "a.json", "{\"port\": 6001}", a);
    unit_tmp_write(dir, "b.json", "{\"port\": 6002}", b);
    ck_assert_int_eq(setenv("LIFTOFF_CONFIG", a, 1), 0);
    ck_assert_int_eq(cfg_load(&c, 0, NULL, &err), LF_OK);
    ck_assert_int_eq(c.port, 6001);
    ck_assert_str_eq(c.config_file, a);
    {
        char *argv[] = { (char *)"--config", b };

        ck_assert_int_eq(cfg_load(&c, ARGC(argv), argv, &err), LF_OK);
    }
    ck_assert_int_eq(c.port, 6002);
    ck_assert_str_eq(c.config_file, b);
    /* LIFTOFF_CONFIG="" means no file */
    ck_assert_int_eq(setenv("LIFTOFF_CONFIG", "", 1), 0);
    ck_assert_int_eq(cfg_load(&c, 0, NULL, &err), LF_OK);
    ck_assert_int_eq(c.port, 5000);
    unit_tmp_remove(dir);
}
END_TEST

START_TEST(test_cfg_precedence)
{
    char dir[PATH_MAX], path[PATH_MAX];
    struct cfg c;
    struct lf_err err = {0};

    unit_tmp_make(dir);
    unit_tmp_write(dir, "c.json",
                   "{\"port\": 6000, \"host\": \"10.0.0.1\", \"log_level\": \"warn\","
                   " \"http_threads\": 3}",
                   path);
    ck_assert_int_eq(setenv("LIFTOFF_CONFIG", path, 1), 0);
    ck_assert_int_eq(setenv("LIFTOFF_PORT", "7000", 1), 0);
    ck_assert_int_eq(setenv("LIFTOFF_HOST", "10.0.0.2", 1), 0);
    ck_assert_int_eq(setenv("LIFTOFF_MAX_BODY_BYTES", "2k", 1), 0);
    {
        char *argv[] = { (char *)"--port", (char *)"8000", (char *)"--data-dir=/d" };

        ck_assert_int_eq(cfg_load(&c, ARGC(argv), argv, &err), LF_OK);
    }
    ck_assert_int_eq(c.port, 8000);             /* flag > env > file */
    ck_assert_str_eq(c.host, "10.0.0.2");       /* env > file */
    ck_assert_int_eq(c.log_level, LF_LOG_WARN); /* file > default */
    ck_assert_int_eq(c.http_threads, 3);  /* file > default */
    ck_assert_uint_eq(c.max_body_bytes, 2048);  /* env > default */
    ck_assert_str_eq(c.data_dir, "/d");         /* flag > default */
    ck_assert_uint_eq(c.max_upload_bytes, 20 * GIB);
    unit_tmp_remove(dir);
}
END_TEST

START_TEST(test_cfg_flag_forms)
{
    struct cfg c;
    struct lf_err err = {0};

    {
        char *argv[] = { (char *)"--port=5" };

        ck_assert_int_eq(cfg_load(&c, ARGC(argv), argv, &err), LF_OK);
        ck_assert_int_eq(c.port, 5);
    }
    {
        char *argv[] = { (char *)"--port", (char *)"5" };

        ck_assert_int_eq(cfg_load(&c, ARGC(argv), argv, &err), LF_OK);
        ck_assert_int_eq(c.port, 5);
    }
    {
        /* the later flag wins; a value may itself contain '=' */
        char *argv[] = { (char *)"--port=5", (char *)"--port=0",
                         (char *)"--public-url", (char *)"http://h:1/x?a=b" };

        ck_assert_int_eq(cfg_load(&c, ARGC(argv), argv, &err), LF_OK);
        ck_assert_int_eq(c.port, 0);
        ck_assert_str_eq(c.public_url, "http://h:1/x?a=b");
    }
    {
        char *argv[] = { (char *)"--log-level=ERROR", (char *)"--max-upload-bytes", (char *)"1T",
                         (char *)"--shutdown-timeout-s=0", (char *)"--upload-token-ttl-s=60",
                         (char *)"--download-timeout-s=5", (char *)"--http-threads=256" };

        ck_assert_int_eq(cfg_load(&c, ARGC(argv), argv, &err), LF_OK);
        ck_assert_int_eq(c.log_level, LF_LOG_ERR);
        ck_assert_uint_eq(c.max_upload_bytes, 1024 * GIB);
        ck_assert_int_eq(c.shutdown_timeout_s, 0);
        ck_assert_int_eq(c.upload_token_ttl_s, 60);
        ck_assert_int_eq(c.download_timeout_s, 5);
        ck_assert_int_eq(c.http_threads, 256);
    }
}
END_TEST

START_TEST(test_cfg_api_keys_file)
{
    char dir[PATH_MAX], path[PATH_MAX], flag[PATH_MAX + 16];
    struct cfg c;
    struct lf_err err = {0};

    unit_tmp_make(dir);
    unit_tmp_write(dir, "keys", "k1\n", path);
    snprintf(flag, sizeof(flag), "--api-keys=%s", path);
    {
        char *argv[] = { flag };

        ck_assert_int_eq(cfg_load(&c, ARGC(argv), argv, &err), LF_OK);
    }
    ck_assert_str_eq(c.api_keys_file, path);
    unit_tmp_remove(dir);
}
END_TEST

START_TEST(test_cfg_set)
{
    struct cfg c;
    struct lf_err err = {0};

    cfg_defaults(&c);
    ck_assert_int_eq(cfg_set(&c, "port", "1234", "test", &err), LF_OK);
    ck_assert_int_eq(c.port, 1234);
    ck_assert_int_eq(cfg_set(&c, "port", "x", "the test", &err), LF_ECONFIG);
    ck_assert_ptr_nonnull(strstr(err.msg, "port"));
    ck_assert_ptr_nonnull(strstr(err.msg, "the test"));
    ck_assert_int_eq(c.port, 1234);
    ck_assert_int_eq(cfg_set(&c, "nope", "1", "the test", &err), LF_ECONFIG);
    ck_assert_ptr_nonnull(strstr(err.msg, "nope"));
    lf_err_release(&err);
}
END_TEST

/* ---- errors ---- */

START_TEST(test_cfg_bad_port)
{
    {
        char *argv[] = { (char *)"--port=70000" };

        load_fails(ARGC(argv), argv, "--port");
        load_fails(ARGC(argv), argv, "70000");
    }
    {
        char *argv[] = { (char *)"--port", (char *)"-1" };

        load_fails(ARGC(argv), argv, "--port");
    }
    {
        char *argv[] = { (char *)"--port=12ab" };

        load_fails(ARGC(argv), argv, "--port");
    }
    ck_assert_int_eq(setenv("LIFTOFF_PORT", "70000", 1), 0);
    load_fails(0, NULL, "LIFTOFF_PORT");
}
END_TEST

START_TEST(test_cfg_unknown_flag)
{
    {
        char *argv[] = { (char *)"--bogus=1" };

        load_fails(ARGC(argv), argv, "--bogus");
    }
    {
        char *argv[] = { (char *)"--port=1", (char *)"stray" };

        load_fails(ARGC(argv), argv, "stray");
    }
    {
        char *argv[] = { (char *)"--port" }; /* no value */

        load_fails(ARGC(argv), argv, "--port");
    }
}
END_TEST

START_TEST(test_cfg_bad_size)
{
    {
        char *argv[] = { (char *)"--max-body-bytes=lots" };

        load_fails(ARGC(argv), argv, "--max-body-bytes");
    }
    {
        char *argv[] = { (char *)"--max-upload-bytes", (char *)"0" };

        load_fails(ARGC(argv), argv, "--max-upload-bytes");
    }
    ck_assert_int_eq(setenv("LIFTOFF_MAX_BODY_BYTES", "-1", 1), 0);
    load_fails(0, NULL, "LIFTOFF_MAX_BODY_BYTES");
}
END_TEST

START_TEST(test_cfg_bad_log_level)
{
    char *argv[] = { (char *)"--log-level=loud" };

    load_fails(ARGC(argv), argv, "--log-level");
    ck_assert_int_eq(setenv("LIFTOFF_LOG_LEVEL", "trace", 1), 0);
    load_fails(0, NULL, "LIFTOFF_LOG_LEVEL");
}
END_TEST

START_TEST(test_cfg_bad_other_settings)
{
    {
        char *argv[] = { (char *)"--public-url=ftp://x" };

        load_fails(ARGC(argv), argv, "--public-url");
    }
    {
        char *argv[] = { (char *)"--host=" };

        load_fails(ARGC(argv), argv, "--host");
    }
    {
        char *argv[] = { (char *)"--http-threads=0" };

        load_fails(ARGC(argv), argv, "--http-threads");
    }
    {
        char *argv[] = { (char *)"--data-dir=" };

        load_fails(ARGC(argv), argv, "data_dir");
    }
    {
        char long_host[CFG_HOST_BYTES + 16];
        char *argv[] = { long_host };

        memset(long_host, 'h', sizeof(long_host) - 1);
        long_host[sizeof(long_host) - 1] = '\0';
        memcpy(long_host, "--host=", 7);
        load_fails(ARGC(argv), argv, "--host");
    }
}
END_TEST

START_TEST(test_cfg_file_errors)
{
    char dir[PATH_MAX], path[PATH_MAX], flag[PATH_MAX + 16];
    char *argv[] = { flag };

    unit_tmp_make(dir);
    unit_tmp_write(dir, "unknown.json", "{\"port\": 1, \"bogus_key\": 1}", path);
    snprintf(flag, sizeof(flag), "--config=%s", path);
    load_fails(1, argv, "bogus_key");
    load_fails(1, argv, path);

    unit_tmp_write(dir, "port.json", "{\"port\": 70000}", path);
    snprintf(flag, sizeof(flag), "--config=%s", path);
    load_fails(1, argv, "port");
    load_fails(1, argv, "70000");

    unit_tmp_write(dir, "type.json", "{\"port\": true}", path);
    snprintf(flag, sizeof(flag), "--config=%s", path);
    load_fails(1, argv, "port");

    unit_tmp_write(dir, "frac.json", "{\"http_threads\": 1.5}", path);
    snprintf(flag, sizeof(flag), "--config=%s", path);
    load_fails(1, argv, "http_threads");

    unit_tmp_write(dir, "array.json", "[1, 2]", path);
    snprintf(flag, sizeof(flag), "--config=%s", path);
    load_fails(1, argv, path);

    unit_tmp_write(dir, "broken.json", "{\"port\": ", path);
    snprintf(flag, sizeof(flag), "--config=%s", path);
    load_fails(1, argv, "--config");

    unit_tmp_write(dir, "size.json", "{\"max_body_bytes\": \"big\"}", path);
    snprintf(flag, sizeof(flag), "--config=%s", path);
    load_fails(1, argv, "max_body_bytes");

    unit_tmp_write(dir, "level.json", "{\"log_level\": \"loud\"}", path);
    snprintf(flag, sizeof(flag), "--config=%s", path);
    load_fails(1, argv, "log_level");
    unit_tmp_remove(dir);
}
END_TEST

START_TEST(test_cfg_unreadable_config)
{
    char dir[PATH_MAX], path[PATH_MAX], flag[PATH_MAX + 16];
    char *argv[] = { flag };
    struct cfg c;
    struct lf_err err = {0};

    unit_tmp_make(dir);
    snprintf(path, sizeof(path), "%s/missing.json", dir);
    snprintf(flag, sizeof(flag), "--config=%s", path);
    ck_assert_int_eq(cfg_load(&c, 1, argv, &err), LF_ECONFIG);
    ck_assert_ptr_nonnull(strstr(err.msg, "--config"));
    ck_assert_ptr_nonnull(strstr(err.msg, path));
    /* the setting once, then the reason (the message must not be formatted
     * from itself) */
    ck_assert_msg(unit_count(err.msg, "invalid --config") == 1, "garbled message '%s'",
                  err.msg);
    ck_assert_msg(strstr(err.msg, "No such file") != NULL, "no reason in '%s'", err.msg);
    lf_err_release(&err);

    ck_assert_int_eq(setenv("LIFTOFF_CONFIG", path, 1), 0);
    load_fails(0, NULL, path);
    /* a directory is not a config file */
    ck_assert_int_eq(setenv("LIFTOFF_CONFIG", dir, 1), 0);
    load_fails(0, NULL, dir);
    unit_tmp_remove(dir);
}
END_TEST

START_TEST(test_cfg_api_keys_missing)
{
    char *argv[] = { (char *)"--api-keys=/nonexistent/liftoff-keys" };

    load_fails(ARGC(argv), argv, "api_keys");
    load_fails(ARGC(argv), argv, "/nonexistent/liftoff-keys");
    ck_assert_int_eq(setenv("LIFTOFF_API_KEYS", "/nonexistent/k2", 1), 0);
    load_fails(0, NULL, "/nonexistent/k2");
}
END_TEST

/* ---- cfg_parse_size ---- */

static void
size_ok(const char *text, uint64_t want)
{
    uint64_t v = 0;

    ck_assert_msg(cfg_parse_size(text, &v) == 0, "rejected '%s'", text);
    ck_assert_msg(v == want, "'%s' gave %llu, not %llu", text, (unsigned long long)v,
                  (unsigned long long)want);
}

START_TEST(test_cfg_parse_size_good)
{
    size_ok("12", 12);
    size_ok("0", 0);
    size_ok("1k", 1024);
    size_ok("1K", 1024);
    size_ok("512KiB", 512 * 1024);
    size_ok("16MiB", 16 * MIB);
    size_ok("16M", 16 * MIB);
    size_ok("16mb", 16 * MIB);
    size_ok("16 MiB", 16 * MIB);
    size_ok("20GiB", 20 * GIB);
    size_ok("20Gi", 20 * GIB);
    size_ok("2T", 2048 * GIB);
    size_ok("100B", 100);
    size_ok("18446744073709551615", UINT64_MAX);
    size_ok("16777215TiB", 16777215ULL * 1024 * GIB);
}
END_TEST

START_TEST(test_cfg_parse_size_bad)
{
    static const char *const bad[] = {
        "", "x", "-1", "+1", " 1", "1.5G", "1X", "1GiBs", "k", "1 k b", "0x10",
        "16777216TiB",           /* 2^64: overflows after the unit */
        "18446744073709551616",  /* 2^64 without a unit */
        "99999999999999999999999",
    };
    uint64_t v = 7;

    ck_assert_int_eq(cfg_parse_size(NULL, &v), -1);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(cfg_parse_size(bad[i], &v) == -1, "accepted '%s' as %llu", bad[i],
                      (unsigned long long)v);
}
END_TEST

START_TEST(test_cfg_usage)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);

    ck_assert_ptr_nonnull(f);
    cfg_usage(f);
    ck_assert_int_eq(fclose(f), 0);
    ck_assert_ptr_nonnull(strstr(text, "--config"));
    ck_assert_ptr_nonnull(strstr(text, "--port"));
    ck_assert_ptr_nonnull(strstr(text, "LIFTOFF_PORT"));
    ck_assert_ptr_nonnull(strstr(text, "--max-upload-bytes"));
    ck_assert_ptr_nonnull(strstr(text, "--upload-token-ttl-s"));
    free(text);
}
END_TEST

Suite *
cfg_suite(void)
{
    Suite *s = suite_create("cfg");
    TCase *tc;

    tc = unit_tcase(s, "defaults");
    tcase_add_checked_fixture(tc, clear_env, NULL);
    tcase_add_test(tc, test_cfg_defaults);
    tcase_add_test(tc, test_cfg_load_no_sources_gives_defaults);

    tc = unit_tcase(s, "sources");
    tcase_add_checked_fixture(tc, clear_env, NULL);
    tcase_add_test(tc, test_cfg_config_file);
    tcase_add_test(tc, test_cfg_config_from_env_and_flag_wins);
    tcase_add_test(tc, test_cfg_precedence);
    tcase_add_test(tc, test_cfg_flag_forms);
    tcase_add_test(tc, test_cfg_api_keys_file);
    tcase_add_test(tc, test_cfg_set);

    tc = unit_tcase(s, "errors");
    tcase_add_checked_fixture(tc, clear_env, NULL);
    tcase_add_test(tc, test_cfg_bad_port);
    tcase_add_test(tc, test_cfg_unknown_flag);
    tcase_add_test(tc, test_cfg_bad_size);
    tcase_add_test(tc, test_cfg_bad_log_level);
    tcase_add_test(tc, test_cfg_bad_other_settings);
    tcase_add_test(tc, test_cfg_file_errors);
    tcase_add_test(tc, test_cfg_unreadable_config);
    tcase_add_test(tc, test_cfg_api_keys_missing);

    tc = unit_tcase(s, "cfg_parse_size");
    tcase_add_test(tc, test_cfg_parse_size_good);
    tcase_add_test(tc, test_cfg_parse_size_bad);
    tcase_add_test(tc, test_cfg_usage);

    return s;
}
