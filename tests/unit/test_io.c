/* Unit tests of common/: files and logs. */
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

/* ---- files ---- */

static int
count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;

    ck_assert_ptr_nonnull(d);
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            n++;
    }
    closedir(d);
    return n;
}

START_TEST(test_file_write_read_round_trip)
{
    char dir[PATH_MAX], path[PATH_MAX];
    struct lf_err err = {0};
    static const char data[] = "line one\n\0binary\xff tail";
    char *out = NULL;
    size_t len = 0;

    unit_tmp_make(dir);
    snprintf(path, sizeof(path), "%s/f.bin", dir);
    ck_assert_int_eq(lf_file_write_atomic(path, data, sizeof(data) - 1, &err), LF_OK);
    ck_assert_int_eq(lf_file_read(path, 1024, &out, &len, &err), LF_OK);
    ck_assert_uint_eq(len, sizeof(data) - 1);
    ck_assert_int_eq(memcmp(out, data, len), 0);
    ck_assert_int_eq(out[len], '\0');
    free(out);
    /* overwrite: the new contents, and no temporary file left beside it */
    ck_assert_int_eq(lf_file_write_atomic(path, "new", 3, &err), LF_OK);
    ck_assert_int_eq(lf_file_read(path, 1024, &out, NULL, &err), LF_OK);
    ck_assert_str_eq(out, "new");
    free(out);
    ck_assert_int_eq(count_entries(dir), 1);
    /* empty file */
    ck_assert_int_eq(lf_file_write_atomic(path, "", 0, &err), LF_OK);
    ck_assert_int_eq(lf_file_read(path, 0, &out, &len, &err), LF_OK);
    ck_assert_uint_eq(len, 0);
    ck_assert_str_eq(out, "");
    free(out);
    lf_err_release(&err);
    unit_tmp_remove(dir);
}
END_TEST

START_TEST(test_file_read_max_bytes)
{
    char dir[PATH_MAX], path[PATH_MAX];
    struct lf_err err = {0};
    char *out = NULL;

    unit_tmp_make(dir);
    unit_tmp_write(dir, "ten", "0123456789", path);
    ck_assert_int_eq(lf_file_read(path, 10, &out, NULL, &err), LF_OK);
    free(out);
    out = NULL;
    ck_assert_int_eq(lf_file_read(path, 9, &out, NULL, &err), LF_ETOOBIG);
    ck_assert_int_eq(err.code, LF_ETOOBIG);
    ck_assert_ptr_nonnull(strstr(err.msg, path));
    ck_assert_ptr_null(out);
    lf_err_release(&err);
    unit_tmp_remove(dir);
}
END_TEST

START_TEST(test_file_read_errors)
{
    char dir[PATH_MAX], path[PATH_MAX];
    struct lf_err err = {0};
    char *out = NULL;

    unit_tmp_make(dir);
    snprintf(path, sizeof(path), "%s/missing", dir);
    ck_assert_int_eq(lf_file_read(path, 100, &out, NULL, &err), LF_ENOENT);
    ck_assert_ptr_nonnull(strstr(err.msg, path));
    ck_assert_int_eq(lf_file_read(dir, 100, &out, NULL, &err), LF_EIO);
    ck_assert_ptr_nonnull(strstr(err.msg, dir));
    ck_assert_ptr_null(out);
    lf_err_release(&err);
    unit_tmp_remove(dir);
}
END_TEST

START_TEST(test_file_write_atomic_missing_dir)
{
    char dir[PATH_MAX], path[PATH_MAX];
    struct lf_err err = {0};

    unit_tmp_make(dir);
    snprintf(path, sizeof(path), "%s/no/such/f", dir);
    ck_assert_int_eq(lf_file_write_atomic(path, "x", 1, &err), LF_EIO);
    ck_assert_int_eq(err.code, LF_EIO);
    ck_assert_int_eq(count_entries(dir), 0);
    lf_err_release(&err);
    unit_tmp_remove(dir);
}
END_TEST

START_TEST(test_file_tmp_name)
{
    char a[PATH_MAX], b[PATH_MAX];

    lf_file_tmp_name("/x/y.db", a, sizeof(a));
    lf_file_tmp_name("/x/y.db", b, sizeof(b));
    ck_assert_int_eq(strncmp(a, "/x/y.db.tmp.", 12), 0);
    ck_assert_uint_gt(strlen(a), 12);
    ck_assert_str_ne(a, b);
}
END_TEST

START_TEST(test_mkdir_p_nested)
{
    char dir[PATH_MAX], path[PATH_MAX], file[PATH_MAX];
    struct lf_err err = {0};
    struct stat st;

    unit_tmp_make(dir);
    snprintf(path, sizeof(path), "%s/a/b/c", dir);
    ck_assert_int_eq(lf_mkdir_p(path, &err), LF_OK);
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert(S_ISDIR(st.st_mode));
    ck_assert_int_eq(st.st_mode & 0777, 0700);
    ck_assert_int_eq(lf_mkdir_p(path, &err), LF_OK); /* again: nothing to do */
    snprintf(path, sizeof(path), "%s/a/b/d/", dir);  /* a trailing slash */
    ck_assert_int_eq(lf_mkdir_p(path, &err), LF_OK);
    ck_assert_int_eq(stat(path, &st), 0);
    /* a file in the way */
    unit_tmp_write(dir, "file", "x", file);
    snprintf(path, sizeof(path), "%s/sub", file);
    ck_assert_int_eq(lf_mkdir_p(path, &err), LF_EIO);
    ck_assert_ptr_nonnull(strstr(err.msg, file));
    ck_assert_int_eq(lf_mkdir_p("", &err), LF_EIO);
    lf_err_release(&err);
    unit_tmp_remove(dir);
}
END_TEST

START_TEST(test_file_check_readable)
{
    char dir[PATH_MAX], path[PATH_MAX];
    struct lf_err err = {0};

    unit_tmp_make(dir);
    unit_tmp_write(dir, "f", "x", path);
    ck_assert_int_eq(lf_file_check_readable(path, &err), LF_OK);
    ck_assert_int_eq(lf_file_check_readable(dir, &err), LF_EIO);
    snprintf(path, sizeof(path), "%s/missing", dir);
    ck_assert_int_eq(lf_file_check_readable(path, &err), LF_ENOENT);
    ck_assert_ptr_nonnull(strstr(err.msg, path));
    ck_assert_int_eq(lf_file_sync_dir(path, &err), LF_OK);
    lf_err_release(&err);
    unit_tmp_remove(dir);
}
END_TEST

/* ---- logs ---- */

START_TEST(test_log_level_parse)
{
    enum lf_log_level l = LF_LOG_INFO;

    ck_assert_int_eq(lf_log_level_parse("error", &l), 0);
    ck_assert_int_eq(l, LF_LOG_ERR);
    ck_assert_int_eq(lf_log_level_parse("WARN", &l), 0);
    ck_assert_int_eq(l, LF_LOG_WARN);
    ck_assert_int_eq(lf_log_level_parse("warning", &l), 0);
    ck_assert_int_eq(l, LF_LOG_WARN);
    ck_assert_int_eq(lf_log_level_parse("info", &l), 0);
    ck_assert_int_eq(l, LF_LOG_INFO);
    ck_assert_int_eq(lf_log_level_parse("Debug", &l), 0);
    ck_assert_int_eq(l, LF_LOG_DEBUG);
    ck_assert_int_eq(lf_log_level_parse("verbose", &l), -1);
    ck_assert_int_eq(lf_log_level_parse("", &l), -1);
    ck_assert_int_eq(l, LF_LOG_DEBUG);
}
END_TEST

/* Runs fn with stderr sent to a file and returns what it wrote (free it). */
static char *
capture_stderr(void (*fn)(void))
{
    char dir[PATH_MAX], path[PATH_MAX];
    int fd, saved;
    char *out = NULL;

    unit_tmp_make(dir);
    snprintf(path, sizeof(path), "%s/stderr", dir);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ck_assert_int_ge(fd, 0);
    saved = dup(STDERR_FILENO);
    ck_assert_int_ge(saved, 0);
    ck_assert_int_ge(dup2(fd, STDERR_FILENO), 0);
    fn();
    ck_assert_int_ge(dup2(saved, STDERR_FILENO), 0);
    close(saved);
    close(fd);
    ck_assert_int_eq(lf_file_read(path, 1 << 20, &out, NULL, NULL), LF_OK);
    unit_tmp_remove(dir);
    return out;
}

static int log_arg_evaluations;

static int
log_arg(void)
{
    return ++log_arg_evaluations;
}

static void
log_some(void)
{
    lf_log_threshold = LF_LOG_INFO;
    lf_log(LF_LOG_INFO, "srv", "listening on port %d", 5000);
    lf_log(LF_LOG_DEBUG, "srv", "hidden %d", log_arg());
    lf_log(LF_LOG_ERR, "rt", "boom");
}

START_TEST(test_log_lines_and_threshold)
{
    char *out = capture_stderr(log_some);
    char *second;

    ck_assert_int_eq(log_arg_evaluations, 0); /* dropped lines cost no arguments */
    /* "2023-04-04T17:00:05.123Z INFO srv listening on port 5000\n" */
    ck_assert_uint_gt(strlen(out), 25);
    ck_assert_int_eq(out[4], '-');
    ck_assert_int_eq(out[10], 'T');
    ck_assert_ptr_nonnull(strstr(out, "Z INFO srv listening on port 5000\n"));
    ck_assert_ptr_null(strstr(out, "hidden"));
    second = strchr(out, '\n') + 1;
    ck_assert_ptr_nonnull(strstr(second, "Z ERROR rt boom\n"));
    ck_assert_ptr_eq(strchr(second, '\n') + 1, out + strlen(out)); /* two lines */
    free(out);
}
END_TEST

static void
log_long(void)
{
    char big[5000];

    memset(big, 'q', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    lf_log(LF_LOG_WARN, "bl", "%s", big);
}

START_TEST(test_log_long_line_cut)
{
    char *out = capture_stderr(log_long);
    size_t n = strlen(out);

    ck_assert_uint_le(n, 2048);
    ck_assert_uint_gt(n, 1000);
    ck_assert_int_eq(out[n - 1], '\n');
    ck_assert_ptr_eq(strchr(out, '\n'), out + n - 1);
    free(out);
}
END_TEST

Suite *
io_suite(void)
{
    Suite *s = suite_create("io");
    TCase *tc;

    tc = unit_tcase(s, "lf_file");
    tcase_add_test(tc, test_file_write_read_round_trip);
    tcase_add_test(tc, test_file_read_max_bytes);
    tcase_add_test(tc, test_file_read_errors);
    tcase_add_test(tc, test_file_write_atomic_missing_dir);
    tcase_add_test(tc, test_file_tmp_name);
    tcase_add_test(tc, test_mkdir_p_nested);
    tcase_add_test(tc, test_file_check_readable);

    tc = unit_tcase(s, "lf_log");
    tcase_add_test(tc, test_log_level_parse);
    tcase_add_test(tc, test_log_lines_and_threshold);
    tcase_add_test(tc, test_log_long_line_cut);

    return s;
}
