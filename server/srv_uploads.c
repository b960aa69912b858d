/* Signed-upload emulation (spec 2.7): POST /model_bundle_upload hands out a
 * one-time URL on this server; PUT /upload/<key>?token=... streams the body
 * to a temporary file under the blob folder and renames it into place once
 * the whole body is on disk, so "s3://liftoff/<key>" is either absent or
 * complete. Bodies are never held in memory. */
#include "srv_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lf_file.h"
#include "lf_log.h"
#include "lf_util.h"

#define UPLOAD_KEY_RANDOM_BYTES 12
#define UPLOAD_TOKEN_RANDOM_BYTES 16

struct srv_upload {
    char key[256];
    char path[PATH_MAX];
    char tmp[PATH_MAX];
    int fd;
    uint64_t written;
    bool claimed;
    bool done;
};

void
srv_h_upload_url(struct srv_req *r)
{
    struct srv *s = r->srv;
    char rnd[2 * UPLOAD_KEY_RANDOM_BYTES + 1], token[2 * UPLOAD_TOKEN_RANDOM_BYTES + 1];
    char key[128], url[CFG_URL_BYTES + 256];
    struct lf_err err = { 0 };
    cJSON *obj;

    lf_random_hex(rnd, UPLOAD_KEY_RANDOM_BYTES);
    lf_random_hex(token, UPLOAD_TOKEN_RANDOM_BYTES);
    snprintf(key, sizeof(key), "%s/%s",
             strstr(r->path, "batch_task_input_upload") ? "batch-inputs" : "bundles", rnd);
    if (srv_store_upload_add(s->store, key, token,
                             lf_now_us() + (int64_t)s->cfg.upload_token_ttl_s * 1000000,
                             &err) != LF_OK) {
        srv_resp_err(r, &err);
        return;
    }
    snprintf(url, sizeof(url), "%s/upload/%s?token=%s", s->public_url, key, token);
    obj = cJSON_CreateObject();
    cJSON_AddStringToObject(obj, "signedUrl", url);
    cJSON_AddStringToObject(obj, "bucket", BL_BUCKET);
    cJSON_AddStringToObject(obj, "key", key);
    srv_resp_json(r, 200, obj);
}

bool
srv_upload_begin(struct srv_req *r)
{
    struct srv *s = r->srv;
    struct srv_upload *u;
    const char *token = srv_req_query(r, "token");
    struct lf_err err = { 0 };
    char dir[PATH_MAX];

    u = calloc(1, sizeof(*u));
    if (u == NULL) {
        srv_resp_detail(r, 500, "out of memory");
        return false;
    }
    u->fd = -1;
    r->upload = u;
    snprintf(u->key, sizeof(u->key), "%s/%s", r->params[0], r->params[1]);
    if (token == NULL || !bl_key_valid(u->key)) {
        srv_resp_detail(r, 403, "upload URL is not valid, already used, or expired");
        return false;
    }
    if (srv_store_upload_claim(s->store, u->key, token, lf_now_us(), &err) != LF_OK) {
        srv_resp_err(r, &err);
        return false;
    }
    u->claimed = true;
    bl_key_path(&s->bl, u->key, u->path, sizeof(u->path));
    snprintf(dir, sizeof(dir), "%s/%s", s->bl.blob_dir, r->params[0]);
    if (lf_mkdir_p(dir, &err) != LF_OK) {
        srv_resp_err(r, &err);
        return false;
    }
    lf_file_tmp_name(u->path, u->tmp, sizeof(u->tmp));
    u->fd = open(u->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (u->fd < 0) {
        lf_err_set(&err, LF_EIO, "cannot create '%s': %s", u->tmp, strerror(errno));
        srv_resp_err(r, &err);
        return false;
    }
    return true;
}

bool
srv_upload_write(struct srv_req *r, const char *data, size_t len)
{
    struct srv_upload *u = r->upload;
    uint64_t max = r->srv->cfg.max_upload_bytes;

    if (u->written + len > max) {
        srv_resp_detail(r, 413, "Upload is larger than the limit of %llu bytes",
                        (unsigned long long)max);
        return false;
    }
    while (len > 0) {
        ssize_t n = write(u->fd, data, len);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            struct lf_err err = { 0 };

            lf_err_set(&err, LF_EIO, "cannot write '%s': %s", u->tmp, strerror(errno));
            srv_resp_err(r, &err);
            return false;
        }
        data += n;
        len -= (size_t)n;
        u->written += (uint64_t)n;
    }
    return true;
}

void
srv_h_upload_put(struct srv_req *r)
{
    struct srv_upload *u = r->upload;
    struct lf_err err = { 0 };
    cJSON *obj;
    int fd = u->fd;

    u->fd = -1;
    if (fsync(fd) != 0 || close(fd) != 0 || rename(u->tmp, u->path) != 0) {
        lf_err_set(&err, LF_EIO, "cannot store upload '%s': %s", u->key, strerror(errno));
        srv_resp_err(r, &err);
        return;
    }
    if (lf_file_sync_dir(u->path, &err) != LF_OK ||
        srv_store_upload_finish(r->srv->store, u->key, 1, &err) != LF_OK) {
        srv_resp_err(r, &err);
        return;
    }
    u->done = true;
    obj = cJSON_CreateObject();
    cJSON_AddStringToObject(obj, "bucket", BL_BUCKET);
    cJSON_AddStringToObject(obj, "key", u->key);
    cJSON_AddNumberToObject(obj, "bytes", (double)u->written);
    srv_resp_json(r, 200, obj);
}

void
srv_upload_release(struct srv_req *r)
{
    struct srv_upload *u = r->upload;

    if (u->fd >= 0)
        close(u->fd);
    if (!u->done && u->tmp[0] != '\0')
        unlink(u->tmp);
    if (u->claimed && !u->done && srv_store_upload_finish(r->srv->store, u->key, 0, NULL) != LF_OK)
        lf_log(LF_LOG_WARN, "upload", "cannot reopen upload key=%s", u->key);
    free(u);
    r->upload = NULL;
}
