/* Server start-up and shutdown: the order here is the order of
 * dependencies (data directory, store, auth, runtime, HTTP), and shutdown
 * undoes it in reverse. */
#include "srv_int.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lf_file.h"
#include "lf_log.h"

/* The base URL clients can reach us at, for signed upload URLs: the
 * configured public URL, else the listen address (a wildcard address is
 * replaced by loopback, which at least works on this machine). */
static void
make_public_url(struct srv *s, int port)
{
    const char *host = s->cfg.host;

    if (s->cfg.public_url[0] != '\0') {
        snprintf(s->public_url, sizeof(s->public_url), "%s", s->cfg.public_url);
        return;
    }
    if (strcmp(host, "0.0.0.0") == 0)
        host = "127.0.0.1";
    else if (strcmp(host, "::") == 0)
        host = "::1";
    if (strchr(host, ':') != NULL)
        snprintf(s->public_url, sizeof(s->public_url), "http://[%s]:%d", host, port);
    else
        snprintf(s->public_url, sizeof(s->public_url), "http://%s:%d", host, port);
}

static void
runtime_opts(const struct srv *s, struct rt_opts *o)
{
    memset(o, 0, sizeof(*o));
    /* Workers are this same binary, started as "liftoff worker". */
    if (realpath("/proc/self/exe", o->exe) == NULL)
        snprintf(o->exe, sizeof(o->exe), "/proc/self/exe");
    snprintf(o->data_dir, sizeof(o->data_dir), "%s", s->cfg.data_dir);
    snprintf(o->public_url, sizeof(o->public_url), "%s", s->public_url);
    o->sync_timeout_s = s->cfg.sync_timeout_s;
    o->queue_max = s->cfg.queue_max;
    o->scale_down_idle_s = s->cfg.scale_down_idle_s;
    o->worker_start_timeout_s = s->cfg.worker_start_timeout_s;
    o->url_timeout_s = s->cfg.download_timeout_s;
    o->use_zygote = s->cfg.zygote != 0;
}

int
srv_start(const struct cfg *cfg, struct srv **out, struct lf_err *err)
{
    struct srv *s = calloc(1, sizeof(*s));
    int rc, port = 0, listen_fd = -1;
    bool ipv6 = false;

    if (s == NULL)
        return lf_err_set(err, LF_ENOMEM, "out of memory");
    s->cfg = *cfg;
    lf_log_threshold = cfg->log_level;
    rc = lf_mkdir_p(cfg->data_dir, err);
    /* Absolute from here on: locations and artifacts are absolute paths. */
    if (rc == LF_OK && realpath(cfg->data_dir, s->cfg.data_dir) == NULL)
        rc = lf_err_set(err, LF_EIO, "cannot resolve data_dir '%s'", cfg->data_dir);
    cfg = &s->cfg;
    if (rc == LF_OK)
        rc = bl_ctx_init(&s->bl, cfg->data_dir, cfg->max_upload_bytes, cfg->download_timeout_s,
                         err);
    if (rc == LF_OK)
        rc = srv_store_open(cfg->data_dir, &s->store, err);
    if (rc == LF_OK)
        rc = srv_auth_new(cfg->api_keys_file, &s->auth, err);
    if (rc == LF_OK)
        rc = srv_epcache_new(&s->epcache, err);
    /* Bind first: the real port makes the public URL workers are given.
     * Connections wait in the backlog until HTTP starts, moments later. */
    if (rc == LF_OK)
        rc = srv_http_bind(cfg, &listen_fd, &port, &ipv6, err);
    if (rc == LF_OK) {
        /* The first line on stderr, before any log line. */
        fprintf(stderr, strchr(cfg->host, ':') ? "liftoff listening on http://[%s]:%d\n"
                                               : "liftoff listening on http://%s:%d\n",
                cfg->host, port);
        fflush(stderr);
    }
    if (rc == LF_OK) {
        struct rt_opts opts;

        make_public_url(s, port);
        runtime_opts(s, &opts);
        rc = rt_new(&s->bl, &opts, srv_deploy_on_event, s, &s->rt, err);
    }
    if (rc == LF_OK)
        rc = srv_callbacks_new(s, &s->callbacks, err);
    if (rc == LF_OK)
        rc = srv_async_new(s, &s->async, err);
    if (rc == LF_OK)
        rc = srv_batch_new(s, &s->batch, err);
    /* Stored endpoints go back to the runtime before the first request, and
     * pending tasks after them. */
    if (rc == LF_OK)
        rc = srv_deploy_recover(s, err);
    if (rc == LF_OK)
        rc = srv_batch_recover(s->batch, err);
    if (rc == LF_OK)
        rc = srv_async_recover(s->async, err);
    if (rc == LF_OK) {
        rc = srv_http_start(s, listen_fd, ipv6, &s->http, err);
        listen_fd = -1;
    }
    if (rc != LF_OK) {
        if (listen_fd >= 0)
            close(listen_fd);
        srv_stop(s);
        return rc;
    }
    lf_log(LF_LOG_INFO, "main", "data_dir=%s mode=%s public_url=%s", cfg->data_dir,
           cfg->api_keys_file[0] ? "closed" : "open", s->public_url);
    *out = s;
    return LF_OK;
}

void
srv_stop(struct srv *s)
{
    if (s == NULL)
        return;
    /* Finish what is in flight, answer what still waits (which resumes its
     * connections), and only then stop HTTP, which must have none left
     * suspended. */
    if (s->http != NULL)
        srv_http_quiesce(s->http, s->cfg.shutdown_timeout_s);
    srv_async_shutdown(s->async);
    if (s->rt != NULL)
        rt_shutdown(s->rt);
    if (s->http != NULL)
        srv_http_stop(s->http);
    rt_free(s->rt);
    srv_async_free(s->async);
    srv_batch_free(s->batch);
    srv_callbacks_free(s->callbacks);
    srv_auth_free(s->auth);
    srv_epcache_free(s->epcache);
    srv_store_close(s->store);
    free(s);
}
