/* http(s) downloads with libcurl: streamed to a temporary file beside the
 * target with a size cap, then renamed, so a failed download leaves
 * nothing behind. */
#include "bl.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>

#include "lf_buf.h"
#include "lf_file.h"

#define FETCH_MAX_REDIRECTS 5L
#define FETCH_CONNECT_TIMEOUT_S 30L

struct sink {
    FILE *f;             /* NULL: collect into mem */
    struct lf_buf mem;
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
    if (s->f != NULL ? fwrite(p, 1, n, s->f) != n : lf_buf_add(&s->mem, p, n) != LF_OK)
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

/* Runs one download of url into sink. Errors: LF_EIO, LF_ETOOBIG. */
static int
perform(const char *url, struct sink *sink, int timeout_s, struct lf_err *err)
{
    CURL *curl = curl_easy_init();
    CURLcode cc;
    int rc = LF_OK;

    if (curl == NULL)
        return lf_err_set(err, LF_ENOMEM, "cannot start a download of '%s'", url);
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
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, sink);
    cc = curl_easy_perform(curl);
    if (sink->too_big)
        rc = lf_err_set(err, LF_ETOOBIG, "cannot download '%s': larger than %llu bytes", url,
                        (unsigned long long)sink->max_bytes);
    else if (cc != CURLE_OK)
        rc = lf_err_set(err, LF_EIO, "cannot download '%s': %s", url, curl_easy_strerror(cc));
    curl_easy_cleanup(curl);
    return rc;
}

int
bl_fetch_mem(const char *url, uint64_t max_bytes, int timeout_s, char **out, size_t *len,
             struct lf_err *err)
{
    struct sink sink = { .f = NULL, .max_bytes = max_bytes };
    int rc;

    lf_buf_init(&sink.mem, max_bytes);
    rc = perform(url, &sink, timeout_s, err);
    if (rc != LF_OK) {
        lf_buf_release(&sink.mem);
        return rc;
    }
    *out = lf_buf_detach(&sink.mem, len);
    return *out ? LF_OK : lf_err_set(err, LF_ENOMEM, "out of memory");
}

int
bl_fetch_url(const char *url, const char *path, uint64_t max_bytes, int timeout_s,
             struct lf_err *err)
{
    char tmp[PATH_MAX];
    struct sink sink = { .f = NULL, .max_bytes = max_bytes };
    int rc;

    lf_file_tmp_name(path, tmp, sizeof(tmp));
    sink.f = fopen(tmp, "wbx");
    if (sink.f == NULL)
        return lf_err_set(err, LF_EIO, "cannot create '%s': %s", tmp, strerror(errno));
    rc = perform(url, &sink, timeout_s, err);
    if (rc != LF_OK)
        goto out;
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
    return rc;
}
