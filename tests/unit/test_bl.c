/* Unit tests of bundle_loader/: object keys and local locations. http(s)
 * downloads are left to the end-to-end tests (no network here). */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <check.h>

#include "bl.h"
#include "lf_err.h"
#include "lf_file.h"
#include "unit_tmp.h"

/* ---- bl_key_valid ---- */

START_TEST(test_key_valid_accepts)
{
    static const char *const good[] = {
        "bundles/abc-1.x", "a", "A_b-C.9", "x/y/z", "...", ".hidden", "a/b.", "v1/model.tar.gz",
    };
    char k200[201];

    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        ck_assert_msg(bl_key_valid(good[i]) == 1, "rejected '%s'", good[i]);
    memset(k200, 'k', 200);
    k200[200] = '\0';
    ck_assert_int_eq(bl_key_valid(k200), 1);
}
END_TEST

START_TEST(test_key_valid_rejects)
{
    static const char *const bad[] = {
        "", "..", ".", "a/../b", "a/./b", "../a", "a/..", "a//b", "/a", "a/", "a b", "a\\b",
        "a%2Fb", "a:b", "\xc3\xa9", "a\nb", "s3://x",
    };
    char k201[202];

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(bl_key_valid(bad[i]) == 0, "accepted '%s'", bad[i]);
    memset(k201, 'k', 201);
    k201[201] = '\0';
    ck_assert_int_eq(bl_key_valid(k201), 0);
}
END_TEST

/* ---- bl_ctx_init and bl_key_path ---- */

START_TEST(test_ctx_init_creates_folders)
{
    char dir[PATH_MAX], data[PATH_MAX], path[PATH_MAX];
    struct bl_ctx ctx;
    struct lf_err err = {0};
    struct stat st;

    unit_tmp_make(dir);
    snprintf(data, sizeof(data), "%s/data", dir);
    ck_assert_int_eq(bl_ctx_init(&ctx, data, 1000, 7, &err), LF_OK);
    ck_assert_uint_eq(ctx.max_download_bytes, 1000);
    ck_assert_int_eq(ctx.download_timeout_s, 7);
    ck_assert_int_eq(stat(ctx.blob_dir, &st), 0);
    ck_assert(S_ISDIR(st.st_mode));
    ck_assert_int_eq(stat(ctx.cache_dir, &st), 0);
    ck_assert(S_ISDIR(st.st_mode));
    ck_assert_int_eq(strncmp(ctx.blob_dir, data, strlen(data)), 0);
    bl_key_path(&ctx, "bundles/x.zip", path, sizeof(path));
    ck_assert_int_eq(strncmp(path, ctx.blob_dir, strlen(ctx.blob_dir)), 0);
    ck_assert_str_eq(path + strlen(ctx.blob_dir), "/bundles/x.zip");
    /* again over the same folders */
    ck_assert_int_eq(bl_ctx_init(&ctx, data, 1000, 7, &err), LF_OK);
    /* a file where the data directory should be */
    unit_tmp_write(dir, "file", "x", path);
    ck_assert_int_eq(bl_ctx_init(&ctx, path, 1000, 7, &err), LF_EIO);
    lf_err_release(&err);
    unit_tmp_remove(dir);
}
END_TEST

/* ---- bl_location_resolve ---- */

struct fix {
    char dir[PATH_MAX];
    struct bl_ctx ctx;
};

/* A data directory with blobs "bundles/abc-1.x" (a file) and "folder/"
 * (a directory), plus "<dir>/plain.bin", "<dir>/my file.bin" and
 * "<dir>/adir/". */
static void
fix_make(struct fix *f)
{
    char path[PATH_MAX], sub[PATH_MAX];
    struct lf_err err = {0};

    unit_tmp_make(f->dir);
    snprintf(path, sizeof(path), "%s/data", f->dir);
    ck_assert_int_eq(bl_ctx_init(&f->ctx, path, 1 << 20, 10, &err), LF_OK);
    snprintf(sub, sizeof(sub), "%s/bundles", f->ctx.blob_dir);
    ck_assert_int_eq(lf_mkdir_p(sub, &err), LF_OK);
    unit_tmp_write(sub, "abc-1.x", "blob", path);
    snprintf(sub, sizeof(sub), "%s/folder", f->ctx.blob_dir);
    ck_assert_int_eq(lf_mkdir_p(sub, &err), LF_OK);
    unit_tmp_write(f->dir, "plain.bin", "plain", path);
    unit_tmp_write(f->dir, "my file.bin", "spaced", path);
    snprintf(sub, sizeof(sub), "%s/adir", f->dir);
    ck_assert_int_eq(lf_mkdir_p(sub, &err), LF_OK);
}

/* Resolves location and checks the code; on success out must be want, on
 * failure the message must name the location. */
static void
resolves(const struct fix *f, const char *location, int code, const char *want)
{
    char out[PATH_MAX] = "";
    struct lf_err err = {0};
    int rc = bl_location_resolve(&f->ctx, location, out, sizeof(out), &err);

    ck_assert_msg(rc == code, "'%s' gave %s (%s), not %s", location, lf_code_name(rc), err.msg,
                  lf_code_name(code));
    if (code == LF_OK) {
        ck_assert_str_eq(out, want);
    } else {
        ck_assert_int_eq(err.code, code);
        ck_assert_msg(strstr(err.msg, location) != NULL, "'%s' not in message '%s'", location,
                      err.msg);
    }
    lf_err_release(&err);
}

START_TEST(test_resolve_s3)
{
    struct fix f;
    char want[PATH_MAX];

    fix_make(&f);
    snprintf(want, sizeof(want), "%s/bundles/abc-1.x", f.ctx.blob_dir);
    resolves(&f, "s3://liftoff/bundles/abc-1.x", LF_OK, want);
    resolves(&f, "s3://other/bundles/abc-1.x", LF_EINVAL, NULL);
    resolves(&f, "s3://liftoffx/bundles/abc-1.x", LF_EINVAL, NULL);
    resolves(&f, "s3://lift/bundles/abc-1.x", LF_EINVAL, NULL);
    resolves(&f, "s3://liftoff/bundles/missing", LF_ENOENT, NULL);
    resolves(&f, "s3://liftoff", LF_EINVAL, NULL);
    resolves(&f, "s3://liftoff/", LF_EINVAL, NULL);
    resolves(&f, "s3://liftoff/../plain.bin", LF_EINVAL, NULL);
    resolves(&f, "s3://liftoff/bundles/../../plain.bin", LF_EINVAL, NULL);
    resolves(&f, "s3://liftoff/folder", LF_EIO, NULL);
    unit_tmp_remove(f.dir);
}
END_TEST

START_TEST(test_resolve_file_urls)
{
    struct fix f;
    char loc[PATH_MAX + 64], want[PATH_MAX];

    fix_make(&f);
    snprintf(want, sizeof(want), "%s/plain.bin", f.dir);
    snprintf(loc, sizeof(loc), "file://%s", want);
    resolves(&f, loc, LF_OK, want);
    snprintf(loc, sizeof(loc), "file://localhost%s", want);
    resolves(&f, loc, LF_OK, want);
    snprintf(loc, sizeof(loc), "file://otherhost%s", want);
    resolves(&f, loc, LF_EINVAL, NULL);
    resolves(&f, "file://", LF_EINVAL, NULL);
    resolves(&f, "file://localhost", LF_EINVAL, NULL);
    /* percent-escapes are decoded */
    snprintf(want, sizeof(want), "%s/my file.bin", f.dir);
    snprintf(loc, sizeof(loc), "file://%s/my%%20file.bin", f.dir);
    resolves(&f, loc, LF_OK, want);
    snprintf(loc, sizeof(loc), "file://%s/my%%zzfile.bin", f.dir);
    resolves(&f, loc, LF_EINVAL, NULL);
    snprintf(loc, sizeof(loc), "file://%s/plain.bin%%00", f.dir);
    resolves(&f, loc, LF_EINVAL, NULL);
    /* missing file, and a directory */
    snprintf(loc, sizeof(loc), "file://%s/nope.bin", f.dir);
    resolves(&f, loc, LF_ENOENT, NULL);
    snprintf(loc, sizeof(loc), "file://%s/adir", f.dir);
    resolves(&f, loc, LF_EIO, NULL);
    unit_tmp_remove(f.dir);
}
END_TEST

START_TEST(test_resolve_paths)
{
    struct fix f;
    char loc[PATH_MAX + 64], want[PATH_MAX];

    fix_make(&f);
    snprintf(want, sizeof(want), "%s/plain.bin", f.dir);
    resolves(&f, want, LF_OK, want);
    snprintf(want, sizeof(want), "%s/my file.bin", f.dir);
    resolves(&f, want, LF_OK, want); /* a plain path is not percent-decoded */
    snprintf(loc, sizeof(loc), "%s/adir", f.dir);
    resolves(&f, loc, LF_EIO, NULL);
    snprintf(loc, sizeof(loc), "%s/nope.bin", f.dir);
    resolves(&f, loc, LF_ENOENT, NULL);
    resolves(&f, "plain.bin", LF_EINVAL, NULL);
    resolves(&f, "./plain.bin", LF_EINVAL, NULL);
    resolves(&f, "rel/dir/x.bin", LF_EINVAL, NULL);
    resolves(&f, "ftp://example.com/x.bin", LF_EINVAL, NULL);
    resolves(&f, "gs://liftoff/bundles/abc-1.x", LF_EINVAL, NULL);
    unit_tmp_remove(f.dir);
}
END_TEST

START_TEST(test_resolve_out_too_small)
{
    struct fix f;
    char want[PATH_MAX], out[8];
    struct lf_err err = {0};

    fix_make(&f);
    snprintf(want, sizeof(want), "%s/plain.bin", f.dir);
    ck_assert_int_eq(bl_location_resolve(&f.ctx, want, out, sizeof(out), &err), LF_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, want));
    lf_err_release(&err);
    unit_tmp_remove(f.dir);
}
END_TEST

START_TEST(test_resolve_not_regular)
{
    struct fix f;
    char path[PATH_MAX];

    /* A FIFO is not a regular file, for root too (permissions would not be). */
    fix_make(&f);
    snprintf(path, sizeof(path), "%s/fifo", f.dir);
    ck_assert_int_eq(mkfifo(path, 0600), 0);
    resolves(&f, path, LF_EIO, NULL);
    unit_tmp_remove(f.dir);
}
END_TEST

/* ---- bl_read_location (local kinds only) ---- */

START_TEST(test_read_location)
{
    struct fix f;
    char loc[PATH_MAX + 64];
    char *out = NULL;
    size_t len = 0;
    struct lf_err err = {0};

    fix_make(&f);
    ck_assert_int_eq(bl_read_location(&f.ctx, "s3://liftoff/bundles/abc-1.x", 100, &out, &len,
                                      &err), LF_OK);
    ck_assert_str_eq(out, "blob");
    ck_assert_uint_eq(len, 4);
    free(out);
    out = NULL;
    snprintf(loc, sizeof(loc), "file://%s/my%%20file.bin", f.dir);
    ck_assert_int_eq(bl_read_location(&f.ctx, loc, 100, &out, NULL, &err), LF_OK);
    ck_assert_str_eq(out, "spaced");
    free(out);
    out = NULL;
    ck_assert_int_eq(bl_read_location(&f.ctx, "s3://liftoff/bundles/nope", 100, &out, &len,
                                      &err), LF_ENOENT);
    ck_assert_ptr_nonnull(strstr(err.msg, "s3://liftoff/bundles/nope"));
    ck_assert_int_eq(bl_read_location(&f.ctx, "ftp://x/y", 100, &out, &len, &err), LF_EINVAL);
    ck_assert_ptr_null(out);
    lf_err_release(&err);
    unit_tmp_remove(f.dir);
}
END_TEST

START_TEST(test_read_location_too_big)
{
    struct fix f;
    static const char loc[] = "s3://liftoff/bundles/abc-1.x";
    char *out = NULL;
    size_t len = 0;
    struct lf_err err = {0};

    fix_make(&f);
    ck_assert_int_eq(bl_read_location(&f.ctx, loc, 3, &out, &len, &err), LF_ETOOBIG);
    ck_assert_int_eq(err.code, LF_ETOOBIG);
    ck_assert_ptr_null(out);
    unit_tmp_remove(f.dir);
    /* the location once, then the reason (the message must not be
     * formatted from itself) */
    ck_assert_msg(unit_count(err.msg, "cannot read location") == 1, "garbled message '%s'",
                  err.msg);
    ck_assert_msg(unit_count(err.msg, loc) == 1, "garbled message '%s'", err.msg);
    ck_assert_msg(strstr(err.msg, "larger than 3 bytes") != NULL, "no reason in '%s'", err.msg);
    lf_err_release(&err);
}
END_TEST

START_TEST(test_global_init)
{
    struct lf_err err = {0};

    ck_assert_int_eq(bl_global_init(&err), LF_OK);
    bl_global_cleanup();
}
END_TEST

Suite *
bl_suite(void)
{
    Suite *s = suite_create("bl");
    TCase *tc;

    tc = unit_tcase(s, "bl_key_valid");
    tcase_add_test(tc, test_key_valid_accepts);
    tcase_add_test(tc, test_key_valid_rejects);

    tc = unit_tcase(s, "bl_ctx_init");
    tcase_add_test(tc, test_ctx_init_creates_folders);
    tcase_add_test(tc, test_global_init);

    tc = unit_tcase(s, "bl_location_resolve");
    tcase_add_test(tc, test_resolve_s3);
    tcase_add_test(tc, test_resolve_file_urls);
    tcase_add_test(tc, test_resolve_paths);
    tcase_add_test(tc, test_resolve_out_too_small);
    tcase_add_test(tc, test_resolve_not_regular);

    tc = unit_tcase(s, "bl_read_location");
    tcase_add_test(tc, test_read_location);
    tcase_add_test(tc, test_read_location_too_big);

    return s;
}
