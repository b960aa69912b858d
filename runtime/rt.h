/* The runtime: one control thread running a libuv loop that deploys,
 * updates and removes endpoints. Callers on any thread hand it work through
 * rt_endpoint_apply/rt_endpoint_remove; it reports progress through the
 * rt_event_fn given to rt_new, always on its own thread. The server process
 * never initializes Python: workers are separate processes. */
#ifndef RT_H
#define RT_H

#include <limits.h>
#include <stdint.h>

#include "bl.h"
#include "lf_err.h"

#define RT_ID_BYTES 64
#define RT_LOCATION_BYTES 4096

enum rt_phase {
    RT_PHASE_IN_PROGRESS, /* the deployment of this generation has started */
    RT_PHASE_READY,       /* it serves */
    RT_PHASE_FAILED,      /* it cannot serve; the log line says why */
    RT_PHASE_REMOVED,     /* rt_endpoint_remove finished: nothing is left running */
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
    char location[RT_LOCATION_BYTES]; /* the bundle artifact; "" for image bundles */
    int min_workers;
    int max_workers;
    int per_worker;
};

struct rt;

/* Starts the control thread. bl is copied; on_event is called on the control
 * thread with ctx. Errors: LF_ENOMEM, LF_EIO. */
int rt_new(const struct bl_ctx *bl, rt_event_fn on_event, void *ctx, struct rt **out,
           struct lf_err *err);

/* Deploys spec (a new endpoint or a new generation of one) in the
 * background: events follow with spec->generation. Thread-safe. Errors:
 * LF_ENOMEM, LF_EBUSY (shutting down). */
int rt_endpoint_apply(struct rt *rt, const struct rt_endpoint_spec *spec, struct lf_err *err);

/* Stops everything of endpoint id in the background; RT_PHASE_REMOVED
 * follows with generation. Thread-safe. Errors: LF_ENOMEM, LF_EBUSY. */
int rt_endpoint_remove(struct rt *rt, const char *endpoint_id, int64_t generation,
                       struct lf_err *err);

/* Stops the control thread after the work in hand, then frees rt. NULL is
 * a no-op. */
void rt_free(struct rt *rt);

#endif
