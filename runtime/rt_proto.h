/* The frame protocol between the server and its worker processes, over a
 * Unix stream socket per worker: a fixed 32-byte header, then len bytes of
 * payload. Both ends are the same binary on the same machine, so fields are
 * in host byte order. No Python here: both sides use it. */
#ifndef RT_PROTO_H
#define RT_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include "lf_err.h"
#include "rt.h"

/* Largest payload either side accepts; a bigger frame is a protocol error. */
#define RT_FRAME_MAX_BYTES (256u * 1024u * 1024u)

enum rt_frame_type {
    /* server -> worker */
    RT_F_PREDICT = 1,   /* payload: the EndpointPredictV1Request JSON; tag: owner hash */
    RT_F_FORK = 2,      /* to a zygote, with a socket passed by SCM_RIGHTS */
    /* worker -> server */
    RT_F_READY = 10,    /* payload: {"pid": N, "threads": N} once the bundle is loaded */
    RT_F_LOAD_FAILED = 11, /* payload: the traceback or reason */
    RT_F_RESULT = 12,   /* flags RT_FL_*; payload: worker response JSON or traceback */
    RT_F_FORKED = 13,   /* from a zygote: payload {"pid": N} or {"error": "..."} */
};

enum rt_frame_flags {
    RT_FL_OK = 0,
    RT_FL_FAILED = 1,   /* payload is a traceback */
    RT_FL_BAD_REQUEST = 2, /* payload is a message: the request itself is invalid */
};

struct rt_frame_hdr {
    uint32_t len;       /* payload bytes */
    uint16_t type;      /* enum rt_frame_type */
    uint16_t flags;     /* enum rt_frame_flags */
    uint64_t id;        /* request id, echoed in the result */
    char tag[RT_TAG_BYTES]; /* per-request tag, not NUL-terminated */
};

_Static_assert(sizeof(struct rt_frame_hdr) == 32, "frame header must be 32 bytes");

/* Writes one whole frame to blocking fd (retrying on EINTR and short
 * writes). Errors: LF_EIO (peer gone). Not thread-safe per fd: callers
 * serialize writers. */
int rt_frame_write(int fd, const struct rt_frame_hdr *hdr, const void *payload,
                   struct lf_err *err);

/* Reads one whole frame from blocking fd. *payload is malloc'd and
 * NUL-terminated (caller frees; "" for len 0). Errors: LF_ENOENT on a clean
 * end of stream before a header, LF_EIO, LF_ETOOBIG. */
int rt_frame_read(int fd, struct rt_frame_hdr *hdr, char **payload, struct lf_err *err);

/* Sends fd_to_pass over the Unix socket sock with a one-byte message.
 * Errors: LF_EIO. */
int rt_fd_send(int sock, int fd_to_pass, struct lf_err *err);

/* Receives a file descriptor sent by rt_fd_send. Errors: LF_ENOENT at end
 * of stream, LF_EIO. */
int rt_fd_recv(int sock, int *fd_out, struct lf_err *err);

#endif
