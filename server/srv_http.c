/* libmicrohttpd glue: turns MHD's access-handler calls into one struct
 * srv_req per request. The first call routes, authenticates and checks the
 * declared size, so a refused request is answered before its body is read;
 * later calls collect the body (capped) or stream an upload to disk; the
 * last call runs the handler. The completion callback logs one line. */
#include "srv_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <stdarg.h>

#include "lf_log.h"
#include "lf_util.h"

#define CONNECTION_IDLE_TIMEOUT_S 120
/* MHD zeroes the pool for each request on a kept-alive connection: keep it
 * small (bodies stream through our own buffers, not the pool). */
#define CONNECTION_MEMORY_BYTES (32 * 1024)
#define DRAIN_POLL_MS 10
#define LOG_PATH_BYTES 512
#define LISTEN_BACKLOG 1024

struct srv_http {
    struct MHD_Daemon *daemon;
    MHD_socket listen_fd;     /* ours after MHD_quiesce_daemon */
    struct srv *srv;
    atomic_int in_flight;
};

const char *
srv_req_query(struct srv_req *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
}

const char *
srv_req_header(struct srv_req *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

void
srv_req_suspend(struct srv_req *r)
{
    r->suspended = true;
    MHD_suspend_connection(r->conn);
}

void
srv_req_resume(struct srv_req *r)
{
    MHD_resume_connection(r->conn);
}

static enum MHD_Result
send_resp(struct MHD_Connection *conn, struct srv_req *r)
{
    struct MHD_Response *resp;
    enum MHD_Result ret;

    if (r->resp.body != NULL) {
        resp = MHD_create_response_from_buffer(r->resp.body_len, r->resp.body,
                                               MHD_RESPMEM_MUST_FREE);
        r->resp.body = NULL; /* MHD frees it */
    } else {
        resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    }
    if (resp == NULL)
        return MHD_NO;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
                            r->resp.content_type ? r->resp.content_type : "application/json");
    if (r->resp.www_authenticate != NULL)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
                                r->resp.www_authenticate);
    ret = MHD_queue_response(conn, (unsigned)r->resp.status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static uint64_t
declared_length(struct srv_req *r)
{
    const char *cl = srv_req_header(r, MHD_HTTP_HEADER_CONTENT_LENGTH);
    int64_t v;

    if (cl == NULL || lf_parse_i64(cl, 0, INT64_MAX, &v) != 0)
        return 0;
    return (uint64_t)v;
}

static bool
has_body(struct srv_req *r)
{
    return declared_length(r) > 0 || srv_req_header(r, MHD_HTTP_HEADER_TRANSFER_ENCODING) != NULL;
}

/* First call: route, authenticate, check the declared size. Returns false
 * when r->resp already holds the answer. */
static bool
begin(struct srv_req *r)
{
    struct srv *s = r->srv;
    uint64_t limit;

    switch (srv_route_find(r)) {
    case SRV_MATCH_NOT_FOUND:
        srv_resp_detail(r, MHD_HTTP_NOT_FOUND, "Not Found");
        return false;
    case SRV_MATCH_BAD_METHOD:
        srv_resp_detail(r, MHD_HTTP_METHOD_NOT_ALLOWED, "Method Not Allowed");
        return false;
    case SRV_MATCH_OK:
        break;
    }
    if (!(r->route->flags & SRV_ROUTE_NO_AUTH) && !srv_auth_check(s->auth, r))
        return false;
    limit = (r->route->flags & SRV_ROUTE_UPLOAD) ? s->cfg.max_upload_bytes
                                                 : s->cfg.max_body_bytes;
    if (declared_length(r) > limit) {
        srv_resp_detail(r, MHD_HTTP_CONTENT_TOO_LARGE,
                        "Request body is larger than the limit of %llu bytes",
                        (unsigned long long)limit);
        return false;
    }
    if (r->route->flags & SRV_ROUTE_UPLOAD)
        return srv_upload_begin(r);
    return true;
}

static void
collect(struct srv_req *r, const char *data, size_t len)
{
    if (r->resp.status != 0)
        return; /* already answered: drop the rest of the body */
    if (r->route->flags & SRV_ROUTE_UPLOAD) {
        srv_upload_write(r, data, len);
        return;
    }
    if (!r->body_too_big && lf_buf_add(&r->body, data, len) != LF_OK) {
        r->body_too_big = true;
        lf_buf_release(&r->body);
    }
}

/* Last call: parse a JSON body where the route wants one, run the handler. */
static void
finish(struct srv_req *r)
{
    struct srv_valid v;

    if (r->body_too_big) {
        srv_resp_detail(r, MHD_HTTP_CONTENT_TOO_LARGE,
                        "Request body is larger than the limit of %llu bytes",
                        (unsigned long long)r->srv->cfg.max_body_bytes);
        return;
    }
    if (r->route->flags & SRV_ROUTE_JSON) {
        srv_valid_init(&v, "body");
        if (r->body.len == 0) {
            srv_valid_fail(&v, NULL, "field required", "value_error.missing");
        } else if (!lf_utf8_valid(r->body.data, r->body.len)) {
            /* JSON text is UTF-8; storing other bytes would make every later
             * listing unreadable. */
            srv_valid_fail(&v, NULL, "request body is not valid UTF-8",
                           "value_error.jsondecode");
        } else {
            r->json = cJSON_ParseWithLength(r->body.data, r->body.len);
            if (r->json == NULL)
                srv_valid_fail(&v, NULL, "request body is not valid JSON",
                               "value_error.jsondecode");
            else if (!cJSON_IsObject(r->json))
                srv_valid_fail(&v, NULL, "value is not a valid dict", "type_error.dict");
        }
        if (!srv_valid_ok(&v)) {
            srv_valid_respond(&v, r);
            srv_valid_release(&v);
            return;
        }
        srv_valid_release(&v);
    }
    r->route->handler(r);
    /* A suspended request's response is written by another thread. */
    if (!r->suspended && r->resp.status == 0)
        srv_resp_detail(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "handler gave no response");
}

static enum MHD_Result
on_access(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
          const char *version, const char *upload_data, size_t *upload_data_size, void **con_cls)
{
    struct srv_http *h = cls;
    struct srv_req *r = *con_cls;

    (void)version;
    if (r == NULL) {
        r = calloc(1, sizeof(*r));
        if (r == NULL)
            return MHD_NO;
        r->srv = h->srv;
        r->conn = conn;
        r->method = method;
        r->start_us = lf_now_us();
        snprintf(r->path, sizeof(r->path), "%s", url);
        lf_buf_init(&r->body, h->srv->cfg.max_body_bytes);
        atomic_fetch_add(&h->in_flight, 1);
        *con_cls = r;
        /* A refusal is sent at once only when a body follows (so it is never
         * read); otherwise on the last call, which keeps the connection. */
        if (!begin(r) && has_body(r))
            return send_resp(conn, r);
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        collect(r, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (r->suspended) /* resumed: the response is ready */
        return send_resp(conn, r);
    if (r->resp.status == 0)
        finish(r);
    if (r->suspended)
        return MHD_YES;
    return send_resp(conn, r);
}

/* Copies s for a log line, replacing control characters and spaces. */
static void
log_safe(const char *s, char *out, size_t cap)
{
    size_t o = 0;

    for (; *s != '\0' && o + 1 < cap; s++)
        out[o++] = ((unsigned char)*s <= ' ' || *s == 0x7f) ? '?' : *s;
    out[o] = '\0';
}

static void
on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
             enum MHD_RequestTerminationCode toe)
{
    struct srv_http *h = cls;
    struct srv_req *r = *con_cls;
    char path[LOG_PATH_BYTES];

    (void)conn;
    if (r == NULL)
        return;
    log_safe(r->path, path, sizeof(path));
    lf_log(LF_LOG_INFO, "http", "method=%s path=%s status=%d ms=%.2f owner=%s%s", r->method, path,
           r->resp.status, (double)(lf_now_us() - r->start_us) / 1000.0,
           r->owner_fp[0] ? r->owner_fp : "-",
           toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "" : " aborted=1");
    if (r->upload != NULL)
        srv_upload_release(r);
    lf_buf_release(&r->body);
    cJSON_Delete(r->json);
    free(r->resp.body);
    free(r);
    *con_cls = NULL;
    atomic_fetch_sub(&h->in_flight, 1);
}

static void
on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    char line[512];
    size_t n;

    (void)cls;
    vsnprintf(line, sizeof(line), fmt, ap);
    n = strlen(line);
    while (n > 0 && line[n - 1] == '\n')
        line[--n] = '\0';
    lf_log(LF_LOG_DEBUG, "mhd", "%s", line);
}

int
srv_http_bind(const struct cfg *cfg, int *fd_out, int *port_out, bool *ipv6, struct lf_err *err)
{
    struct addrinfo hints = { 0 }, *ai = NULL;
    struct sockaddr_storage addr;
    socklen_t len = sizeof(addr);
    char port[16];
    int gai, fd, one = 1;

    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    snprintf(port, sizeof(port), "%d", cfg->port);
    gai = getaddrinfo(cfg->host, port, &hints, &ai);
    if (gai != 0)
        return lf_err_set(err, LF_ECONFIG, "invalid host '%s': %s", cfg->host,
                          gai_strerror(gai));
    fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, LISTEN_BACKLOG) != 0 ||
        getsockname(fd, (struct sockaddr *)&addr, &len) != 0) {
        lf_err_set(err, LF_EIO, "cannot listen on %s port %d: %s", cfg->host, cfg->port,
                   strerror(errno));
        if (fd >= 0)
            close(fd);
        freeaddrinfo(ai);
        return LF_EIO;
    }
    *ipv6 = ai->ai_family == AF_INET6;
    freeaddrinfo(ai);
    *port_out = ntohs(addr.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&addr)->sin6_port
                                                 : ((struct sockaddr_in *)&addr)->sin_port);
    *fd_out = fd;
    return LF_OK;
}

int
srv_http_start(struct srv *s, int listen_fd, bool ipv6, struct srv_http **out,
               struct lf_err *err)
{
    struct srv_http *h;
    /* poll(), not epoll: with a thread pool, MHD 0.9.75 can abort in
     * MHD_quiesce_daemon while removing the listen socket from a worker's
     * epoll set. Each thread polls only its own few connections. */
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL | MHD_USE_ITC |
                     MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;

    h = calloc(1, sizeof(*h));
    if (h == NULL) {
        close(listen_fd);
        return lf_err_set(err, LF_ENOMEM, "out of memory");
    }
    h->srv = s;
    h->listen_fd = MHD_INVALID_SOCKET;
    if (ipv6)
        flags |= MHD_USE_IPv6;
    h->daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, on_access, h,
        MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, NULL, /* first, to catch option errors */
        MHD_OPTION_LISTEN_SOCKET, listen_fd,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned)s->cfg.http_threads,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, h,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)CONNECTION_IDLE_TIMEOUT_S,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)CONNECTION_MEMORY_BYTES,
        MHD_OPTION_END);
    if (h->daemon == NULL) {
        close(listen_fd);
        free(h);
        return lf_err_set(err, LF_EIO, "cannot start the HTTP server");
    }
    *out = h;
    return LF_OK;
}

void
srv_http_quiesce(struct srv_http *h, int timeout_s)
{
    int64_t deadline = lf_mono_ms() + (int64_t)timeout_s * 1000;

    h->listen_fd = MHD_quiesce_daemon(h->daemon);
    while (atomic_load(&h->in_flight) > 0 && lf_mono_ms() < deadline) {
        struct timespec ts = { 0, DRAIN_POLL_MS * 1000000L };

        nanosleep(&ts, NULL);
    }
    if (atomic_load(&h->in_flight) > 0)
        lf_log(LF_LOG_WARN, "http", "stopping with %d requests still in flight",
               atomic_load(&h->in_flight));
}

void
srv_http_stop(struct srv_http *h)
{
    /* Give resumed connections a moment to send their answers. */
    for (int i = 0; i < 100 && atomic_load(&h->in_flight) > 0; i++) {
        struct timespec ts = { 0, DRAIN_POLL_MS * 1000000L };

        nanosleep(&ts, NULL);
    }
    MHD_stop_daemon(h->daemon);
    if (h->listen_fd != MHD_INVALID_SOCKET)
        close(h->listen_fd);
    free(h);
}
