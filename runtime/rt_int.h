/* Internals shared by the runtime's files, on both sides of the socket.
 * Never included from outside runtime/. No Python types here. */
#ifndef RT_INT_H
#define RT_INT_H

#include <limits.h>
#include <stdbool.h>

#include "lf_err.h"
#include "rt.h"

#define RT_URL_BYTES 512

/* What a worker (or zygote) needs to know, handed over as JSON in the
 * environment. The loader in bl_boot.py reads the same JSON for the
 * Python-only fields (requirements, app_config, module paths). */
struct rt_spec {
    char kind[16];                /* "cloudpickle" or "zip" */
    char path[PATH_MAX];          /* the local artifact file */
    char bundle_id[RT_ID_BYTES];
    char data_dir[PATH_MAX];
    char public_url[RT_URL_BYTES]; /* base of result_url links */
    int per_worker;               /* request threads (1 = inline) */
    int url_timeout_s;            /* for url inputs */
};

/* Reads the C fields of a worker spec. Errors: LF_EINVAL. */
int rt_spec_parse(const char *json, struct rt_spec *out, struct lf_err *err);

/* Number of threads of this process (from /proc), or -1. */
int rt_thread_count(void);

/* Worker side: sends READY ({"pid","threads"}) on the worker socket. */
void rt_worker_announce(void);

/* Worker side: serves requests on fd until it closes, then exits the
 * process. Called with the GIL held; never returns. */
void rt_worker_serve(int fd) __attribute__((noreturn));

/* Zygote side: freezes the heap, announces itself on ctl, then forks a
 * worker for every socket received on ctl. Never returns. */
void rt_zygote_serve(int ctl) __attribute__((noreturn));

#endif
