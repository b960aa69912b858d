/* Artifact locations: turns the location strings that clients send
 * ("s3://<bucket>/<key>", "file://...", "/abs/path", "http(s)://...") into
 * readable local files. Server-side only: nothing here touches Python. */
#ifndef BL_H
#define BL_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include "lf_err.h"

/* The bucket name liftoff answers in signed-upload responses and resolves
 * in "s3://" locations. */
#define BL_BUCKET "liftoff"

struct bl_ctx {
    char blob_dir[PATH_MAX];   /* files of "s3://liftoff/<key>" */
    char cache_dir[PATH_MAX];  /* downloads of http(s) locations */
    uint64_t max_download_bytes;
    int download_timeout_s;
};

/* Fills ctx for a data directory and creates its folders. Errors: LF_EIO. */
int bl_ctx_init(struct bl_ctx *ctx, const char *data_dir, uint64_t max_download_bytes,
                int download_timeout_s, struct lf_err *err);

/* Checks that key is a safe object key: 1 to 200 characters of [A-Za-z0-9._-]
 * in '/'-separated parts, none of them empty, "." or "..". Returns 1 or 0. */
int bl_key_valid(const char *key);

/* Writes the local path of object key (which must be valid) into out. */
void bl_key_path(const struct bl_ctx *ctx, const char *key, char *out, size_t cap);

/* Resolves location to a readable regular file and writes its path into out.
 * http(s) locations are downloaded once into the cache (later calls reuse
 * the file). Blocks for the download. Errors: LF_EINVAL (unsupported or
 * malformed location, other bucket), LF_ENOENT (no such file or object),
 * LF_EIO (unreadable, download failed), LF_ETOOBIG; the message names the
 * location. */
int bl_location_resolve(const struct bl_ctx *ctx, const char *location, char *out, size_t cap,
                        struct lf_err *err);

/* Downloads url into path (atomically: a temporary file, then rename), at
 * most max_bytes, within timeout_s. Errors: LF_EIO, LF_ETOOBIG. */
int bl_fetch_url(const char *url, const char *path, uint64_t max_bytes, int timeout_s,
                 struct lf_err *err);

/* Reads the whole resource at location into memory: local kinds through
 * bl_location_resolve, http(s) downloaded afresh (never cached: these are
 * per-request inputs). *out is malloc'd, NUL-terminated (caller frees).
 * Errors as bl_location_resolve, and LF_ETOOBIG past max_bytes. */
int bl_read_location(const struct bl_ctx *ctx, const char *location, size_t max_bytes,
                     char **out, size_t *len, struct lf_err *err);

/* Downloads url into memory (at most max_bytes, within timeout_s). *out is
 * malloc'd and NUL-terminated. Errors: LF_EIO, LF_ETOOBIG, LF_ENOMEM. */
int bl_fetch_mem(const char *url, uint64_t max_bytes, int timeout_s, char **out, size_t *len,
                 struct lf_err *err);

/* Initializes libcurl once per process; call before threads start.
 * Errors: LF_EIO. */
int bl_global_init(struct lf_err *err);

/* Releases what bl_global_init set up. */
void bl_global_cleanup(void);

#endif
