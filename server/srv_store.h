/* The persistent store: one SQLite database in WAL mode under the data
 * directory, with a schema version and forward migrations. Every function
 * is thread-safe (one connection behind a mutex) and commits before it
 * returns, so whatever a client was told has been stored survives a crash. */
#ifndef SRV_STORE_H
#define SRV_STORE_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "lf_err.h"

/* The version the migrations in srv_store.c bring a database to. */
#define SRV_STORE_SCHEMA_VERSION 1
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
