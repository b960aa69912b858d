/* File helpers: see lf_file.h. */
#include "lf_file.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lf_util.h"

#define TMP_SUFFIX_RANDOM_BYTES 6

int
lf_file_read(const char *path, size_t max_bytes, char **out, size_t *len,
             struct lf_err *err)
{
    struct stat st;
    char *buf = NULL;
    size_t got = 0;
    int fd, rc = LF_OK;

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return lf_err_set(err, errno == ENOENT ? LF_ENOENT : LF_EIO,
                          "cannot open '%s': %s", path, strerror(errno));
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        rc = lf_err_set(err, LF_EIO, "cannot read '%s': not a regular file", path);
        goto out;
    }
    if ((unsigned long long)st.st_size > max_bytes) {
        rc = lf_err_set(err, LF_ETOOBIG, "'%s' is larger than %zu bytes", path, max_bytes);
        goto out;
    }
    buf = malloc((size_t)st.st_size + 1);
    if (buf == NULL) {
        rc = lf_err_set(err, LF_ENOMEM, "out of memory reading '%s'", path);
        goto out;
    }
    while (got < (size_t)st.st_size) {
        ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            rc = lf_err_set(err, LF_EIO, "cannot read '%s': %s", path,
                            n < 0 ? strerror(errno) : "file shrank");
            goto out;
        }
        got += (size_t)n;
    }
    buf[got] = '\0';
    *out = buf;
    buf = NULL;
    if (len != NULL)
        *len = got;
out:
    free(buf);
    close(fd);
    return rc;
}

void
lf_file_tmp_name(const char *path, char *out, size_t cap)
{
    char rnd[2 * TMP_SUFFIX_RANDOM_BYTES + 1];

    lf_random_hex(rnd, TMP_SUFFIX_RANDOM_BYTES);
    snprintf(out, cap, "%s.tmp.%s", path, rnd);
}

int
lf_file_sync_dir(const char *path, struct lf_err *err)
{
    char dir[PATH_MAX];
    char *slash;
    int fd, rc = LF_OK;

    snprintf(dir, sizeof(dir), "%s", path);
    slash = strrchr(dir, '/');
    if (slash == NULL)
        snprintf(dir, sizeof(dir), ".");
    else if (slash == dir)
        dir[1] = '\0';
    else
        *slash = '\0';
    fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return lf_err_set(err, LF_EIO, "cannot open directory '%s': %s", dir, strerror(errno));
    if (fsync(fd) != 0)
        rc = lf_err_set(err, LF_EIO, "cannot sync directory '%s': %s", dir, strerror(errno));
    close(fd);
    return rc;
}

int
lf_file_write_atomic(const char *path, const void *data, size_t len, struct lf_err *err)
{
    char tmp[PATH_MAX];
    const char *p = data;
    int fd;

    lf_file_tmp_name(path, tmp, sizeof(tmp));
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return lf_err_set(err, LF_EIO, "cannot create '%s': %s", tmp, strerror(errno));
    while (len > 0) {
        ssize_t n = write(fd, p, len);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            goto fail;
        p += n;
        len -= (size_t)n;
    }
    if (fsync(fd) != 0)
        goto fail;
    if (close(fd) != 0) {
        fd = -1;
        goto fail;
    }
    fd = -1;
    if (rename(tmp, path) != 0)
        goto fail;
    return lf_file_sync_dir(path, err);
fail:
    lf_err_set(err, LF_EIO, "cannot write '%s': %s", path, strerror(errno));
    if (fd >= 0)
        close(fd);
    unlink(tmp);
    return LF_EIO;
}

int
lf_mkdir_p(const char *path, struct lf_err *err)
{
    char buf[PATH_MAX];
    size_t n = strlen(path);

    if (n == 0 || n >= sizeof(buf))
        return lf_err_set(err, LF_EIO, "bad directory path '%s'", path);
    memcpy(buf, path, n + 1);
    for (char *p = buf + 1; ; p++) {
        if (*p == '/' || *p == '\0') {
            char saved = *p;

            *p = '\0';
            if (mkdir(buf, 0700) != 0 && errno != EEXIST)
                return lf_err_set(err, LF_EIO, "cannot create directory '%s': %s", buf,
                                  strerror(errno));
            *p = saved;
            if (saved == '\0')
                break;
        }
    }
    return LF_OK;
}

int
lf_file_check_readable(const char *path, struct lf_err *err)
{
    struct stat st;

    if (stat(path, &st) != 0)
        return lf_err_set(err, errno == ENOENT ? LF_ENOENT : LF_EIO, "cannot read '%s': %s",
                          path, strerror(errno));
    if (!S_ISREG(st.st_mode))
        return lf_err_set(err, LF_EIO, "cannot read '%s': not a regular file", path);
    if (access(path, R_OK) != 0)
        return lf_err_set(err, LF_EIO, "cannot read '%s': %s", path, strerror(errno));
    return LF_OK;
}
