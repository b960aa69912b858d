/* The runtime: one control thread running a libuv loop that deploys,
 * updates and removes endpoints. Callers on any thread hand it work through
 * rt_endpoint_apply/rt_endpoint_remove; it reports progress through the
 * rt_event_fn given to rt_new, always on its own thread. The server process
 * never initializes Python: workers are separate processes. */
#ifndef RT_H
#define RT_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bl.h"
#include "lf_err.h"

#define RT_ID_BYTES 64
/* Bytes of the per-request tag (the owner's results folder name). */
#define RT_TAG_BYTES 16

enum rt_phase {
    RT_PHASE_IN_PROGRESS, /* the deployment of this generation has started */
    RT_PHASE_READY,       /* it serves */
    RT_PHASE_FAILED,      /* it cannot serve; the log line says why */
    RT_PHASE_REMOVED,     /* rt_endpoint_remove finished: nothing is left running */
    RT_PHASE_LOG,         /* only a creation-log line; the status stays */
};

/* What the runtime reports. Pointers are valid during the callback only. */
struct rt_event {
    const char *endpoint_id;
    int64_t generation;
    enum rt_phase phase;
    const char *log_line; /* one line ending in '\n', or NULL */
};

typedef void (*rt_event_fn)(void *ctx, const struct rt_event *ev);

/* One generation of an endpoint: what its workers run and how many. */
struct rt_endpoint_spec {
    char endpoint_id[RT_ID_BYTES];
    int64_t generation;
    char bundle_id[RT_ID_BYTES];
    char *location;      /* owned: the bundle artifact; NULL for image bundles */
    char *worker_json;   /* owned: the bundle fields for the loader (kind, requirements,
                          * app_config, module paths) as a JSON object; NULL = none */
    int min_workers;
    int max_workers;
    int per_worker;
};

/* Settings of the runtime, from the server's configuration. */
struct rt_opts {
    char exe[PATH_MAX];          /* this binary, started as "liftoff worker|zygote" */
    char data_dir[PATH_MAX];
    char public_url[512];        /* base of result_url links */
    int sync_timeout_s;          /* queued + running time of one request */
    int queue_max;               /* requests waiting per endpoint before 429 */
    int scale_down_idle_s;       /* a worker idle this long may be stopped */
    int worker_start_timeout_s;  /* loading a bundle may take this long */
    int url_timeout_s;           /* downloads of url inputs */
    bool use_zygote;             /* false: always start fresh workers */
};

/* How a prediction ended. */
enum rt_outcome {
    RT_OK,             /* body = the worker response JSON */
    RT_FAILED,         /* the predict function raised: body = traceback */
    RT_BAD_REQUEST,    /* the request itself is invalid: body = message */
    RT_WORKER_LOST,    /* the worker died running it: body = "worker exited: ..." */
    RT_QUEUE_TIMEOUT,  /* no worker took it in time */
    RT_RUN_TIMEOUT,    /* it ran past its deadline */
    RT_QUEUE_FULL,
    RT_NOT_FOUND,      /* the runtime does not hold the endpoint (being deleted) */
    RT_UNAVAILABLE,    /* the endpoint cannot start workers, or shutdown */
};

/* The answer to one prediction. Pointers are valid during the callback. */
struct rt_reply {
    enum rt_outcome outcome;
    int http_status;      /* for sync: 200 (RT_OK, RT_FAILED, RT_WORKER_LOST), 400, 404, 408,
                           * 429 or 503 */
    bool success;         /* outcome == RT_OK */
    const char *body;     /* see outcome; otherwise the detail text */
    size_t len;
};

/* Called once per rt_predict, on the control thread. */
typedef void (*rt_reply_fn)(void *ctx, const struct rt_reply *reply);

/* Options of one prediction; NULL means a sync request. */
struct rt_call_opts {
    int64_t queue_timeout_ms; /* how long it may wait for a worker */
    int64_t run_timeout_ms;   /* how long it may run once a worker has it */
    bool durable;             /* the caller stored it: not limited by queue_max */
    void (*on_start)(void *ctx); /* optional: called on the control thread when a worker
                                  * takes it */
};

/* Live numbers of an endpoint, for its status. */
struct rt_counts {
    int available_workers;   /* loaded and serving */
    int unavailable_workers; /* starting */
    int queued;              /* requests waiting for a worker */
};

/* Frees what spec owns (location, worker_json) and clears them. */
void rt_spec_release(struct rt_endpoint_spec *spec);

struct rt;

/* Starts the control thread. bl and opts are copied; on_event is called on
 * the control thread with ctx. Errors: LF_ENOMEM, LF_EIO. */
int rt_new(const struct bl_ctx *bl, const struct rt_opts *opts, rt_event_fn on_event, void *ctx,
           struct rt **out, struct lf_err *err);

/* Runs one prediction on endpoint_id: body (taken: freed by the runtime) is
 * the request JSON, tag the owner's results folder name (up to 16 chars).
 * reply is called exactly once, on the control thread: for a sync request
 * (opts NULL) within the sync timeout, else within its queue and run
 * timeouts. Thread-safe; never blocks on a worker. Errors (reply is then not
 * called): LF_ENOMEM, LF_EBUSY (shutting down). */
int rt_predict(struct rt *rt, const char *endpoint_id, const char *tag, char *body, size_t len,
               const struct rt_call_opts *opts, rt_reply_fn reply, void *ctx,
               struct lf_err *err);

/* The live numbers of endpoint_id (zeros if the runtime does not know it).
 * Thread-safe. */
void rt_endpoint_counts(struct rt *rt, const char *endpoint_id, struct rt_counts *out);

/* Answers every request still waiting with 503 and stops taking new ones;
 * workers are left running until rt_free. Thread-safe; returns once the
 * callbacks have run. */
void rt_shutdown(struct rt *rt);

/* Deploys spec (a new endpoint or a new generation of one) in the
 * background: events follow with spec->generation. Takes spec->location and
 * spec->worker_json (also on error).
 * Thread-safe. Errors: LF_ENOMEM, LF_EBUSY (shutting down). */
int rt_endpoint_apply(struct rt *rt, struct rt_endpoint_spec *spec, struct lf_err *err);

/* Stops everything of endpoint id in the background, after the requests
 * in flight and queued have been answered (drop_queued: queued ones are
 * answered RT_NOT_FOUND at once instead of run); RT_PHASE_REMOVED follows
 * with generation. Thread-safe. Errors: LF_ENOMEM, LF_EBUSY. */
int rt_endpoint_remove(struct rt *rt, const char *endpoint_id, int64_t generation,
                       bool drop_queued, struct lf_err *err);

/* Stops every worker, stops the control thread, then frees rt. NULL is a
 * no-op. */
void rt_free(struct rt *rt);

#endif
