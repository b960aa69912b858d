/* Location strings to local files. The blob store is a plain folder tree:
 * "s3://liftoff/<key>" is "<data_dir>/blobs/<key>", where keys are checked
 * so that no location can climb out of it. */
#include "bl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "lf_file.h"
#include "lf_util.h"

#define KEY_MAX_CHARS 200
#define S3_PREFIX "s3://"
#define FILE_PREFIX "file://"

int
bl_ctx_init(struct bl_ctx *ctx, const char *data_dir, uint64_t max_download_bytes,
            int download_timeout_s, struct lf_err *err)
{
    int rc;

    snprintf(ctx->blob_dir, sizeof(ctx->blob_dir), "%s/blobs", data_dir);
    snprintf(ctx->cache_dir, sizeof(ctx->cache_dir), "%s/cache", data_dir);
    ctx->max_download_bytes = max_download_bytes;
    ctx->download_timeout_s = download_timeout_s;
    rc = lf_mkdir_p(ctx->blob_dir, err);
    if (rc == LF_OK)
        rc = lf_mkdir_p(ctx->cache_dir, err);
    return rc;
}

int
bl_key_valid(const char *key)
{
    size_t n = strlen(key), part = 0;

    if (n == 0 || n > KEY_MAX_CHARS)
        return 0;
    for (size_t i = 0; i <= n; i++) {
        char c = key[i];

        if (c == '/' || c == '\0') {
            if (part == 0)
                return 0;
            if ((part == 1 && key[i - 1] == '.') ||
                (part == 2 && key[i - 1] == '.' && key[i - 2] == '.'))
                return 0;
            part = 0;
            continue;
        }
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return 0;
        part++;
    }
    return 1;
}

void
bl_key_path(const struct bl_ctx *ctx, const char *key, char *out, size_t cap)
{
    snprintf(out, cap, "%s/%s", ctx->blob_dir, key);
}

static int
copy_path(const char *path, char *out, size_t cap, const char *location, struct lf_err *err)
{
    int rc;

    if (path[0] != '/')
        return lf_err_set(err, LF_EINVAL, "location '%s' is not an absolute path", location);
    if (strlen(path) >= cap)
        return lf_err_set(err, LF_EINVAL, "location '%s' is too long", location);
    snprintf(out, cap, "%s", path);
    rc = lf_file_check_readable(out, err);
    if (rc != LF_OK)
        return lf_err_set(err, rc, "cannot read location '%s': %s", location,
                          rc == LF_ENOENT ? "no such file" : "not a readable regular file");
    return LF_OK;
}

static int
resolve_s3(const struct bl_ctx *ctx, const char *location, char *out, size_t cap,
           struct lf_err *err)
{
    const char *bucket = location + strlen(S3_PREFIX);
    const char *slash = strchr(bucket, '/');
    char path[PATH_MAX];

    if (slash == NULL)
        return lf_err_set(err, LF_EINVAL, "location '%s' has no key", location);
    if ((size_t)(slash - bucket) != strlen(BL_BUCKET) ||
        strncmp(bucket, BL_BUCKET, strlen(BL_BUCKET)) != 0)
        return lf_err_set(err, LF_EINVAL,
                          "location '%s' names a bucket this server does not hold (use s3://%s/)",
                          location, BL_BUCKET);
    if (!bl_key_valid(slash + 1))
        return lf_err_set(err, LF_EINVAL, "location '%s' has a malformed key", location);
    bl_key_path(ctx, slash + 1, path, sizeof(path));
    return copy_path(path, out, cap, location, err);
}

static int
resolve_file_url(const char *location, char *out, size_t cap, struct lf_err *err)
{
    char path[PATH_MAX];
    const char *rest = location + strlen(FILE_PREFIX);

    /* file:///abs and file://localhost/abs name local files; other hosts do not. */
    if (strncmp(rest, "localhost/", 10) == 0)
        rest += strlen("localhost");
    if (rest[0] != '/')
        return lf_err_set(err, LF_EINVAL, "location '%s' names a remote host", location);
    if (strlen(rest) >= sizeof(path))
        return lf_err_set(err, LF_EINVAL, "location '%s' is too long", location);
    snprintf(path, sizeof(path), "%s", rest);
    if (lf_pct_decode(path) != 0)
        return lf_err_set(err, LF_EINVAL, "location '%s' has a malformed escape", location);
    return copy_path(path, out, cap, location, err);
}

static int
resolve_http(const struct bl_ctx *ctx, const char *location, char *out, size_t cap,
             struct lf_err *err)
{
    char path[PATH_MAX], url_path[PATH_MAX];
    char *cached_url = NULL;
    int rc;

    /* The cache file is named by a hash of the URL; the URL itself is kept
     * beside it, so a hash collision is a miss, never a wrong file. */
    snprintf(path, sizeof(path), "%s/%016llx", ctx->cache_dir,
             (unsigned long long)lf_hash64(location, strlen(location)));
    snprintf(url_path, sizeof(url_path), "%s.url", path);
    if (lf_file_read(url_path, strlen(location) + 1, &cached_url, NULL, NULL) == LF_OK &&
        strcmp(cached_url, location) == 0 && lf_file_check_readable(path, NULL) == LF_OK) {
        free(cached_url);
        return copy_path(path, out, cap, location, err);
    }
    free(cached_url);
    rc = bl_fetch_url(location, path, ctx->max_download_bytes, ctx->download_timeout_s, err);
    if (rc != LF_OK)
        return rc;
    rc = lf_file_write_atomic(url_path, location, strlen(location), err);
    if (rc != LF_OK)
        return rc;
    return copy_path(path, out, cap, location, err);
}

int
bl_location_resolve(const struct bl_ctx *ctx, const char *location, char *out, size_t cap,
                    struct lf_err *err)
{
    if (strncmp(location, S3_PREFIX, strlen(S3_PREFIX)) == 0)
        return resolve_s3(ctx, location, out, cap, err);
    if (strncmp(location, FILE_PREFIX, strlen(FILE_PREFIX)) == 0)
        return resolve_file_url(location, out, cap, err);
    if (strncmp(location, "http://", 7) == 0 || strncmp(location, "https://", 8) == 0)
        return resolve_http(ctx, location, out, cap, err);
    if (location[0] == '/')
        return copy_path(location, out, cap, location, err);
    return lf_err_set(err, LF_EINVAL,
                      "location '%s' is not supported (use s3://%s/KEY, file://, an absolute "
                      "path, or http(s)://)",
                      location, BL_BUCKET);
}

int
bl_read_location(const struct bl_ctx *ctx, const char *location, size_t max_bytes, char **out,
                 size_t *len, struct lf_err *err)
{
    char path[PATH_MAX];
    int rc;

    if (strncmp(location, "http://", 7) == 0 || strncmp(location, "https://", 8) == 0)
        return bl_fetch_mem(location, max_bytes, ctx->download_timeout_s, out, len, err);
    rc = bl_location_resolve(ctx, location, path, sizeof(path), err);
    if (rc != LF_OK)
        return rc;
    rc = lf_file_read(path, max_bytes, out, len, err);
    if (rc != LF_OK) {
        char why[LF_ERR_MSG_BYTES];

        snprintf(why, sizeof(why), "%s", err->msg);
        return lf_err_set(err, rc, "cannot read location '%s': %s", location, why);
    }
    return LF_OK;
}
