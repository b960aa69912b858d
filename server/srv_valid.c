/* Request validation with FastAPI/pydantic-shaped errors: each failure
 * becomes {"loc": ["body", ...], "msg": ..., "type": ...}, and all of a
 * request's failures are answered together as one 422. */
#include "srv_int.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

void
srv_valid_init(struct srv_valid *v, const char *where)
{
    memset(v, 0, sizeof(*v));
    v->loc[0] = where;
    v->depth = 1;
}

void
srv_valid_release(struct srv_valid *v)
{
    cJSON_Delete(v->errors);
    v->errors = NULL;
}

void
srv_valid_push(struct srv_valid *v, const char *key)
{
    if (v->depth < SRV_VALID_MAX_DEPTH)
        v->loc[v->depth] = key;
    v->depth++;
}

void
srv_valid_pop(struct srv_valid *v)
{
    if (v->depth > 1)
        v->depth--;
}

void
srv_valid_fail(struct srv_valid *v, const char *key, const char *msg, const char *type)
{
    cJSON *e, *loc;
    int depth = v->depth < SRV_VALID_MAX_DEPTH ? v->depth : SRV_VALID_MAX_DEPTH;

    if (v->errors == NULL)
        v->errors = cJSON_CreateArray();
    e = cJSON_CreateObject();
    loc = cJSON_AddArrayToObject(e, "loc");
    for (int i = 0; i < depth; i++)
        cJSON_AddItemToArray(loc, cJSON_CreateString(v->loc[i]));
    if (key != NULL)
        cJSON_AddItemToArray(loc, cJSON_CreateString(key));
    cJSON_AddStringToObject(e, "msg", msg);
    cJSON_AddStringToObject(e, "type", type);
    cJSON_AddItemToArray(v->errors, e);
}

bool
srv_valid_ok(const struct srv_valid *v)
{
    return v->errors == NULL;
}

static bool
is_int(const cJSON *item)
{
    double d = item->valuedouble;

    return cJSON_IsNumber(item) && isfinite(d) && d == floor(d) && fabs(d) < 9.0e15;
}

static bool
all_strings(const cJSON *item, bool as_values)
{
    const cJSON *c;

    if (as_values ? !cJSON_IsObject(item) : !cJSON_IsArray(item))
        return false;
    cJSON_ArrayForEach(c, item) {
        if (!cJSON_IsString(c))
            return false;
    }
    return true;
}

const cJSON *
srv_valid_get(struct srv_valid *v, const cJSON *obj, const char *key, enum srv_jtype t,
              bool required)
{
    static const struct { const char *msg, *type; } errors[] = {
        [SRV_J_STRING] = { "str type expected", "type_error.str" },
        [SRV_J_INT] = { "value is not a valid integer", "type_error.integer" },
        [SRV_J_NUMBER] = { "value is not a valid float", "type_error.float" },
        [SRV_J_BOOL] = { "value could not be parsed to a boolean", "type_error.bool" },
        [SRV_J_OBJECT] = { "value is not a valid dict", "type_error.dict" },
        [SRV_J_ARRAY] = { "value is not a valid list", "type_error.list" },
        [SRV_J_STR_ARRAY] = { "value is not a valid list of strings", "type_error.list" },
        [SRV_J_STR_MAP] = { "value is not a valid dict of strings", "type_error.dict" },
        [SRV_J_QUANTITY] = { "value is not a valid string or number", "type_error" },
        [SRV_J_ANY] = { "", "" },
    };
    const cJSON *item = cJSON_IsObject(obj) ? cJSON_GetObjectItemCaseSensitive(obj, key) : NULL;
    bool ok;

    if (item == NULL || cJSON_IsNull(item)) {
        if (required)
            srv_valid_fail(v, key, "field required", "value_error.missing");
        return NULL;
    }
    switch (t) {
    case SRV_J_STRING: ok = cJSON_IsString(item); break;
    case SRV_J_INT: ok = is_int(item); break;
    case SRV_J_NUMBER: ok = cJSON_IsNumber(item); break;
    case SRV_J_BOOL: ok = cJSON_IsBool(item); break;
    case SRV_J_OBJECT: ok = cJSON_IsObject(item); break;
    case SRV_J_ARRAY: ok = cJSON_IsArray(item); break;
    case SRV_J_STR_ARRAY: ok = all_strings(item, false); break;
    case SRV_J_STR_MAP: ok = all_strings(item, true); break;
    case SRV_J_QUANTITY: ok = cJSON_IsString(item) || cJSON_IsNumber(item); break;
    default: ok = true; break;
    }
    if (!ok) {
        srv_valid_fail(v, key, errors[t].msg, errors[t].type);
        return NULL;
    }
    return item;
}

const char *
srv_valid_enum(struct srv_valid *v, const cJSON *obj, const char *key,
               const char *const *allowed, bool required)
{
    const cJSON *item = srv_valid_get(v, obj, key, SRV_J_STRING, required);
    char msg[512];
    size_t n;

    if (item == NULL)
        return NULL;
    for (size_t i = 0; allowed[i] != NULL; i++) {
        if (strcmp(item->valuestring, allowed[i]) == 0)
            return allowed[i];
    }
    n = (size_t)snprintf(msg, sizeof(msg), "value is not a valid enumeration member; permitted: ");
    for (size_t i = 0; allowed[i] != NULL && n < sizeof(msg); i++)
        n += (size_t)snprintf(msg + n, sizeof(msg) - n, "%s'%s'", i ? ", " : "", allowed[i]);
    srv_valid_fail(v, key, msg, "type_error.enum");
    return NULL;
}

void
srv_valid_respond(struct srv_valid *v, struct srv_req *r)
{
    cJSON *obj = cJSON_CreateObject();

    cJSON_AddItemToObject(obj, "detail", v->errors ? v->errors : cJSON_CreateArray());
    v->errors = NULL;
    srv_resp_json(r, 422, obj);
}
