/* http(s) downloads with libcurl: streamed to a temporary file beside the
 * target with a size cap, then renamed, so a failed download leaves
 * nothing behind. */
#include "bl.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>

#include "lf_file.h"

#define FETCH_MAX_REDIRECTS 5L
#define FETCH_CONNECT_TIMEOUT_S 30L

struct sink {
    FILE *f;
    uint64_t written;
    uint64_t max_bytes;
    int too_big;
};

static size_t
on_data(char *p, size_t size, size_t nmemb, void *user)
{
    struct sink *s = user;
    size_t n = size * nmemb;

    if (s->written + n > s->max_bytes) {
        s->too_big = 1;
        return 0; /* aborts the transfer */
    }
    if (fwrite(p, 1, n, s->f) != n)
        return 0;
    s->written += n;
    return n;
}

int
bl_global_init(struct lf_err *err)
{
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return lf_err_set(err, LF_EIO, "cannot initialize libcurl");
    return LF_OK;
}

void
bl_global_cleanup(void)
{
    curl_global_cleanup();
}

int
bl_fetch_url(const char *url, const char *path, uint64_t max_bytes, int timeout_s,
             struct lf_err *err)
{
    char tmp[PATH_MAX];
    struct sink sink = { NULL, 0, max_bytes, 0 };
    CURL *curl = NULL;
    CURLcode cc;
    int rc = LF_OK;

    lf_file_tmp_name(path, tmp, sizeof(tmp));
    sink.f = fopen(tmp, "wbx");
    if (sink.f == NULL)
        return lf_err_set(err, LF_EIO, "cannot create '%s': %s", tmp, strerror(errno));
    curl = curl_easy_init();
    if (curl == NULL) {
        rc = lf_err_set(err, LF_ENOMEM, "cannot start a download of '%s'", url);
        goto out;
    }
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(curl, CURLOPT_MAXREDIRS, FETCH_MAX_REDIRECTS);
    curl_easy_setopt(curl, CURLOPT_FAILONERROR, 1L);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, FETCH_CONNECT_TIMEOUT_S);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, (long)timeout_s);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &sink);
    cc = curl_easy_perform(curl);
    if (sink.too_big) {
        rc = lf_err_set(err, LF_ETOOBIG, "cannot download '%s': larger than %llu bytes", url,
                        (unsigned long long)max_bytes);
        goto out;
    }
    if (cc != CURLE_OK) {
        rc = lf_err_set(err, LF_EIO, "cannot download '%s': %s", url, curl_easy_strerror(cc));
        goto out;
    }
    if (fflush(sink.f) != 0 || fsync(fileno(sink.f)) != 0) {
        rc = lf_err_set(err, LF_EIO, "cannot write '%s': %s", tmp, strerror(errno));
        goto out;
    }
    fclose(sink.f);
    sink.f = NULL;
    if (rename(tmp, path) != 0) {
        rc = lf_err_set(err, LF_EIO, "cannot rename '%s': %s", tmp, strerror(errno));
        goto out;
    }
    rc = lf_file_sync_dir(path, err);
out:
    if (sink.f != NULL)
        fclose(sink.f);
    if (rc != LF_OK)
        unlink(tmp);
    curl_easy_cleanup(curl);
    return rc;
}
