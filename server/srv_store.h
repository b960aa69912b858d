/* The persistent store: one SQLite database in WAL mode under the data
 * directory, with a schema version and forward migrations. Every function
 * is thread-safe (one connection behind a mutex) and commits before it
 * returns, so whatever a client was told has been stored survives a crash. */
#ifndef SRV_STORE_H
#define SRV_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "lf_err.h"

/* The version the migrations in srv_store.c bring a database to. */
#define SRV_STORE_SCHEMA_VERSION 2
#define SRV_ID_BYTES 64
#define SRV_NAME_BYTES 256
/* Owners are API keys: up to this many bytes, NUL included. */
#define SRV_OWNER_BYTES 1024
#define SRV_STATUS_BYTES 32
/* The creation log of an endpoint keeps at most its last this many bytes. */
#define SRV_STORE_LOG_MAX_BYTES (64 * 1024)

enum srv_order { SRV_ORDER_NONE, SRV_ORDER_NEWEST, SRV_ORDER_OLDEST, SRV_ORDER_ALPHA };

struct srv_store;

/* Opens (creating or migrating) "<data_dir>/liftoff.db". Errors: LF_EIO,
 * LF_ECONFIG when the database is newer than this binary. */
int srv_store_open(const char *data_dir, struct srv_store **out, struct lf_err *err);

/* Closes the database. NULL is a no-op. */
void srv_store_close(struct srv_store *st);

/* ---- bundles: immutable; doc is the record srv_bundles.c builds ---- */

/* Stores a new bundle. doc is copied. Errors: LF_EIO. */
int srv_store_bundle_add(struct srv_store *st, const char *owner, const char *id,
                         const char *name, int64_t created_us, const cJSON *doc,
                         struct lf_err *err);

/* The bundle id of owner, as a new cJSON (caller deletes). Errors:
 * LF_ENOENT (missing, or another owner's), LF_EIO. */
int srv_store_bundle_get(struct srv_store *st, const char *owner, const char *id, cJSON **out,
                         struct lf_err *err);

/* The newest bundle of owner called name, as a new cJSON. Errors as get. */
int srv_store_bundle_latest(struct srv_store *st, const char *owner, const char *name,
                            cJSON **out, struct lf_err *err);

/* owner's bundles (only those called name, unless name is NULL), as a new
 * cJSON array of records. Errors: LF_EIO. */
int srv_store_bundle_list(struct srv_store *st, const char *owner, const char *name,
                          enum srv_order order, cJSON **out, struct lf_err *err);

/* ---- endpoints: a user-set config doc plus state columns ---- */

struct srv_ep_rec {
    char id[SRV_ID_BYTES];
    char owner[SRV_OWNER_BYTES];
    char name[SRV_NAME_BYTES];
    char status[SRV_STATUS_BYTES];
    int64_t created_us;
    int64_t updated_us;
    int64_t generation;  /* bumped by every update; runtime events name it */
    cJSON *doc;          /* owned: the endpoint's settings */
};

/* Frees what r owns. */
void srv_ep_rec_release(struct srv_ep_rec *r);

/* Stores a new endpoint (status, times and generation from r). Errors:
 * LF_EEXIST (owner has an endpoint of that name), LF_EIO. */
int srv_store_ep_insert(struct srv_store *st, const struct srv_ep_rec *r, struct lf_err *err);

/* Loads the endpoint id (of owner, or of anyone when owner is NULL), deleted
 * ones included. Errors: LF_ENOENT, LF_EIO. */
int srv_store_ep_get(struct srv_store *st, const char *owner, const char *id,
                     struct srv_ep_rec *out, struct lf_err *err);

/* owner's endpoints, without those being deleted; only those called name
 * unless name is NULL; every owner's when owner is NULL. *out is a malloc'd
 * array of *n records (release each, then free). Errors: LF_EIO. */
int srv_store_ep_list(struct srv_store *st, const char *owner, const char *name,
                      enum srv_order order, struct srv_ep_rec **out, size_t *n,
                      struct lf_err *err);

/* Replaces the settings of endpoint id with doc, sets status, bumps the
 * generation and writes the new one to *generation. Errors: LF_ENOENT. */
int srv_store_ep_update(struct srv_store *st, const char *id, const cJSON *doc,
                        const char *status, int64_t *generation, struct lf_err *err);

/* Sets the status of endpoint id (NULL: keeps it) if its generation is still
 * generation (a stale runtime event changes nothing), and appends log_line
 * (NULL: none) to its creation log. Errors: LF_ENOENT (gone or stale), LF_EIO. */
int srv_store_ep_set_status(struct srv_store *st, const char *id, int64_t generation,
                            const char *status, const char *log_line, struct lf_err *err);

/* Marks endpoint id DELETE_IN_PROGRESS and frees its name for reuse.
 * Errors: LF_ENOENT, LF_EIO. */
int srv_store_ep_mark_deleting(struct srv_store *st, const char *id, struct lf_err *err);

/* Removes endpoint id for good. Errors: LF_EIO. */
int srv_store_ep_remove(struct srv_store *st, const char *id, struct lf_err *err);

/* The creation log of owner's endpoint called name; *out malloc'd (caller
 * frees). Errors: LF_ENOENT, LF_EIO. */
int srv_store_ep_logs(struct srv_store *st, const char *owner, const char *name, char **out,
                      struct lf_err *err);

/* Every endpoint, deleted ones included, for recovery at start. As list. */
int srv_store_ep_all(struct srv_store *st, struct srv_ep_rec **out, size_t *n,
                     struct lf_err *err);

/* Frees an array from srv_store_ep_list or srv_store_ep_all. */
void srv_ep_recs_free(struct srv_ep_rec *recs, size_t n);

/* ---- async tasks: rows written before the task id is answered ---- */

#define SRV_TASK_STATE_BYTES 16

struct srv_task_rec {
    char id[SRV_ID_BYTES];
    char endpoint_id[SRV_ID_BYTES];
    char state[SRV_TASK_STATE_BYTES]; /* PENDING, SUCCESS or FAILURE */
    char *owner;          /* owned, as every pointer below (NULL allowed but owner/request) */
    char *request;        /* the EndpointPredictV1Request JSON as received */
    char *result;         /* the worker response JSON (SUCCESS) */
    char *traceback;      /* FAILURE */
    char *callback_url;   /* where to post when it ends; NULL = no callback */
    char *callback_auth;  /* CallbackAuth JSON, or NULL */
    int attempts;         /* runs started so far */
    int64_t created_us;
    int64_t finished_us;  /* 0 while PENDING */
    char batch_id[SRV_ID_BYTES]; /* "" unless a batch job's row */
    int64_t batch_row;    /* its index in the input */
    char *batch_key;      /* the input's id column */
};

/* Frees what t owns. */
void srv_task_rec_release(struct srv_task_rec *t);

/* Loads task id. Errors: LF_ENOENT, LF_EIO. */
int srv_store_task_get(struct srv_store *st, const char *id, struct srv_task_rec *out,
                       struct lf_err *err);

/* Every PENDING task, oldest first, for recovery at start; *out is a
 * malloc'd array of *n records (release each, then free). Errors: LF_EIO. */
int srv_store_tasks_pending(struct srv_store *st, struct srv_task_rec **out, size_t *n,
                            struct lf_err *err);

/* How one task ended, for srv_store_tasks_write. */
struct srv_task_end {
    const char *id;
    const char *state;          /* SUCCESS or FAILURE */
    const char *result;         /* or NULL */
    const char *traceback;      /* or NULL */
    int attempts;
    const char *callback_url;   /* NULL: no callback */
    const char *callback_auth;  /* NULL: none */
    const char *callback_body;  /* with callback_url */
};

/* In one transaction, committed on return (a group commit: one sync for
 * the lot): stores n_new new PENDING tasks (rows; only their id, owner,
 * endpoint_id, request, attempts, created_us and callback fields are read),
 * and ends n_end tasks at now_us, queueing their callbacks in the same
 * transaction so that an ended task's callback survives a crash. Either
 * count may be 0. Everything is borrowed. Errors (nothing is written):
 * LF_EIO, LF_EEXIST (a new id already stored). */
int srv_store_tasks_write(struct srv_store *st, const struct srv_task_rec *const *rows,
                          size_t n_new, const struct srv_task_end *ends, size_t n_end,
                          int64_t now_us, struct lf_err *err);

/* Deletes tasks that ended before before_us. *deleted gets the count. */
int srv_store_tasks_purge(struct srv_store *st, int64_t before_us, int *deleted,
                          struct lf_err *err);

/* ---- batch jobs: a record, plus one task row per input row ---- */

struct srv_batch_rec {
    char id[SRV_ID_BYTES];
    char status[SRV_STATUS_BYTES]; /* PENDING, RUNNING, SUCCESS, FAILURE, CANCELLED */
    char *owner;
    cJSON *doc;           /* owned: the request and what the server adds */
    char *error;          /* why it failed, or NULL */
    int64_t created_us, finished_us;
    int64_t total, completed; /* -1 while unknown */
};

void srv_batch_rec_release(struct srv_batch_rec *b);

/* Stores a new PENDING job. Errors: LF_EIO. */
int srv_store_batch_insert(struct srv_store *st, const struct srv_batch_rec *b,
                           struct lf_err *err);

/* Loads job id (of owner; any owner when NULL). Errors: LF_ENOENT, LF_EIO. */
int srv_store_batch_get(struct srv_store *st, const char *owner, const char *id,
                        struct srv_batch_rec *out, struct lf_err *err);

/* Jobs in status (PENDING or RUNNING), for recovery. */
int srv_store_batch_list(struct srv_store *st, const char *status, struct srv_batch_rec **out,
                         size_t *n, struct lf_err *err);

/* Starts job id: inserts its n task rows and sets it RUNNING with total n,
 * in one transaction. Errors: LF_EIO. */
int srv_store_batch_start(struct srv_store *st, const char *id, const struct srv_task_rec *rows,
                          size_t n, struct lf_err *err);

/* Sets job id's status (and error, finished time, completed count when
 * final); a final status is only set on a job not already final. */
int srv_store_batch_set(struct srv_store *st, const char *id, const char *status,
                        const char *error, int64_t completed, struct lf_err *err);

/* Counts job id's rows: *pending still PENDING, *done ended. */
int srv_store_batch_counts(struct srv_store *st, const char *id, int64_t *pending,
                           int64_t *done, struct lf_err *err);

/* Calls fn for each row of job id in input order, then deletes the rows
 * when del. Errors: LF_EIO, or fn's. */
int srv_store_batch_rows(struct srv_store *st, const char *id,
                         int (*fn)(const struct srv_task_rec *t, void *ctx), void *ctx,
                         struct lf_err *err);

/* Deletes job id's rows. */
int srv_store_batch_drop_rows(struct srv_store *st, const char *id, struct lf_err *err);

/* Ends job id's PENDING rows as FAILURE with why (cancel). */
int srv_store_batch_fail_pending(struct srv_store *st, const char *id, const char *why,
                                 struct lf_err *err);

/* ---- callback deliveries ---- */

struct srv_cb_rec {
    int64_t id;
    char *task_id, *url, *auth, *body; /* owned; auth may be NULL */
    int attempts;
};

/* Frees what c owns. */
void srv_cb_rec_release(struct srv_cb_rec *c);

/* The due time of a delivery that a sender has claimed. */
#define SRV_CB_CLAIMED_US INT64_MAX

/* Claims the oldest delivery due at now_us: fills *out (release it) and sets
 * *got, and marks it claimed, so that no other caller gets it until
 * srv_store_cb_done or srv_store_cb_retry. *got is false when none is due.
 * Either way *next_us gets when the next unclaimed later one is due (0:
 * none). Safe from several threads. Errors: LF_EIO, LF_ENOMEM (*got false). */
int srv_store_cb_claim(struct srv_store *st, int64_t now_us, struct srv_cb_rec *out, bool *got,
                       int64_t *next_us, struct lf_err *err);

/* Makes every claimed delivery due at now_us again, for a start after a
 * process that died with claims; *n (may be NULL) gets how many. Errors:
 * LF_EIO. */
int srv_store_cb_unclaim_all(struct srv_store *st, int64_t now_us, int *n, struct lf_err *err);

/* Removes delivery id (delivered, or given up), claimed or not. Errors:
 * LF_EIO. */
int srv_store_cb_done(struct srv_store *st, int64_t id, struct lf_err *err);

/* Records a failed attempt of delivery id, which is then no longer claimed
 * and due again at next_us. Errors: LF_EIO. */
int srv_store_cb_retry(struct srv_store *st, int64_t id, int attempts, int64_t next_us,
                       struct lf_err *err);

/* ---- signed upload URLs: one-time tokens for PUT /upload/<key> ---- */

/* Records a token for key, valid until expires_us. Errors: LF_EIO. */
int srv_store_upload_add(struct srv_store *st, const char *key, const char *token,
                         int64_t expires_us, struct lf_err *err);

/* Claims key for one upload if token matches, is unused and not expired.
 * Errors: LF_EPERM (no such token, used, or expired), LF_EIO. */
int srv_store_upload_claim(struct srv_store *st, const char *key, const char *token,
                           int64_t now_us, struct lf_err *err);

/* Ends the upload of key: done (the token is spent) or failed (the token
 * can be used again). Errors: LF_EIO. */
int srv_store_upload_finish(struct srv_store *st, const char *key, int done,
                            struct lf_err *err);

#endif
