/* Server-side internals of the runtime: the structures the control thread
 * owns. Everything here is touched on the control thread only, except the
 * fields marked "lock" (guarded by rt->lock). */
#ifndef RT_SRV_H
#define RT_SRV_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <uv.h>

#include "lf_buf.h"
#include "rt.h"
#include "rt_proto.h"

struct rt_pool;

/* One prediction, from rt_predict to its reply. */
struct rt_call {
    uint64_t id;
    char tag[RT_TAG_BYTES];
    char *body;               /* owned until written to a worker */
    size_t len;
    int64_t deadline_ms;      /* answered RT_QUEUE_TIMEOUT if still queued then */
    int64_t run_timeout_ms;   /* after a worker takes it; 0: deadline_ms holds */
    int64_t run_deadline_ms;  /* set when a worker takes it */
    bool durable;
    void (*on_start)(void *ctx);
    rt_reply_fn reply;
    void *ctx;
    bool answered;            /* reply has been called */
    struct rt_proc *worker;   /* the worker running it, or NULL while queued */
    struct rt_call *next;     /* in a queue or in a worker's in-flight list */
};

struct rt_queue {
    struct rt_call *head, *tail;
    int len;
};

enum rt_proc_kind { RT_PROC_ZYGOTE, RT_PROC_WORKER };
enum rt_proc_state { RT_PROC_STARTING, RT_PROC_READY, RT_PROC_STOPPING, RT_PROC_DEAD };

/* A zygote or a worker process and its socket. */
struct rt_proc {
    enum rt_proc_kind kind;
    enum rt_proc_state state;
    struct rt_pool *pool;     /* NULL once the pool is gone */
    pid_t pid;                /* 0 until known (forked workers report theirs) */
    uv_pipe_t pipe;
    bool pipe_open;
    struct lf_buf rbuf;       /* bytes read, not yet a whole frame */
    int in_flight;
    struct rt_call *calls;    /* in flight on this worker */
    int64_t started_ms;
    int64_t idle_since_ms;
    bool eof;                 /* the socket closed */
    int64_t eof_ms;           /* when it closed */
    int64_t stop_ms;          /* when we asked it to stop */
    bool exited;              /* reaped: status is valid */
    int status;               /* from waitpid */
    bool stop_requested;      /* we asked it to stop: not a crash */
    bool killed;              /* we sent SIGKILL */
    char *load_error;         /* owned: what LOAD_FAILED said */
    struct rt_proc *next;     /* in rt->procs */
};

enum rt_pool_state { RT_POOL_LOADING, RT_POOL_READY, RT_POOL_FAILED, RT_POOL_DRAINING };

/* One generation of one endpoint. */
struct rt_pool {
    struct rt_endpoint *ep;
    struct rt_endpoint_spec spec;
    char *spec_env;           /* owned: LIFTOFF_WORKER_SPEC for its processes */
    enum rt_pool_state state;
    struct rt_proc *zygote;   /* NULL when workers start fresh */
    bool fork_mode;           /* workers come from the zygote */
    bool mode_known;          /* fork_mode is decided (the zygote loaded, or none is used) */
    bool resolving;           /* the artifact is being resolved on the thread pool */
    struct rt_queue queue;
    int crashes;              /* unexpected exits in the current window */
    int64_t crash_window_ms;
    int64_t backoff_ms;
    int64_t next_start_ms;    /* no new process before this */
    bool crash_loop;          /* reported as UPDATE_FAILED */
    bool resizing;            /* READY, resized in place: READY again at min_workers */
    struct rt_pool *next;     /* older generations */
};

struct rt_endpoint {
    char id[RT_ID_BYTES];
    struct rt_pool *pools;    /* newest first */
    bool removing;
    int64_t remove_generation;
    struct rt_counts counts;  /* lock */
    struct rt_endpoint *next;
};

struct rt_cmd;

struct rt {
    uv_loop_t loop;
    uv_async_t wake;
    uv_async_t final;         /* rt_free's last pass on the loop */
    uv_timer_t tick;
    uv_signal_t sigchld;
    uv_thread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t done;      /* signalled when shutdown has run */
    struct rt_cmd *head, *tail; /* lock */
    bool stopping;            /* lock: no new commands */
    bool shut;                /* lock: rt_shutdown has run on the loop */
    bool closing;             /* loop only: shutting down, start no process */
    struct bl_ctx bl;
    struct rt_opts opts;
    rt_event_fn on_event;
    void *ctx;
    struct rt_endpoint *endpoints; /* lock for the list, loop for the rest */
    struct rt_proc *procs;    /* every live process */
    uint64_t next_call_id;
    struct { pid_t pid; int status; } stash[64]; /* exits of processes not yet known */
    int stash_len;
};

/* ---- rt_loop.c ---- */
/* Sends the server an event of p's generation with a formatted log line;
 * before a READY event it publishes the endpoint's worker counts. */
void rt_emit(struct rt *rt, const struct rt_pool *p, enum rt_phase phase, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Answers c once with outcome and body (len 0: strlen). */
void rt_call_answer(struct rt_call *c, enum rt_outcome outcome, const char *body, size_t len);
void rt_counts_update(struct rt *rt, struct rt_endpoint *ep);

/* ---- rt_proc.c ---- */
struct rt_proc *rt_proc_spawn(struct rt *rt, struct rt_pool *p, enum rt_proc_kind kind);
struct rt_proc *rt_proc_fork(struct rt *rt, struct rt_pool *p);
int rt_proc_send(struct rt *rt, struct rt_proc *w, struct rt_call *c);
void rt_proc_stop(struct rt *rt, struct rt_proc *pr);
void rt_proc_kill(struct rt_proc *pr);
/* Frees a process record whose socket is closed. */
void rt_proc_free(struct rt_proc *pr);
void rt_on_sigchld(uv_signal_t *h, int signum);
/* A forked worker told its pid: pick up an exit reaped before that. */
void rt_proc_claim_exit(struct rt *rt, struct rt_proc *pr);
/* Finishes processes whose socket closed and that were reaped (or, for a
 * worker that never told its pid, grace_ms after its socket closed),
 * calling rt_pool_on_exit for each. Kills processes that outlive their
 * socket by grace_ms. */
void rt_proc_reap_finished(struct rt *rt, int64_t unknown_exit_grace_ms);
char *rt_spec_env(const struct rt *rt, const struct rt_endpoint_spec *spec);

/* ---- rt_pool.c ---- */
void rt_pool_apply(struct rt *rt, struct rt_endpoint_spec *spec);
void rt_pool_remove(struct rt *rt, const char *endpoint_id, int64_t generation,
                    bool drop_queued);
void rt_pool_predict(struct rt *rt, const char *endpoint_id, struct rt_call *c);
void rt_pool_tick(struct rt *rt);
void rt_pool_shutdown(struct rt *rt);
/* Frees a pool record (its processes and calls must be gone). */
void rt_pool_destroy(struct rt_pool *p);
/* Events from processes. */
void rt_pool_on_ready(struct rt *rt, struct rt_proc *pr, const char *payload);
void rt_pool_on_load_failed(struct rt *rt, struct rt_proc *pr, const char *payload);
void rt_pool_on_result(struct rt *rt, struct rt_proc *pr, const struct rt_frame_hdr *h,
                       const char *payload);
void rt_pool_on_forked(struct rt *rt, struct rt_proc *pr, const char *payload);
void rt_pool_on_exit(struct rt *rt, struct rt_proc *pr);

/* ---- rt_crash.c ---- */
#define RT_BACKOFF_MAX_MS 30000   /* the longest pause before a restart */
#define RT_EXIT_TEXT_BYTES 64     /* room for rt_exit_text */
/* Writes how pr ended ("worker exited: signal 9", ...) into out. */
void rt_exit_text(const struct rt_proc *pr, char *out, size_t cap);
/* Counts an unexpected exit of one of p's processes (what says which):
 * sets the restart backoff (doubling up to RT_BACKOFF_MAX_MS), logs it, and
 * on the fifth within a minute reports a crash loop (UPDATE_FAILED). */
void rt_pool_count_crash(struct rt *rt, struct rt_pool *p, const char *what);

#endif
