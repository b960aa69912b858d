/* Worker and zygote processes, seen from the server: starting them,
 * reading their frames, sending them requests, stopping and reaping them.
 *
 * The server is a child subreaper, so it is the parent of every worker,
 * forked from a zygote or not, and the only one that reaps them: a
 * process is finished when both its socket has closed and waitpid has
 * reported it (or, for a worker that died before telling its pid, a
 * second after the socket closed). */
#include "rt_srv.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "lf_log.h"
#include "lf_util.h"
#include "rt_worker.h"

#define READ_CHUNK_BYTES (64 * 1024)
#define WORKER_FD 3
#define ENV_MAX 512

extern char **environ;

/* Thread-count defaults for numeric libraries: a worker is one of many
 * processes, and threads started while loading make a bundle unsafe to
 * fork from a zygote. A value the user set wins. */
static const char *const thread_env[] = {
    "OPENBLAS_NUM_THREADS=1", "OMP_NUM_THREADS=1", "MKL_NUM_THREADS=1",
    "NUMEXPR_NUM_THREADS=1", NULL,
};

char *
rt_spec_env(const struct rt *rt, const struct rt_endpoint_spec *spec)
{
    cJSON *o = spec->worker_json ? cJSON_Parse(spec->worker_json) : NULL;
    char *text;

    if (!cJSON_IsObject(o)) {
        cJSON_Delete(o);
        o = cJSON_CreateObject();
    }
    cJSON_DeleteItemFromObject(o, "path");
    cJSON_AddStringToObject(o, "path", spec->location);
    cJSON_AddStringToObject(o, "bundle_id", spec->bundle_id);
    cJSON_AddStringToObject(o, "data_dir", rt->opts.data_dir);
    cJSON_AddStringToObject(o, "public_url", rt->opts.public_url);
    cJSON_AddNumberToObject(o, "per_worker", spec->per_worker);
    cJSON_AddNumberToObject(o, "url_timeout_s", rt->opts.url_timeout_s);
    text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return text;
}

static void
on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    static char chunk[READ_CHUNK_BYTES]; /* the loop thread is the only reader */

    (void)h;
    (void)suggested;
    buf->base = chunk;
    buf->len = sizeof(chunk);
}

static void
on_pipe_closed(uv_handle_t *h)
{
    struct rt_proc *pr = h->data;

    pr->pipe_open = false;
}

static void
close_pipe(struct rt_proc *pr)
{
    if (pr->pipe_open && !uv_is_closing((uv_handle_t *)&pr->pipe))
        uv_close((uv_handle_t *)&pr->pipe, on_pipe_closed);
}

static struct rt *
loop_rt(uv_handle_t *h)
{
    return h->loop->data;
}

/* Hands one whole frame to the pool. */
static void
frame(struct rt *rt, struct rt_proc *pr, const struct rt_frame_hdr *h, const char *payload)
{
    switch (h->type) {
    case RT_F_READY: rt_pool_on_ready(rt, pr, payload); break;
    case RT_F_LOAD_FAILED: rt_pool_on_load_failed(rt, pr, payload); break;
    case RT_F_RESULT: rt_pool_on_result(rt, pr, h, payload); break;
    case RT_F_FORKED: rt_pool_on_forked(rt, pr, payload); break;
    default:
        lf_log(LF_LOG_WARN, "rt", "pid=%d sent an unknown frame type=%u", (int)pr->pid, h->type);
    }
}

static void
on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    struct rt_proc *pr = s->data;
    struct rt *rt = loop_rt((uv_handle_t *)s);
    size_t off = 0;

    if (n < 0) {
        pr->eof = true;
        pr->eof_ms = lf_mono_ms();
        close_pipe(pr);
        return;
    }
    if (lf_buf_add(&pr->rbuf, buf->base, (size_t)n) != LF_OK) {
        lf_log(LF_LOG_ERR, "rt", "pid=%d sent an oversized frame: killing it", (int)pr->pid);
        rt_proc_kill(pr);
        return;
    }
    while (pr->rbuf.len - off >= sizeof(struct rt_frame_hdr)) {
        struct rt_frame_hdr h;
        char saved;

        memcpy(&h, pr->rbuf.data + off, sizeof(h));
        if (pr->rbuf.len - off - sizeof(h) < h.len)
            break;
        /* NUL-terminate the payload in place for the handlers. */
        saved = pr->rbuf.data[off + sizeof(h) + h.len];
        pr->rbuf.data[off + sizeof(h) + h.len] = '\0';
        frame(rt, pr, &h, pr->rbuf.data + off + sizeof(h));
        pr->rbuf.data[off + sizeof(h) + h.len] = saved;
        off += sizeof(h) + h.len;
        if (!pr->pipe_open || pr->eof)
            break;
    }
    if (off > 0) {
        memmove(pr->rbuf.data, pr->rbuf.data + off, pr->rbuf.len - off);
        pr->rbuf.len -= off;
        pr->rbuf.data[pr->rbuf.len] = '\0';
    }
}

static struct rt_proc *
proc_new(struct rt *rt, struct rt_pool *p, enum rt_proc_kind kind, int fd)
{
    struct rt_proc *pr = calloc(1, sizeof(*pr));

    if (pr == NULL) {
        close(fd);
        return NULL;
    }
    pr->kind = kind;
    pr->state = RT_PROC_STARTING;
    pr->pool = p;
    pr->started_ms = lf_mono_ms();
    lf_buf_init(&pr->rbuf, RT_FRAME_MAX_BYTES + sizeof(struct rt_frame_hdr) + 1);
    uv_pipe_init(&rt->loop, &pr->pipe, 0);
    pr->pipe.data = pr;
    if (uv_pipe_open(&pr->pipe, fd) != 0) {
        close(fd);
        uv_close((uv_handle_t *)&pr->pipe, NULL);
        pr->eof = true;
        pr->eof_ms = lf_mono_ms();
    } else {
        pr->pipe_open = true;
        uv_read_start((uv_stream_t *)&pr->pipe, on_alloc, on_read);
    }
    pr->next = rt->procs;
    rt->procs = pr;
    return pr;
}

/* Builds the environment of a new process: ours, the thread defaults we
 * do not already have, and the job. Strings point into environ and spec. */
static int
make_env(const char **envp, char *spec_var, char *fd_var)
{
    int n = 0;

    for (char **e = environ; *e != NULL && n < ENV_MAX - 8; e++)
        if (strncmp(*e, RT_ENV_SPEC "=", strlen(RT_ENV_SPEC) + 1) != 0 &&
            strncmp(*e, RT_ENV_FD "=", strlen(RT_ENV_FD) + 1) != 0)
            envp[n++] = *e;
    for (int i = 0; thread_env[i] != NULL; i++) {
        size_t k = (size_t)(strchr(thread_env[i], '=') - thread_env[i]);
        char name[64];

        snprintf(name, sizeof(name), "%.*s", (int)k, thread_env[i]);
        if (getenv(name) == NULL)
            envp[n++] = thread_env[i];
    }
    envp[n++] = spec_var;
    envp[n++] = fd_var;
    envp[n] = NULL;
    return n;
}

struct rt_proc *
rt_proc_spawn(struct rt *rt, struct rt_pool *p, enum rt_proc_kind kind)
{
    const char *envp[ENV_MAX];
    char *spec_var = NULL;
    char fd_var[32];
    char *argv[3] = { rt->opts.exe, kind == RT_PROC_ZYGOTE ? "zygote" : "worker", NULL };
    int sv[2];
    pid_t parent = getpid(), pid;
    sigset_t none;
    struct rt_proc *pr;

    if (rt->closing)
        return NULL;
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
        lf_log(LF_LOG_ERR, "rt", "cannot make a worker socket: %s", strerror(errno));
        return NULL;
    }
    if (asprintf(&spec_var, "%s=%s", RT_ENV_SPEC, p->spec_env) < 0) {
        close(sv[0]);
        close(sv[1]);
        return NULL;
    }
    snprintf(fd_var, sizeof(fd_var), "%s=%d", RT_ENV_FD, WORKER_FD);
    make_env(envp, spec_var, fd_var);
    sigemptyset(&none);
    pid = fork();
    if (pid == 0) {
        /* Child of a threaded process: only async-signal-safe calls until exec. */
        if (sv[1] == WORKER_FD)
            fcntl(WORKER_FD, F_SETFD, 0);
        else
            dup2(sv[1], WORKER_FD);
        dup2(STDERR_FILENO, STDOUT_FILENO); /* user prints go to the log */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(1);
        sigprocmask(SIG_SETMASK, &none, NULL);
        execve(rt->opts.exe, argv, (char *const *)envp);
        _exit(127);
    }
    free(spec_var);
    close(sv[1]);
    if (pid < 0) {
        lf_log(LF_LOG_ERR, "rt", "cannot fork: %s", strerror(errno));
        close(sv[0]);
        return NULL;
    }
    pr = proc_new(rt, p, kind, sv[0]);
    if (pr != NULL)
        pr->pid = pid;
    lf_log(LF_LOG_DEBUG, "rt", "endpoint=%s started %s pid=%d", p->spec.endpoint_id, argv[1],
           (int)pid);
    return pr;
}

struct rt_proc *
rt_proc_fork(struct rt *rt, struct rt_pool *p)
{
    int sv[2], zfd = -1;
    struct lf_err err = { 0 };

    if (rt->closing || p->zygote == NULL ||
        uv_fileno((uv_handle_t *)&p->zygote->pipe, &zfd) != 0)
        return NULL;
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
        return NULL;
    if (rt_fd_send(zfd, sv[1], &err) != LF_OK) {
        lf_log(LF_LOG_WARN, "rt", "endpoint=%s cannot ask the zygote to fork: %s",
               p->spec.endpoint_id, err.msg);
        close(sv[0]);
        close(sv[1]);
        return NULL;
    }
    close(sv[1]);
    return proc_new(rt, p, RT_PROC_WORKER, sv[0]);
}

static void
on_written(uv_write_t *req, int status)
{
    (void)status; /* a failed write shows up as EOF on the read side */
    free(req->data);
    free(req);
}

int
rt_proc_send(struct rt *rt, struct rt_proc *w, struct rt_call *c)
{
    struct {
        uv_write_t req;
        struct rt_frame_hdr hdr;
    } *wr;
    uv_buf_t bufs[2];

    (void)rt;
    if (!w->pipe_open || w->eof)
        return LF_EIO;
    wr = calloc(1, sizeof(*wr));
    if (wr == NULL)
        return LF_ENOMEM;
    wr->hdr.len = (uint32_t)c->len;
    wr->hdr.type = RT_F_PREDICT;
    wr->hdr.id = c->id;
    memcpy(wr->hdr.tag, c->tag, RT_TAG_BYTES);
    bufs[0] = uv_buf_init((char *)&wr->hdr, sizeof(wr->hdr));
    bufs[1] = uv_buf_init(c->body, (unsigned)c->len);
    wr->req.data = c->body; /* freed once written */
    if (uv_write(&wr->req, (uv_stream_t *)&w->pipe, bufs, 2, on_written) != 0) {
        free(wr);
        return LF_EIO;
    }
    c->body = NULL;
    return LF_OK;
}

void
rt_proc_stop(struct rt *rt, struct rt_proc *pr)
{
    (void)rt;
    if (pr->state == RT_PROC_DEAD)
        return;
    pr->stop_requested = true;
    pr->state = RT_PROC_STOPPING;
    pr->stop_ms = lf_mono_ms();
    close_pipe(pr); /* the process reads EOF and exits */
    if (!pr->eof) {
        pr->eof = true;
        pr->eof_ms = pr->stop_ms;
    }
}

void
rt_proc_free(struct rt_proc *pr)
{
    lf_buf_release(&pr->rbuf);
    free(pr->load_error);
    free(pr);
}

void
rt_proc_kill(struct rt_proc *pr)
{
    if (pr->pid > 0 && !pr->exited)
        kill(pr->pid, SIGKILL);
    close_pipe(pr);
    if (!pr->eof) {
        pr->eof = true;
        pr->eof_ms = lf_mono_ms();
    }
}

/* Looks up a live process by pid. */
static struct rt_proc *
find_pid(struct rt *rt, pid_t pid)
{
    for (struct rt_proc *pr = rt->procs; pr != NULL; pr = pr->next)
        if (pr->pid == pid && !pr->exited)
            return pr;
    return NULL;
}

void
rt_on_sigchld(uv_signal_t *h, int signum)
{
    struct rt *rt = h->data;
    int status;
    pid_t pid;

    (void)signum;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        struct rt_proc *pr = find_pid(rt, pid);

        if (pr != NULL) {
            pr->exited = true;
            pr->status = status;
            continue;
        }
        /* A forked worker that has not told us its pid yet: keep it. */
        if (rt->stash_len == (int)(sizeof(rt->stash) / sizeof(rt->stash[0]))) {
            memmove(rt->stash, rt->stash + 1, sizeof(rt->stash) - sizeof(rt->stash[0]));
            rt->stash_len--;
        }
        rt->stash[rt->stash_len].pid = pid;
        rt->stash[rt->stash_len].status = status;
        rt->stash_len++;
    }
}

void
rt_proc_claim_exit(struct rt *rt, struct rt_proc *pr)
{
    for (int i = 0; i < rt->stash_len; i++) {
        if (rt->stash[i].pid == pr->pid) {
            pr->exited = true;
            pr->status = rt->stash[i].status;
            rt->stash[i] = rt->stash[--rt->stash_len];
            return;
        }
    }
}

void
rt_proc_reap_finished(struct rt *rt, int64_t grace_ms)
{
    struct rt_proc **link = &rt->procs;
    int64_t now = lf_mono_ms();

    while (*link != NULL) {
        struct rt_proc *pr = *link;
        bool late = pr->eof && now - pr->eof_ms >= grace_ms;
        bool done = pr->eof && !pr->pipe_open && (pr->exited || (pr->pid == 0 && late));

        /* A process whose socket is gone but that lives on is of no use. */
        if (late && pr->pid > 0 && !pr->exited && !pr->killed) {
            kill(pr->pid, SIGKILL);
            pr->killed = true;
        }

        if (!done) {
            link = &pr->next;
            continue;
        }
        *link = pr->next;
        pr->state = RT_PROC_DEAD;
        rt_pool_on_exit(rt, pr);
        rt_proc_free(pr);
    }
}
