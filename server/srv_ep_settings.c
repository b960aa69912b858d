/* Endpoint settings (spec 2.4, 6.2): field types and ranges (422), then the
 * checks on the merged result (400), shared by create and update so both
 * enforce the same rules. */
#include "srv_int.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lf_util.h"

#define ENDPOINT_NAME_MAX_CHARS 63
#define MAX_WORKERS_LIMIT 250
#define CALLBACK_URL_MAX_CHARS 2083
#define RESERVED_METADATA_KEY "_CONVERTED_FROM_ARTIFACT_LIKE"

/* Both GPU spellings: the 1.0.0 client's and the current server's. */
static const char *const gpu_types[] = {
    "nvidia-tesla-t4", "nvidia-ampere-a10", "nvidia-a100", "nvidia-ampere-a100",
    "nvidia-ampere-a100e", "nvidia-hopper-h100", "nvidia-hopper-h100-1g20gb",
    "nvidia-hopper-h100-3g40gb", NULL,
};
static const char *const hooks[] = { "callback", "billing", "logging", NULL };

enum range { R_NONE, R_GE0, R_GT0 };

struct setting {
    const char *key;
    enum srv_jtype type;
    bool required;   /* on create */
    enum range range;
};

static const struct setting settings[] = {
    { "metadata", SRV_J_OBJECT, true, R_NONE },
    { "cpus", SRV_J_QUANTITY, true, R_NONE },
    { "gpus", SRV_J_INT, true, R_GE0 },
    { "memory", SRV_J_QUANTITY, true, R_NONE },
    { "storage", SRV_J_QUANTITY, false, R_NONE },
    { "min_workers", SRV_J_INT, true, R_GE0 },
    { "max_workers", SRV_J_INT, true, R_GE0 },
    { "per_worker", SRV_J_INT, true, R_GT0 },
    { "labels", SRV_J_STR_MAP, false, R_NONE },
    { "post_inference_hooks", SRV_J_STR_ARRAY, false, R_NONE },
    { "high_priority", SRV_J_BOOL, false, R_NONE },
    { "billing_tags", SRV_J_OBJECT, false, R_NONE },
    { "optimize_costs", SRV_J_BOOL, false, R_NONE },
    { "prewarm", SRV_J_BOOL, false, R_NONE },
    { "public_inference", SRV_J_BOOL, false, R_NONE },
    { "aws_role", SRV_J_STRING, false, R_NONE },
    { "results_s3_bucket", SRV_J_STRING, false, R_NONE },
    { NULL, SRV_J_ANY, false, R_NONE },
};

int
srv_quantity_parse(const cJSON *item, double *out)
{
    static const struct { const char *suffix; double mult; } units[] = {
        { "", 1 }, { "m", 1e-3 }, { "k", 1e3 }, { "M", 1e6 }, { "G", 1e9 }, { "T", 1e12 },
        { "P", 1e15 }, { "E", 1e18 }, { "Ki", 1024.0 }, { "Mi", 1048576.0 },
        { "Gi", 1073741824.0 }, { "Ti", 1099511627776.0 }, { "Pi", 1125899906842624.0 },
        { "Ei", 1152921504606846976.0 },
    };
    const char *s;
    char *end;
    double v;

    if (cJSON_IsNumber(item)) {
        *out = item->valuedouble;
        return isfinite(*out) ? 0 : -1;
    }
    if (!cJSON_IsString(item))
        return -1;
    s = item->valuestring;
    if (!isdigit((unsigned char)s[0]) && s[0] != '.')
        return -1;
    v = strtod(s, &end);
    /* Decimal only: strtod would also take hex ("0x10") and hex floats. */
    if (strspn(s, "0123456789.eE+-") < (size_t)(end - s))
        return -1;
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (strcmp(end, units[i].suffix) == 0) {
            *out = v * units[i].mult;
            return isfinite(*out) ? 0 : -1;
        }
    }
    return -1;
}

static bool
is_http_url(const char *s)
{
    const char *host;

    if (strncmp(s, "http://", 7) == 0)
        host = s + 7;
    else if (strncmp(s, "https://", 8) == 0)
        host = s + 8;
    else
        return false;
    return host[0] != '\0' && host[0] != '/' && strlen(s) <= CALLBACK_URL_MAX_CHARS &&
           strpbrk(s, " \t\r\n") == NULL;
}

bool
srv_valid_callback_url(struct srv_valid *v, const cJSON *obj, const char *key)
{
    const cJSON *item = srv_valid_get(v, obj, key, SRV_J_STRING, false);

    if (item == NULL)
        return false;
    if (!is_http_url(item->valuestring)) {
        srv_valid_fail(v, key, "invalid or missing URL scheme", "value_error.url.scheme");
        return false;
    }
    return true;
}

bool
srv_valid_callback_auth(struct srv_valid *v, const cJSON *obj, const char *key)
{
    static const char *const kinds[] = { "basic", "mtls", NULL };
    const cJSON *auth = srv_valid_get(v, obj, key, SRV_J_OBJECT, false);
    const char *kind;
    bool ok;

    if (auth == NULL)
        return false;
    srv_valid_push(v, key);
    kind = srv_valid_enum(v, auth, "kind", kinds, true);
    ok = kind != NULL;
    if (kind != NULL && strcmp(kind, "basic") == 0) {
        ok &= srv_valid_get(v, auth, "username", SRV_J_STRING, true) != NULL;
        ok &= srv_valid_get(v, auth, "password", SRV_J_STRING, true) != NULL;
    } else if (kind != NULL) {
        ok &= srv_valid_get(v, auth, "cert", SRV_J_STRING, true) != NULL;
        ok &= srv_valid_get(v, auth, "key", SRV_J_STRING, true) != NULL;
    }
    srv_valid_pop(v);
    return ok;
}

static void
put(cJSON *doc, const char *key, const cJSON *value)
{
    cJSON_DeleteItemFromObjectCaseSensitive(doc, key);
    cJSON_AddItemToObject(doc, key, cJSON_Duplicate(value, true));
}

static void
check_range(struct srv_valid *v, const struct setting *s, const cJSON *item)
{
    if (s->range == R_GE0 && item->valuedouble < 0)
        srv_valid_fail(v, s->key, "ensure this value is greater than or equal to 0",
                       "value_error.number.not_ge");
    if (s->range == R_GT0 && item->valuedouble <= 0)
        srv_valid_fail(v, s->key, "ensure this value is greater than 0",
                       "value_error.number.not_gt");
}

void
srv_ep_settings_apply(struct srv_valid *v, const cJSON *in, cJSON *doc, bool create)
{
    const cJSON *item;

    for (const struct setting *s = settings; s->key != NULL; s++) {
        item = srv_valid_get(v, in, s->key, s->type, create && s->required);
        if (item == NULL)
            continue;
        check_range(v, s, item);
        if (strcmp(s->key, "labels") == 0 && !create &&
            cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(doc, "labels"))) {
            /* Update merges labels into the existing ones (dict update). */
            cJSON *labels = cJSON_GetObjectItemCaseSensitive(doc, "labels");
            const cJSON *l;

            cJSON_ArrayForEach(l, item)
                put(labels, l->string, l);
            continue;
        }
        put(doc, s->key, item);
    }
    if (srv_valid_enum(v, in, "gpu_type", gpu_types, false) != NULL)
        put(doc, "gpu_type", cJSON_GetObjectItemCaseSensitive(in, "gpu_type"));
    if (srv_valid_callback_url(v, in, "default_callback_url"))
        put(doc, "default_callback_url",
            cJSON_GetObjectItemCaseSensitive(in, "default_callback_url"));
    if (srv_valid_callback_auth(v, in, "default_callback_auth"))
        put(doc, "default_callback_auth",
            cJSON_GetObjectItemCaseSensitive(in, "default_callback_auth"));
}

bool
srv_ep_name_valid(struct srv_valid *v, const cJSON *in)
{
    const cJSON *name = srv_valid_get(v, in, "name", SRV_J_STRING, true);

    if (name == NULL)
        return false;
    if (lf_utf8_len(name->valuestring) > ENDPOINT_NAME_MAX_CHARS) {
        srv_valid_fail(v, "name", "ensure this value has at most 63 characters",
                       "value_error.any_str.max_length");
        return false;
    }
    if (name->valuestring[0] == '\0') {
        srv_valid_fail(v, "name", "ensure this value has at least 1 characters",
                       "value_error.any_str.min_length");
        return false;
    }
    return true;
}

static int
get_int(const cJSON *doc, const char *key)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(doc, key);

    return cJSON_IsNumber(item) ? item->valueint : 0;
}

bool
srv_ep_settings_check(const cJSON *doc, char *msg, size_t cap)
{
    static const char *const quantities[] = { "cpus", "memory", "storage" };
    const cJSON *gpu_type = cJSON_GetObjectItemCaseSensitive(doc, "gpu_type");
    const cJSON *hook, *metadata = cJSON_GetObjectItemCaseSensitive(doc, "metadata");
    int gpus = get_int(doc, "gpus"), min = get_int(doc, "min_workers");
    int max = get_int(doc, "max_workers");

    for (size_t i = 0; i < sizeof(quantities) / sizeof(quantities[0]); i++) {
        const cJSON *q = cJSON_GetObjectItemCaseSensitive(doc, quantities[i]);
        double value;

        if (q == NULL || cJSON_IsNull(q))
            continue;
        if (srv_quantity_parse(q, &value) != 0 || value <= 0) {
            char *text = cJSON_PrintUnformatted(q);

            snprintf(msg, cap, "Requested %s=%s is not a positive quantity (such as 1, 0.5, "
                     "500m, 8Gi)", quantities[i], text ? text : "?");
            cJSON_free(text);
            return false;
        }
    }
    if (gpus > 0 && !cJSON_IsString(gpu_type)) {
        snprintf(msg, cap, "Must provide a gpu_type when requesting gpus=%d", gpus);
        return false;
    }
    if (gpus == 0 && cJSON_IsString(gpu_type)) {
        snprintf(msg, cap, "Cannot use gpu_type=%s with gpus=0", gpu_type->valuestring);
        return false;
    }
    if (max > MAX_WORKERS_LIMIT) {
        snprintf(msg, cap, "Requested max workers %d too high (at most %d)", max,
                 MAX_WORKERS_LIMIT);
        return false;
    }
    if (min > max) {
        snprintf(msg, cap, "Requested min workers %d is greater than max workers %d", min, max);
        return false;
    }
    cJSON_ArrayForEach(hook, cJSON_GetObjectItemCaseSensitive(doc, "post_inference_hooks")) {
        bool known = false;

        for (size_t i = 0; hooks[i] != NULL; i++)
            known |= strcasecmp(hook->valuestring, hooks[i]) == 0;
        if (!known) {
            snprintf(msg, cap, "Unsupported post-inference hook '%s' (supported: callback, "
                     "billing, logging)", hook->valuestring);
            return false;
        }
    }
    if (cJSON_HasObjectItem(metadata, RESERVED_METADATA_KEY)) {
        snprintf(msg, cap, "%s is a reserved metadata key", RESERVED_METADATA_KEY);
        return false;
    }
    return true;
}
