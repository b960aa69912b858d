/* The route table. Order matters: literal segments such as "latest" and
 * "clone-with-changes" come before "{}" patterns of the same length, as the
 * spec requires. */
#include "srv_int.h"

#include <stdio.h>
#include <string.h>

#define LEGACY_PREFIX "/v1/hosted_inference"

static const struct srv_route routes[] = {
    { "GET", "/healthz", srv_h_health, SRV_ROUTE_NO_AUTH },
    { "GET", "/healthcheck", srv_h_health, SRV_ROUTE_NO_AUTH },
    { "GET", "/readyz", srv_h_health, SRV_ROUTE_NO_AUTH },

    { "POST", "/model_bundle_upload", srv_h_upload_url, 0 },
    { "POST", "/batch_task_input_upload", srv_h_upload_url, 0 },
    { "POST", LEGACY_PREFIX "/model_bundle_upload", srv_h_upload_url, 0 },
    { "POST", LEGACY_PREFIX "/batch_task_input_upload", srv_h_upload_url, 0 },
    { "PUT", "/upload/{}/{}", srv_h_upload_put, SRV_ROUTE_NO_AUTH | SRV_ROUTE_UPLOAD },
    /* The client does not escape '/' in endpoint names here: take the rest. */
    { "GET", "/endpoints/creation_logs/{*}", srv_h_endpoint_logs, 0 },
    { "GET", LEGACY_PREFIX "/endpoints/creation_logs/{*}", srv_h_endpoint_logs, 0 },

    { "POST", "/v1/model-bundles", srv_h_bundle_create_v1, SRV_ROUTE_JSON },
    { "GET", "/v1/model-bundles", srv_h_bundle_list_v1, 0 },
    { "POST", "/v1/model-bundles/clone-with-changes", srv_h_bundle_clone_v1, SRV_ROUTE_JSON },
    { "GET", "/v1/model-bundles/latest", srv_h_bundle_latest_v1, 0 },
    { "GET", "/v1/model-bundles/{}", srv_h_bundle_get_v1, 0 },
    { "POST", "/v2/model-bundles", srv_h_bundle_create_v2, SRV_ROUTE_JSON },
    { "GET", "/v2/model-bundles", srv_h_bundle_list_v2, 0 },
    { "POST", "/v2/model-bundles/clone-with-changes", srv_h_bundle_clone_v2, SRV_ROUTE_JSON },
    { "GET", "/v2/model-bundles/latest", srv_h_bundle_latest_v2, 0 },
    { "GET", "/v2/model-bundles/{}", srv_h_bundle_get_v2, 0 },

    { "POST", "/v1/model-endpoints", srv_h_endpoint_create, SRV_ROUTE_JSON },
    { "GET", "/v1/model-endpoints", srv_h_endpoint_list, 0 },
    { "GET", "/v1/model-endpoints/{}", srv_h_endpoint_get, 0 },
    { "PUT", "/v1/model-endpoints/{}", srv_h_endpoint_update, SRV_ROUTE_JSON },
    { "DELETE", "/v1/model-endpoints/{}", srv_h_endpoint_delete, 0 },
    { "GET", "/v1/model-endpoints-schema.json", srv_h_schema_json, 0 },
    { "GET", "/v1/model-endpoints-api", srv_h_schema_html, 0 },

    { "POST", "/v1/sync-tasks", srv_h_sync_task, SRV_ROUTE_JSON },
    { "POST", "/v1/async-tasks", srv_h_async_create, SRV_ROUTE_JSON },
    { "GET", "/v1/async-tasks/{}", srv_h_async_get, 0 },
    { "POST", "/v1/batch-jobs", srv_h_batch_create, SRV_ROUTE_JSON },
    { "GET", "/v1/batch-jobs/{}", srv_h_batch_get, 0 },
    { "PUT", "/v1/batch-jobs/{}", srv_h_batch_cancel, SRV_ROUTE_JSON },
    { "GET", "/v1/batch-jobs/{}/result", srv_h_batch_result, 0 },
    { "GET", "/v1/results/{}", srv_h_result_get, 0 },
};

#define N_ROUTES (sizeof(routes) / sizeof(routes[0]))

void
srv_path_normalize(char *path)
{
    char *w = path;

    for (char *p = path; *p != '\0'; p++) {
        if (*p == '/' && w > path && w[-1] == '/')
            continue;
        *w++ = *p;
    }
    if (w > path + 1 && w[-1] == '/')
        w--;
    *w = '\0';
}

/* Splits path (after normalizing) into segments in buf. Returns the count,
 * or -1 if there are too many. */
static int
split(const char *path, char *buf, size_t cap, char **segs)
{
    int n = 0;

    snprintf(buf, cap, "%s", path[0] == '/' ? path + 1 : path);
    if (buf[0] == '\0')
        return 0;
    for (char *p = buf; ; ) {
        char *slash = strchr(p, '/');

        if (n == SRV_MAX_SEGS)
            return -1;
        segs[n++] = p;
        if (slash == NULL)
            break;
        *slash = '\0';
        p = slash + 1;
    }
    return n;
}

/* Returns true if segs match pattern, filling params. A final "{*}" takes
 * the rest of the path, slashes included (segs are rejoined in place). */
static bool
match(const char *pattern, char **segs, int nsegs, const char **params)
{
    char pbuf[256];
    char *psegs[SRV_MAX_SEGS];
    int np = split(pattern, pbuf, sizeof(pbuf), psegs), nparams = 0;
    bool rest = np > 0 && strcmp(psegs[np - 1], "{*}") == 0;

    if (rest ? nsegs < np : np != nsegs)
        return false;
    for (int i = 0; i < np; i++) {
        if (rest && i == np - 1) {
            for (int j = i + 1; j < nsegs; j++)
                segs[j][-1] = '/'; /* undo the split: segments are contiguous */
            if (nparams == SRV_MAX_PARAMS)
                return false;
            params[nparams++] = segs[i];
            return true;
        }
        if (strcmp(psegs[i], "{}") == 0) {
            if (segs[i][0] == '\0' || nparams == SRV_MAX_PARAMS)
                return false;
            params[nparams++] = segs[i];
        } else if (strcmp(psegs[i], segs[i]) != 0) {
            return false;
        }
    }
    return true;
}

enum srv_match
srv_route_find(struct srv_req *r)
{
    char *segs[SRV_MAX_SEGS];
    const char *params[SRV_MAX_PARAMS] = { NULL };
    bool path_known = false;
    int nsegs;

    srv_path_normalize(r->path);
    nsegs = split(r->path, r->seg_buf, sizeof(r->seg_buf), segs);
    if (nsegs < 0)
        return SRV_MATCH_NOT_FOUND;
    for (size_t i = 0; i < N_ROUTES; i++) {
        if (!match(routes[i].pattern, segs, nsegs, params))
            continue;
        /* HEAD is answered like GET, without a body (MHD drops it). */
        if (strcmp(routes[i].method, r->method) != 0 &&
            !(strcmp(r->method, "HEAD") == 0 && strcmp(routes[i].method, "GET") == 0)) {
            path_known = true;
            continue;
        }
        r->route = &routes[i];
        memcpy(r->params, params, sizeof(params));
        return SRV_MATCH_OK;
    }
    return path_known ? SRV_MATCH_BAD_METHOD : SRV_MATCH_NOT_FOUND;
}
