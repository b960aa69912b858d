/* Temporary directories for the unit tests. Header-only, so each test
 * executable stays one .c file plus runner.c.
 *
 * Every TCase made with unit_tcase() gets a root directory under /tmp that
 * the parent process creates before its tests and removes, contents and all,
 * after them (an unchecked fixture), so a test that fails half-way (its child
 * exits at the failed assertion) still leaves nothing behind. Inside a test,
 * unit_tmp_make() makes a fresh directory below that root. */
#ifndef UNIT_TMP_H
#define UNIT_TMP_H

#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <check.h>

static char unit_tmp_root[PATH_MAX];

static inline int
unit_tmp_rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static inline void
unit_tmp_root_setup(void)
{
    snprintf(unit_tmp_root, sizeof(unit_tmp_root), "/tmp/liftoff-unit-XXXXXX");
    if (mkdtemp(unit_tmp_root) == NULL) {
        perror("mkdtemp");
        abort();
    }
}

static inline void
unit_tmp_root_teardown(void)
{
    if (unit_tmp_root[0] != '\0' &&
        nftw(unit_tmp_root, unit_tmp_rm_one, 16, FTW_DEPTH | FTW_PHYS) != 0)
        perror(unit_tmp_root);
    unit_tmp_root[0] = '\0';
}

/* A TCase of s called name, with its temporary root. */
static inline TCase *
unit_tcase(Suite *s, const char *name)
{
    TCase *tc = tcase_create(name);

    tcase_add_unchecked_fixture(tc, unit_tmp_root_setup, unit_tmp_root_teardown);
    suite_add_tcase(s, tc);
    return tc;
}

/* Makes a fresh, empty directory and writes its path into out (PATH_MAX
 * bytes): below the TCase root, or directly under /tmp outside one. */
static inline void
unit_tmp_make(char *out)
{
    if (unit_tmp_root[0] != '\0')
        snprintf(out, PATH_MAX, "%s/t-XXXXXX", unit_tmp_root);
    else
        snprintf(out, PATH_MAX, "/tmp/liftoff-unit-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(out));
}

/* Removes the directory tree at path (what unit_tmp_make made). */
static inline void
unit_tmp_remove(const char *path)
{
    ck_assert_int_eq(nftw(path, unit_tmp_rm_one, 16, FTW_DEPTH | FTW_PHYS), 0);
}

/* Writes text to dir/name and the full path into out (PATH_MAX bytes). */
static inline void
unit_tmp_write(const char *dir, const char *name, const char *text, char *out)
{
    FILE *f;

    snprintf(out, PATH_MAX, "%s/%s", dir, name);
    f = fopen(out, "w");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_ge(fputs(text, f), 0);
    ck_assert_int_eq(fclose(f), 0);
}

/* How many times needle occurs in haystack. */
static inline int
unit_count(const char *haystack, const char *needle)
{
    int n = 0;

    for (const char *p = strstr(haystack, needle); p != NULL; p = strstr(p + 1, needle))
        n++;
    return n;
}

#endif
