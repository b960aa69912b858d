/* The worker spec: the C fields a worker reads from the JSON the server
 * puts in its environment (rt_spec_env builds it). */
#include "rt_int.h"

#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

static int
copy_str(const cJSON *o, const char *key, char *out, size_t cap, bool required,
         struct lf_err *err)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(o, key);

    if (!cJSON_IsString(item)) {
        out[0] = '\0';
        return required ? lf_err_set(err, LF_EINVAL, "worker spec lacks '%s'", key) : LF_OK;
    }
    snprintf(out, cap, "%s", item->valuestring);
    return LF_OK;
}

int
rt_spec_parse(const char *json, struct rt_spec *out, struct lf_err *err)
{
    cJSON *o = cJSON_Parse(json);
    const cJSON *n;
    int rc;

    memset(out, 0, sizeof(*out));
    if (!cJSON_IsObject(o)) {
        cJSON_Delete(o);
        return lf_err_set(err, LF_EINVAL, "worker spec is not a JSON object: %.200s", json);
    }
    rc = copy_str(o, "kind", out->kind, sizeof(out->kind), true, err);
    if (rc == LF_OK)
        rc = copy_str(o, "path", out->path, sizeof(out->path), true, err);
    if (rc == LF_OK)
        rc = copy_str(o, "bundle_id", out->bundle_id, sizeof(out->bundle_id), true, err);
    if (rc == LF_OK)
        rc = copy_str(o, "data_dir", out->data_dir, sizeof(out->data_dir), true, err);
    if (rc == LF_OK)
        rc = copy_str(o, "public_url", out->public_url, sizeof(out->public_url), false, err);
    n = cJSON_GetObjectItemCaseSensitive(o, "per_worker");
    out->per_worker = cJSON_IsNumber(n) && n->valueint > 0 ? n->valueint : 1;
    n = cJSON_GetObjectItemCaseSensitive(o, "url_timeout_s");
    out->url_timeout_s = cJSON_IsNumber(n) && n->valueint > 0 ? n->valueint : 60;
    cJSON_Delete(o);
    return rc;
}
