/* File helpers: bounded reads, atomic writes and directory creation. */
#ifndef LF_FILE_H
#define LF_FILE_H

#include <stddef.h>

#include "lf_err.h"

/* Reads the whole regular file at path, which must hold at most max_bytes.
 * *out is malloc'd and NUL-terminated (caller frees); *len (NULL allowed)
 * gets the size. Errors: LF_ENOENT (missing), LF_ETOOBIG, LF_EIO, LF_ENOMEM. */
int lf_file_read(const char *path, size_t max_bytes, char **out, size_t *len,
                 struct lf_err *err);

/* Writes data to path atomically: a temporary file beside it, fsync, rename,
 * then fsync of the directory, so a crash leaves the old file or the new one,
 * never a torn one. Errors: LF_EIO. */
int lf_file_write_atomic(const char *path, const void *data, size_t len,
                         struct lf_err *err);

/* Makes the temporary-file name that lf_file_write_atomic and streamed
 * writes use for path: "path.tmp.<random>". */
void lf_file_tmp_name(const char *path, char *out, size_t cap);

/* fsyncs the directory that holds path, so a rename in it is durable. */
int lf_file_sync_dir(const char *path, struct lf_err *err);

/* Creates path and its missing parents (mode 0700 for new ones). Errors:
 * LF_EIO with the path in the message. */
int lf_mkdir_p(const char *path, struct lf_err *err);

/* Checks that path is a regular file this process can read. Errors:
 * LF_ENOENT (missing), LF_EIO (not a regular file or not readable). */
int lf_file_check_readable(const char *path, struct lf_err *err);

#endif
