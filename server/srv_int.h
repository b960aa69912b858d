/* Internals of the server folder: the request and response, the route
 * table, and the helpers handlers share. Never included from outside
 * server/. libmicrohttpd types stay in srv_http.c: handlers see only
 * struct srv_req. */
#ifndef SRV_INT_H
#define SRV_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "bl.h"
#include "cfg.h"
#include "lf_buf.h"
#include "lf_err.h"
#include "rt.h"
#include "srv.h"
#include "srv_store.h"

#define SRV_PATH_BYTES 2048
#define SRV_MAX_SEGS 16
#define SRV_MAX_PARAMS 4

struct srv_auth;
struct srv_epcache;
struct srv_async;
struct srv_callbacks;
struct srv_batch;

struct srv {
    struct cfg cfg;
    char public_url[CFG_URL_BYTES]; /* the base of URLs we hand out */
    struct bl_ctx bl;
    struct srv_store *store;
    struct srv_auth *auth;
    struct srv_epcache *epcache;
    struct srv_async *async;
    struct srv_callbacks *callbacks;
    struct srv_batch *batch;
    struct rt *rt;
    struct srv_http *http;
};

struct srv_resp {
    int status;
    char *body;                   /* owned (malloc); NULL = empty */
    size_t body_len;
    const char *content_type;     /* static; NULL = application/json */
    const char *www_authenticate; /* static or NULL */
};

struct srv_req;
typedef void (*srv_handler_fn)(struct srv_req *r);

enum srv_route_flags {
    SRV_ROUTE_NO_AUTH = 1,   /* health and signed-upload routes */
    SRV_ROUTE_JSON = 2,      /* the body must be a JSON object */
    SRV_ROUTE_UPLOAD = 4,    /* the body is streamed to a file (PUT /upload) */
};

struct srv_route {
    const char *method;
    const char *pattern;     /* "{}" matches one segment; a final "{*}" the rest */
    srv_handler_fn handler;
    int flags;
};

struct srv_upload;

struct srv_req {
    struct srv *srv;
    void *conn;                          /* the MHD connection, for srv_req_query */
    const char *method;                  /* borrowed from MHD */
    char path[SRV_PATH_BYTES];           /* decoded, duplicate slashes collapsed */
    const struct srv_route *route;
    const char *params[SRV_MAX_PARAMS];  /* the "{}" segments, in order */
    char owner[SRV_OWNER_BYTES];         /* the caller; "" on no-auth routes */
    char owner_fp[9];                    /* fingerprint of owner for logs */
    struct lf_buf body;
    bool body_too_big;
    cJSON *json;                         /* the parsed body on JSON routes */
    int64_t start_us;
    struct srv_upload *upload;           /* on upload routes */
    bool suspended;                      /* waiting for the runtime (HTTP thread only) */
    struct srv_resp resp;
    char seg_buf[SRV_PATH_BYTES];        /* storage behind params */
};

/* ---- srv_route.c ---- */

enum srv_match { SRV_MATCH_OK, SRV_MATCH_NOT_FOUND, SRV_MATCH_BAD_METHOD };

/* Normalizes r->path in place and finds its route, filling r->route and
 * r->params. */
enum srv_match srv_route_find(struct srv_req *r);

/* Collapses duplicate slashes and drops a trailing slash (but not "/"). */
void srv_path_normalize(char *path);

/* ---- srv_http.c ---- */

struct srv_http;

/* Opens the listening socket on cfg host and port (so the real port is known
 * before anything else starts). Errors: LF_ECONFIG (bad host), LF_EIO. */
int srv_http_bind(const struct cfg *cfg, int *fd_out, int *port_out, bool *ipv6,
                  struct lf_err *err);

/* Starts libmicrohttpd on listen_fd, which it takes. Errors: LF_EIO. */
int srv_http_start(struct srv *s, int listen_fd, bool ipv6, struct srv_http **out,
                   struct lf_err *err);

/* Stops accepting and waits up to timeout_s for in-flight requests. */
void srv_http_quiesce(struct srv_http *h, int timeout_s);

/* Stops the HTTP server (after srv_http_quiesce) and frees h. */
void srv_http_stop(struct srv_http *h);

/* A query parameter of the request, decoded (borrowed), or NULL. */
const char *srv_req_query(struct srv_req *r, const char *name);

/* A request header (borrowed), or NULL. */
const char *srv_req_header(struct srv_req *r, const char *name);

/* In a handler: stops answering r until srv_req_resume. The handler must
 * then return without touching r->resp. HTTP thread only. */
void srv_req_suspend(struct srv_req *r);

/* From any thread, once r->resp is set: sends it. r must not be touched
 * afterwards by the caller. */
void srv_req_resume(struct srv_req *r);

/* ---- srv_resp.c: filling r->resp ---- */

/* Sets a JSON response; takes obj (deleted here). */
void srv_resp_json(struct srv_req *r, int status, cJSON *obj);

/* Sets {"detail": "<formatted>"}. */
void srv_resp_detail(struct srv_req *r, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Sets a response with a raw body (copied) and a static content type. */
void srv_resp_raw(struct srv_req *r, int status, const char *content_type, const char *body,
                  size_t len);

/* Sets a response whose body (malloc'd) it takes. */
void srv_resp_take(struct srv_req *r, int status, const char *content_type, char *body,
                   size_t len);

/* Maps an lf_err from the store or a module to a response: LF_ENOENT 404,
 * LF_EINVAL 400, LF_ETOOBIG 413, LF_EPERM 403, LF_EBUSY 503, else 500 (and
 * the message is logged, not sent). */
void srv_resp_err(struct srv_req *r, const struct lf_err *err);

/* ---- srv_valid.c: pydantic-style 422 validation ---- */

#define SRV_VALID_MAX_DEPTH 6

enum srv_jtype {
    SRV_J_STRING,
    SRV_J_INT,
    SRV_J_NUMBER,
    SRV_J_BOOL,
    SRV_J_OBJECT,
    SRV_J_ARRAY,
    SRV_J_STR_ARRAY,   /* a list of strings */
    SRV_J_STR_MAP,     /* an object of string values */
    SRV_J_QUANTITY,    /* a string or a number (cpus, memory, storage) */
    SRV_J_ANY,
};

struct srv_valid {
    cJSON *errors;     /* owned; array of {loc, msg, type}; NULL until one fails */
    const char *loc[SRV_VALID_MAX_DEPTH]; /* borrowed path below "body" */
    int depth;
};

/* Starts a validation with locations under where ("body", "query"). */
void srv_valid_init(struct srv_valid *v, const char *where);

/* Frees the errors. */
void srv_valid_release(struct srv_valid *v);

/* Enters or leaves a nested object key for the locations of later errors. */
void srv_valid_push(struct srv_valid *v, const char *key);
void srv_valid_pop(struct srv_valid *v);

/* Records an error at the current location plus key (NULL: none). */
void srv_valid_fail(struct srv_valid *v, const char *key, const char *msg, const char *type);

/* Returns obj[key] (borrowed) if present, not null and of type t. Absent or
 * null gives NULL, recording "field required" when required; a wrong type
 * gives NULL and records a type error. */
const cJSON *srv_valid_get(struct srv_valid *v, const cJSON *obj, const char *key,
                           enum srv_jtype t, bool required);

/* As srv_valid_get for a string that must be one of allowed (NULL-ended). */
const char *srv_valid_enum(struct srv_valid *v, const cJSON *obj, const char *key,
                           const char *const *allowed, bool required);

/* True when nothing failed. */
bool srv_valid_ok(const struct srv_valid *v);

/* Sets the 422 response from v's errors. */
void srv_valid_respond(struct srv_valid *v, struct srv_req *r);

/* ---- srv_auth.c ---- */

/* Loads the API-key file (path "" = open mode). Errors: LF_ECONFIG. */
int srv_auth_new(const char *keys_file, struct srv_auth **out, struct lf_err *err);
void srv_auth_free(struct srv_auth *a);

/* Authenticates r from its Authorization header, filling r->owner. On
 * failure sets the 401 response and returns false. */
bool srv_auth_check(struct srv_auth *a, struct srv_req *r);

/* ---- srv_epcache.c: endpoint owner and type, in memory ---- */

/* Errors: LF_ENOMEM. */
int srv_epcache_new(struct srv_epcache **out, struct lf_err *err);
void srv_epcache_free(struct srv_epcache *c);

/* True, with *sync set, when endpoint id is cached and owned by owner.
 * Thread-safe. */
bool srv_epcache_get(struct srv_epcache *c, const char *id, const char *owner, bool *sync);

/* Remembers endpoint id (copied). Thread-safe; silently skips on ENOMEM. */
void srv_epcache_put(struct srv_epcache *c, const char *id, const char *owner, bool sync);

/* Forgets endpoint id. Thread-safe. */
void srv_epcache_remove(struct srv_epcache *c, const char *id);

/* ---- srv_tasks.c: what sync and async predictions share ---- */

/* Loads r's endpoint id for a prediction into rec. Answers 422 (no id) or
 * 404 (missing, another owner's, being deleted) and returns false. */
bool srv_predict_target(struct srv_req *r, const char *id, struct srv_ep_rec *rec);

/* The folder name of owner's pickled results (16 hex digits of a hash, so
 * keys never reach the disk). */
void srv_owner_tag(const char *owner, char out[RT_TAG_BYTES + 1]);

/* Validates r's EndpointPredictV1Request; answers 422/400 and returns false. */
bool srv_predict_request_valid(struct srv_req *r);

/* ---- srv_async.c: async tasks ---- */

/* Starts the task writer thread. Errors: LF_ENOMEM, LF_EIO. */
int srv_async_new(struct srv *s, struct srv_async **out, struct lf_err *err);

/* Submits every PENDING task of the store again (after the runtime has the
 * endpoints). Errors: LF_EIO. */
int srv_async_recover(struct srv_async *a, struct lf_err *err);

/* Runs stored task t (PENDING, e.g. a batch row), taking its strings.
 * Errors: LF_ENOMEM. */
int srv_async_adopt(struct srv_async *a, struct srv_task_rec *t, struct lf_err *err);

/* From now on, replies that come from the shutdown leave tasks PENDING. */
void srv_async_shutdown(struct srv_async *a);

/* Writes what has ended, stops the writer and frees a. NULL is a no-op. */
void srv_async_free(struct srv_async *a);

/* ---- srv_batch.c: batch jobs ---- */

/* Starts the batch thread. Errors: LF_ENOMEM, LF_EIO. */
int srv_batch_new(struct srv *s, struct srv_batch **out, struct lf_err *err);

/* Restarts what was running: pools of RUNNING jobs, PENDING jobs' input.
 * Call before srv_async_recover. Errors: LF_EIO. */
int srv_batch_recover(struct srv_batch *b, struct lf_err *err);

/* A row of job_id ended (committed): maybe the job is done. Thread-safe. */
void srv_batch_note(struct srv_batch *b, const char *job_id);

/* A runtime event for a batch pool (job_id is the pool's endpoint id). */
void srv_batch_on_event(struct srv_batch *b, const struct rt_event *ev);

/* Stops the thread and frees b. NULL is a no-op. */
void srv_batch_free(struct srv_batch *b);

/* ---- srv_callbacks.c: callback deliveries ---- */

/* Makes the deliveries left claimed by the last exit due again, then starts
 * cfg.callback_threads delivery threads. Errors: LF_ENOMEM, LF_EIO. */
int srv_callbacks_new(struct srv *s, struct srv_callbacks **out, struct lf_err *err);

/* Wakes the threads: deliveries were queued. Thread-safe. */
void srv_callbacks_kick(struct srv_callbacks *c);

/* Stops the threads (each after the attempt in hand) and frees c. NULL:
 * no-op. */
void srv_callbacks_free(struct srv_callbacks *c);

/* ---- handlers (one file per resource) ---- */

void srv_h_health(struct srv_req *r);
void srv_h_upload_url(struct srv_req *r);
void srv_h_upload_put(struct srv_req *r);
void srv_h_bundle_create_v1(struct srv_req *r);
void srv_h_bundle_create_v2(struct srv_req *r);
void srv_h_bundle_clone_v1(struct srv_req *r);
void srv_h_bundle_clone_v2(struct srv_req *r);
void srv_h_bundle_list_v1(struct srv_req *r);
void srv_h_bundle_list_v2(struct srv_req *r);
void srv_h_bundle_latest_v1(struct srv_req *r);
void srv_h_bundle_latest_v2(struct srv_req *r);
void srv_h_bundle_get_v1(struct srv_req *r);
void srv_h_bundle_get_v2(struct srv_req *r);
void srv_h_endpoint_create(struct srv_req *r);
void srv_h_endpoint_list(struct srv_req *r);
void srv_h_endpoint_get(struct srv_req *r);
void srv_h_endpoint_update(struct srv_req *r);
void srv_h_endpoint_delete(struct srv_req *r);
void srv_h_endpoint_logs(struct srv_req *r);
void srv_h_schema_json(struct srv_req *r);
void srv_h_sync_task(struct srv_req *r);
void srv_h_async_create(struct srv_req *r);
void srv_h_async_get(struct srv_req *r);
void srv_h_batch_create(struct srv_req *r);
void srv_h_batch_get(struct srv_req *r);
void srv_h_batch_cancel(struct srv_req *r);
void srv_h_batch_result(struct srv_req *r);
void srv_h_result_get(struct srv_req *r);
void srv_h_schema_html(struct srv_req *r);

/* ---- srv_uploads.c: streaming of PUT /upload bodies ---- */

/* Called on the first call of an upload request: checks the token and opens
 * the temporary file. On failure sets the response and returns false. */
bool srv_upload_begin(struct srv_req *r);

/* Writes one chunk of the body. On failure sets the response (once) and
 * returns false; later chunks are then dropped. */
bool srv_upload_write(struct srv_req *r, const char *data, size_t len);

/* Frees the upload state; an unfinished upload's file is removed and its
 * token can be used again. */
void srv_upload_release(struct srv_req *r);

/* ---- srv_deploy.c: the bridge between endpoints and the runtime ---- */

/* The runtime's event callback: writes statuses and logs to the store. */
void srv_deploy_on_event(void *ctx, const struct rt_event *ev);

/* Hands endpoint rec (its current generation) to the runtime. Errors as
 * rt_endpoint_apply; LF_ENOENT when its bundle is gone. */
int srv_deploy_apply(struct srv *s, const struct srv_ep_rec *rec, struct lf_err *err);

/* Starts the temporary pool of batch job job_id for bundle doc. Errors as
 * rt_endpoint_apply. */
int srv_deploy_batch_pool(struct srv *s, const char *job_id, const cJSON *bundle,
                          int max_workers, int per_worker, struct lf_err *err);

/* Redeploys every stored endpoint after a restart, and finishes deletions
 * that were in progress. Errors: LF_EIO. */
int srv_deploy_recover(struct srv *s, struct lf_err *err);

/* ---- srv_ep_settings.c: endpoint settings shared by create and update ---- */

/* Parses a Kubernetes-style quantity (1, 0.5, "500m", "8Gi", "1e3").
 * Returns 0, or -1 if item is not one. */
int srv_quantity_parse(const cJSON *item, double *out);

/* Validates the settings present in in (all required ones when create) and
 * copies them into doc; labels merge into doc's on update. */
void srv_ep_settings_apply(struct srv_valid *v, const cJSON *in, cJSON *doc, bool create);

/* Validates in["name"] (1 to 63 characters). */
bool srv_ep_name_valid(struct srv_valid *v, const cJSON *in);

/* Checks merged settings as a whole (quantities, GPUs, worker bounds, hooks,
 * reserved metadata). Returns false with the reason (for a 400) in msg. */
bool srv_ep_settings_check(const cJSON *doc, char *msg, size_t cap);

/* Validates an optional http(s) callback URL / CallbackAuth object at
 * obj[key]. Return true only when present and valid. */
bool srv_valid_callback_url(struct srv_valid *v, const cJSON *obj, const char *key);
bool srv_valid_callback_auth(struct srv_valid *v, const cJSON *obj, const char *key);

/* ---- srv_bundles.c helpers used by endpoints and docs ---- */

/* The location of the artifact of bundle doc to deploy ("" for runnable
 * images), borrowed from doc. */
const char *srv_bundle_artifact(const cJSON *doc);

/* What a worker's loader needs of bundle doc (kind, requirements,
 * app_config, module paths) as malloc'd JSON, or NULL for bundles that
 * have no artifact to load. */
char *srv_bundle_worker_json(const cJSON *doc);

#endif
