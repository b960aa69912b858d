/* Model bundles, v1 and v2 (spec 2.2, 2.3, 3). One stored record serves
 * both versions: it holds the v2 "flavor" and the v1 "legacy" fields, each
 * derived from the other at creation (spec 3.4), so a bundle made through
 * either version reads back through both. Records are immutable. */
#include "srv_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lf_util.h"

enum view { VIEW_V1, VIEW_V2 };

struct field {
    const char *key;
    enum srv_jtype type;
    bool required;
};

static const char *const framework_types[] = { "pytorch", "tensorflow", "custom_base_image",
                                               NULL };
static const char *const packaging_types[] = { "cloudpickle", "zip", "lira", NULL };
static const char *const flavor_names[] = { "cloudpickle_artifact", "zip_artifact",
                                            "runnable_image", "triton_enhanced_runnable_image",
                                            NULL };
static const char *const protocols[] = { "http", NULL };
static const char *const orders[] = { "newest", "oldest", NULL };

static const struct field cloudpickle_fields[] = {
    { "requirements", SRV_J_STR_ARRAY, true }, { "location", SRV_J_STRING, true },
    { "load_predict_fn", SRV_J_STRING, true }, { "load_model_fn", SRV_J_STRING, true },
    { "app_config", SRV_J_OBJECT, false }, { NULL, SRV_J_ANY, false },
};
static const struct field zip_fields[] = {
    { "requirements", SRV_J_STR_ARRAY, true }, { "location", SRV_J_STRING, true },
    { "load_predict_fn_module_path", SRV_J_STRING, true },
    { "load_model_fn_module_path", SRV_J_STRING, true },
    { "app_config", SRV_J_OBJECT, false }, { NULL, SRV_J_ANY, false },
};
static const struct field runnable_fields[] = {
    { "repository", SRV_J_STRING, true }, { "tag", SRV_J_STRING, true },
    { "command", SRV_J_STR_ARRAY, true }, { "env", SRV_J_STR_MAP, false },
    { "readiness_initial_delay_seconds", SRV_J_INT, false },
    { "predict_route", SRV_J_STRING, false }, { "healthcheck_route", SRV_J_STRING, false },
    { NULL, SRV_J_ANY, false },
};
static const struct field triton_fields[] = {
    { "triton_model_repository", SRV_J_STRING, true }, { "triton_num_cpu", SRV_J_NUMBER, true },
    { "triton_commit_tag", SRV_J_STRING, true },
    { "triton_model_replicas", SRV_J_STR_MAP, false }, { "triton_storage", SRV_J_STRING, false },
    { "triton_memory", SRV_J_STRING, false },
    { "triton_readiness_initial_delay_seconds", SRV_J_INT, false },
    { NULL, SRV_J_ANY, false },
};

#define RUNNABLE_READINESS_DEFAULT_S 120
#define TRITON_READINESS_DEFAULT_S 300
#define LIRA_READINESS_S 30

/* Copies the valid fields of table from in to out, recording errors. */
static void
copy_fields(struct srv_valid *v, const cJSON *in, cJSON *out, const struct field *table)
{
    for (const struct field *f = table; f->key != NULL; f++) {
        const cJSON *item = srv_valid_get(v, in, f->key, f->type, f->required);

        if (item != NULL)
            cJSON_AddItemToObject(out, f->key, cJSON_Duplicate(item, true));
    }
}

static const char *
str_or_null(const cJSON *obj, const char *key)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);

    return cJSON_IsString(item) ? item->valuestring : NULL;
}

static void
add_str_or_null(cJSON *obj, const char *key, const char *value)
{
    if (value != NULL)
        cJSON_AddStringToObject(obj, key, value);
    else
        cJSON_AddNullToObject(obj, key);
}

/* Requires obj[key] to be a non-empty string; returns it or NULL. */
static const char *
need_text(struct srv_valid *v, const cJSON *obj, const char *key)
{
    const cJSON *item = srv_valid_get(v, obj, key, SRV_J_STRING, true);

    if (item != NULL && item->valuestring[0] == '\0') {
        srv_valid_fail(v, key, "ensure this value has at least 1 characters",
                       "value_error.any_str.min_length");
        return NULL;
    }
    return item ? item->valuestring : NULL;
}

/* Validates a v2 framework object; returns a normalized copy, or NULL. */
static cJSON *
framework_from_v2(struct srv_valid *v, const cJSON *in)
{
    const char *type = srv_valid_enum(v, in, "framework_type", framework_types, true);
    cJSON *out;

    if (type == NULL)
        return NULL;
    out = cJSON_CreateObject();
    cJSON_AddStringToObject(out, "framework_type", type);
    if (strcmp(type, "pytorch") == 0) {
        add_str_or_null(out, "pytorch_image_tag", need_text(v, in, "pytorch_image_tag"));
    } else if (strcmp(type, "tensorflow") == 0) {
        add_str_or_null(out, "tensorflow_version", need_text(v, in, "tensorflow_version"));
    } else {
        add_str_or_null(out, "image_repository", need_text(v, in, "image_repository"));
        add_str_or_null(out, "image_tag", need_text(v, in, "image_tag"));
    }
    return out;
}

/* v1 env_params from a normalized framework (image_repository -> ecr_repo). */
static cJSON *
env_params_from_framework(const cJSON *fw)
{
    cJSON *out = cJSON_CreateObject();

    cJSON_AddStringToObject(out, "framework_type", str_or_null(fw, "framework_type"));
    add_str_or_null(out, "pytorch_image_tag", str_or_null(fw, "pytorch_image_tag"));
    add_str_or_null(out, "tensorflow_version", str_or_null(fw, "tensorflow_version"));
    add_str_or_null(out, "ecr_repo", str_or_null(fw, "image_repository"));
    add_str_or_null(out, "image_tag", str_or_null(fw, "image_tag"));
    return out;
}

/* Validates v1 env_params (spec 3.2); returns the framework it means. */
static cJSON *
framework_from_env_params(struct srv_valid *v, const cJSON *in)
{
    const char *type = srv_valid_enum(v, in, "framework_type", framework_types, true);
    cJSON *out;

    if (type == NULL)
        return NULL;
    out = cJSON_CreateObject();
    cJSON_AddStringToObject(out, "framework_type", type);
    if (strcmp(type, "pytorch") == 0) {
        add_str_or_null(out, "pytorch_image_tag", need_text(v, in, "pytorch_image_tag"));
    } else if (strcmp(type, "tensorflow") == 0) {
        add_str_or_null(out, "tensorflow_version", need_text(v, in, "tensorflow_version"));
    } else {
        const cJSON *repo = srv_valid_get(v, in, "ecr_repo", SRV_J_STRING, false);

        cJSON_AddStringToObject(out, "image_repository", repo ? repo->valuestring : "");
        add_str_or_null(out, "image_tag", need_text(v, in, "image_tag"));
    }
    return out;
}

static bool
is_artifact(const char *flavor)
{
    return strcmp(flavor, "cloudpickle_artifact") == 0 || strcmp(flavor, "zip_artifact") == 0;
}

const char *
srv_bundle_artifact(const cJSON *doc)
{
    const cJSON *flavor = cJSON_GetObjectItemCaseSensitive(doc, "flavor");
    const char *name = str_or_null(flavor, "flavor");
    const char *loc = str_or_null(flavor, "location");

    return name && loc && is_artifact(name) ? loc : "";
}

char *
srv_bundle_worker_json(const cJSON *doc)
{
    static const char *const copied[] = { "requirements", "app_config",
                                          "load_model_fn_module_path",
                                          "load_predict_fn_module_path", NULL };
    const cJSON *flavor = cJSON_GetObjectItemCaseSensitive(doc, "flavor");
    const char *name = str_or_null(flavor, "flavor");
    cJSON *o;
    char *text;

    if (name == NULL || !is_artifact(name))
        return NULL;
    o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "kind", strcmp(name, "zip_artifact") == 0 ? "zip"
                                                                       : "cloudpickle");
    for (int i = 0; copied[i] != NULL; i++) {
        const cJSON *item = cJSON_GetObjectItemCaseSensitive(flavor, copied[i]);

        cJSON_AddItemToObject(o, copied[i], item ? cJSON_Duplicate(item, true)
                                                 : cJSON_CreateNull());
    }
    text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return text;
}

/* The v1 fields of a v2 flavor (spec 3.4). */
static cJSON *
legacy_from_flavor(const cJSON *flavor)
{
    const char *name = str_or_null(flavor, "flavor");
    const cJSON *app_config = cJSON_GetObjectItemCaseSensitive(flavor, "app_config");
    cJSON *legacy = cJSON_CreateObject(), *env;

    if (is_artifact(name)) {
        cJSON_AddStringToObject(legacy, "location", str_or_null(flavor, "location"));
        cJSON_AddItemToObject(legacy, "requirements",
            cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(flavor, "requirements"), true));
        cJSON_AddItemToObject(legacy, "env_params",
            env_params_from_framework(cJSON_GetObjectItemCaseSensitive(flavor, "framework")));
        cJSON_AddStringToObject(legacy, "packaging_type",
                                strcmp(name, "zip_artifact") == 0 ? "zip" : "cloudpickle");
        cJSON_AddItemToObject(legacy, "app_config", cJSON_IsObject(app_config)
                                  ? cJSON_Duplicate(app_config, true) : cJSON_CreateNull());
        return legacy;
    }
    cJSON_AddStringToObject(legacy, "location", "unused");
    cJSON_AddItemToObject(legacy, "requirements", cJSON_CreateArray());
    env = cJSON_AddObjectToObject(legacy, "env_params");
    cJSON_AddStringToObject(env, "framework_type", "custom_base_image");
    cJSON_AddNullToObject(env, "pytorch_image_tag");
    cJSON_AddNullToObject(env, "tensorflow_version");
    cJSON_AddStringToObject(env, "ecr_repo", str_or_null(flavor, "repository"));
    cJSON_AddStringToObject(env, "image_tag", str_or_null(flavor, "tag"));
    cJSON_AddStringToObject(legacy, "packaging_type", "lira");
    cJSON_AddNullToObject(legacy, "app_config");
    return legacy;
}

/* Checks that the locations a new bundle names can be read; answers 400. */
static bool
check_locations(struct srv_req *r, const cJSON *doc)
{
    const char *locs[2] = { srv_bundle_artifact(doc), str_or_null(doc, "schema_location") };
    char path[PATH_MAX];
    struct lf_err err = { 0 };

    for (int i = 0; i < 2; i++) {
        if (locs[i] == NULL || locs[i][0] == '\0')
            continue;
        if (bl_location_resolve(&r->srv->bl, locs[i], path, sizeof(path), &err) != LF_OK) {
            srv_resp_detail(r, 400, "%s", err.msg);
            return false;
        }
    }
    return true;
}

/* Fills id, created_at and the common fields, checks, stores and answers
 * {"model_bundle_id": id}. Takes doc. */
static void
store_new(struct srv_req *r, cJSON *doc, const char *name)
{
    char id[SRV_ID_BYTES], created[LF_TIME_ISO_BYTES];
    int64_t now = lf_now_us();
    struct lf_err err = { 0 };
    cJSON *resp;

    if (!check_locations(r, doc)) {
        cJSON_Delete(doc);
        return;
    }
    lf_id_new("bun_", id, sizeof(id));
    lf_time_iso8601(now, created);
    cJSON_DeleteItemFromObjectCaseSensitive(doc, "id");
    cJSON_DeleteItemFromObjectCaseSensitive(doc, "created_at");
    cJSON_AddStringToObject(doc, "id", id);
    cJSON_AddStringToObject(doc, "created_at", created);
    if (srv_store_bundle_add(r->srv->store, r->owner, id, name, now, doc, &err) != LF_OK) {
        cJSON_Delete(doc);
        srv_resp_err(r, &err);
        return;
    }
    cJSON_Delete(doc);
    resp = cJSON_CreateObject();
    cJSON_AddStringToObject(resp, "model_bundle_id", id);
    srv_resp_json(r, 200, resp);
}

/* A new record with the fields both versions share. */
static cJSON *
new_doc(const char *name, const cJSON *metadata, const cJSON *schema_location)
{
    cJSON *doc = cJSON_CreateObject();

    cJSON_AddStringToObject(doc, "name", name);
    cJSON_AddItemToObject(doc, "metadata", metadata ? cJSON_Duplicate(metadata, true)
                                                    : cJSON_CreateObject());
    cJSON_AddItemToObject(doc, "model_artifact_ids", cJSON_CreateArray());
    cJSON_AddItemToObject(doc, "schema_location", schema_location
                              ? cJSON_Duplicate(schema_location, true) : cJSON_CreateNull());
    return doc;
}

static const char *
meta_text(const cJSON *metadata, const char *key)
{
    const char *s = str_or_null(metadata, key);

    return s ? s : "";
}

/* The v2 flavor of a v1 create request (spec 3.4). */
static cJSON *
flavor_from_v1(const char *packaging, const cJSON *body, const cJSON *framework,
               const cJSON *metadata)
{
    const cJSON *app_config = cJSON_GetObjectItemCaseSensitive(body, "app_config");
    cJSON *flavor = cJSON_CreateObject();

    if (strcmp(packaging, "lira") == 0) {
        cJSON_AddStringToObject(flavor, "flavor", "runnable_image");
        cJSON_AddStringToObject(flavor, "repository", "");
        cJSON_AddStringToObject(flavor, "tag", "");
        cJSON_AddItemToObject(flavor, "command", cJSON_CreateArray());
        cJSON_AddStringToObject(flavor, "protocol", "http");
        cJSON_AddNumberToObject(flavor, "readiness_initial_delay_seconds", LIRA_READINESS_S);
        return flavor;
    }
    cJSON_AddStringToObject(flavor, "flavor", strcmp(packaging, "zip") == 0
                                                  ? "zip_artifact" : "cloudpickle_artifact");
    cJSON_AddItemToObject(flavor, "requirements",
        cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(body, "requirements"), true));
    cJSON_AddItemToObject(flavor, "framework", cJSON_Duplicate(framework, true));
    if (cJSON_IsObject(app_config))
        cJSON_AddItemToObject(flavor, "app_config", cJSON_Duplicate(app_config, true));
    cJSON_AddStringToObject(flavor, "location", str_or_null(body, "location"));
    if (strcmp(packaging, "zip") == 0) {
        cJSON_AddStringToObject(flavor, "load_predict_fn_module_path",
                                meta_text(metadata, "load_predict_fn_module_path"));
        cJSON_AddStringToObject(flavor, "load_model_fn_module_path",
                                meta_text(metadata, "load_model_fn_module_path"));
    } else {
        cJSON_AddStringToObject(flavor, "load_predict_fn", meta_text(metadata, "load_predict_fn"));
        cJSON_AddStringToObject(flavor, "load_model_fn", meta_text(metadata, "load_model_fn"));
    }
    return flavor;
}

void
srv_h_bundle_create_v1(struct srv_req *r)
{
    const cJSON *body = r->json, *name, *metadata, *schema, *env;
    const char *packaging;
    cJSON *framework = NULL, *doc, *legacy;
    struct srv_valid v;

    srv_valid_init(&v, "body");
    name = srv_valid_get(&v, body, "name", SRV_J_STRING, true);
    srv_valid_get(&v, body, "location", SRV_J_STRING, true);
    srv_valid_get(&v, body, "requirements", SRV_J_STR_ARRAY, true);
    env = srv_valid_get(&v, body, "env_params", SRV_J_OBJECT, true);
    packaging = srv_valid_enum(&v, body, "packaging_type", packaging_types, true);
    metadata = srv_valid_get(&v, body, "metadata", SRV_J_OBJECT, false);
    srv_valid_get(&v, body, "app_config", SRV_J_OBJECT, false);
    schema = srv_valid_get(&v, body, "schema_location", SRV_J_STRING, false);
    if (env != NULL) {
        srv_valid_push(&v, "env_params");
        framework = framework_from_env_params(&v, env);
        srv_valid_pop(&v);
    }
    if (!srv_valid_ok(&v)) {
        cJSON_Delete(framework);
        srv_valid_respond(&v, r);
        return;
    }
    srv_valid_release(&v);
    doc = new_doc(name->valuestring, metadata, schema);
    cJSON_AddItemToObject(doc, "flavor", flavor_from_v1(packaging, body, framework, metadata));
    legacy = cJSON_AddObjectToObject(doc, "legacy");
    cJSON_AddStringToObject(legacy, "location", str_or_null(body, "location"));
    cJSON_AddItemToObject(legacy, "requirements",
        cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(body, "requirements"), true));
    cJSON_AddItemToObject(legacy, "env_params", env_params_from_framework(framework));
    cJSON_AddStringToObject(legacy, "packaging_type", packaging);
    cJSON_AddItemToObject(legacy, "app_config",
        cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(body, "app_config"))
            ? cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(body, "app_config"), true)
            : cJSON_CreateNull());
    cJSON_Delete(framework);
    store_new(r, doc, name->valuestring);
}

/* Validates a v2 flavor; returns the normalized copy, or NULL. */
static cJSON *
flavor_from_v2(struct srv_valid *v, const cJSON *in)
{
    const char *name = srv_valid_enum(v, in, "flavor", flavor_names, true);
    const cJSON *fw_in;
    cJSON *out;

    if (name == NULL)
        return NULL;
    out = cJSON_CreateObject();
    cJSON_AddStringToObject(out, "flavor", name);
    if (is_artifact(name)) {
        fw_in = srv_valid_get(v, in, "framework", SRV_J_OBJECT, true);
        if (fw_in != NULL) {
            cJSON *fw;

            srv_valid_push(v, "framework");
            fw = framework_from_v2(v, fw_in);
            srv_valid_pop(v);
            if (fw != NULL)
                cJSON_AddItemToObject(out, "framework", fw);
        }
        copy_fields(v, in, out, strcmp(name, "zip_artifact") == 0 ? zip_fields
                                                                  : cloudpickle_fields);
        return out;
    }
    copy_fields(v, in, out, runnable_fields);
    if (srv_valid_enum(v, in, "protocol", protocols, true) != NULL)
        cJSON_AddStringToObject(out, "protocol", "http");
    if (!cJSON_HasObjectItem(out, "readiness_initial_delay_seconds"))
        cJSON_AddNumberToObject(out, "readiness_initial_delay_seconds",
                                RUNNABLE_READINESS_DEFAULT_S);
    if (strcmp(name, "triton_enhanced_runnable_image") == 0) {
        copy_fields(v, in, out, triton_fields);
        if (!cJSON_HasObjectItem(out, "triton_readiness_initial_delay_seconds"))
            cJSON_AddNumberToObject(out, "triton_readiness_initial_delay_seconds",
                                    TRITON_READINESS_DEFAULT_S);
    }
    return out;
}

void
srv_h_bundle_create_v2(struct srv_req *r)
{
    const cJSON *body = r->json, *name, *schema, *metadata, *flavor_in;
    cJSON *flavor = NULL, *doc;
    struct srv_valid v;

    srv_valid_init(&v, "body");
    name = srv_valid_get(&v, body, "name", SRV_J_STRING, true);
    schema = srv_valid_get(&v, body, "schema_location", SRV_J_STRING, true);
    metadata = srv_valid_get(&v, body, "metadata", SRV_J_OBJECT, false);
    flavor_in = srv_valid_get(&v, body, "flavor", SRV_J_OBJECT, true);
    if (flavor_in != NULL) {
        srv_valid_push(&v, "flavor");
        flavor = flavor_from_v2(&v, flavor_in);
        srv_valid_pop(&v);
    }
    if (!srv_valid_ok(&v)) {
        cJSON_Delete(flavor);
        srv_valid_respond(&v, r);
        return;
    }
    srv_valid_release(&v);
    doc = new_doc(name->valuestring, metadata, schema);
    cJSON_AddItemToObject(doc, "legacy", legacy_from_flavor(flavor));
    cJSON_AddItemToObject(doc, "flavor", flavor);
    store_new(r, doc, name->valuestring);
}

/* The response body of a stored record in one version. Returns new cJSON. */
static cJSON *
bundle_view(const cJSON *doc, enum view view)
{
    static const char *const common[] = { "id", "name", "metadata", "created_at",
                                          "model_artifact_ids", "schema_location", NULL };
    static const char *const legacy_keys[] = { "location", "requirements", "env_params",
                                               "packaging_type", "app_config", NULL };
    cJSON *out = cJSON_CreateObject();
    const cJSON *legacy = cJSON_GetObjectItemCaseSensitive(doc, "legacy");

    for (int i = 0; common[i] != NULL; i++)
        cJSON_AddItemToObject(out, common[i],
            cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(doc, common[i]), true));
    if (view == VIEW_V2) {
        cJSON_AddItemToObject(out, "flavor",
            cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(doc, "flavor"), true));
        return out;
    }
    for (int i = 0; legacy_keys[i] != NULL; i++)
        cJSON_AddItemToObject(out, legacy_keys[i],
            cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(legacy, legacy_keys[i]), true));
    return out;
}

static void
clone(struct srv_req *r)
{
    const cJSON *orig_id, *new_config;
    cJSON *doc = NULL, *meta, *flavor;
    struct srv_valid v;
    struct lf_err err = { 0 };
    char *name;

    srv_valid_init(&v, "body");
    orig_id = srv_valid_get(&v, r->json, "original_model_bundle_id", SRV_J_STRING, true);
    new_config = srv_valid_get(&v, r->json, "new_app_config", SRV_J_OBJECT, false);
    if (!srv_valid_ok(&v)) {
        srv_valid_respond(&v, r);
        return;
    }
    srv_valid_release(&v);
    if (srv_store_bundle_get(r->srv->store, r->owner, orig_id->valuestring, &doc, &err) != LF_OK) {
        if (err.code == LF_ENOENT)
            srv_resp_detail(r, 404, "Model Bundle %s  was not found.", orig_id->valuestring);
        else
            srv_resp_err(r, &err);
        return;
    }
    meta = cJSON_GetObjectItemCaseSensitive(doc, "metadata");
    cJSON_DeleteItemFromObjectCaseSensitive(meta, "__cloned_from_bundle_id");
    cJSON_AddStringToObject(meta, "__cloned_from_bundle_id", orig_id->valuestring);
    if (new_config != NULL && cJSON_GetArraySize(new_config) > 0) {
        flavor = cJSON_GetObjectItemCaseSensitive(doc, "flavor");
        cJSON_ReplaceItemInObjectCaseSensitive(cJSON_GetObjectItemCaseSensitive(doc, "legacy"),
                                               "app_config", cJSON_Duplicate(new_config, true));
        if (is_artifact(str_or_null(flavor, "flavor"))) {
            cJSON_DeleteItemFromObjectCaseSensitive(flavor, "app_config");
            cJSON_AddItemToObject(flavor, "app_config", cJSON_Duplicate(new_config, true));
        }
    }
    name = strdup(str_or_null(doc, "name"));
    if (name == NULL) {
        cJSON_Delete(doc);
        srv_resp_detail(r, 500, "out of memory");
        return;
    }
    store_new(r, doc, name);
    free(name);
}

void
srv_h_bundle_clone_v1(struct srv_req *r)
{
    clone(r);
}

void
srv_h_bundle_clone_v2(struct srv_req *r)
{
    clone(r);
}

static void
list(struct srv_req *r, enum view view)
{
    const char *name = srv_req_query(r, "model_name");
    const char *order_text = srv_req_query(r, "order_by");
    enum srv_order order = SRV_ORDER_NONE;
    struct lf_err err = { 0 };
    cJSON *docs = NULL, *out, *arr;
    const cJSON *doc;

    if (order_text != NULL) {
        struct srv_valid v;
        cJSON *q = cJSON_CreateObject();

        cJSON_AddStringToObject(q, "order_by", order_text);
        srv_valid_init(&v, "query");
        srv_valid_enum(&v, q, "order_by", orders, false);
        cJSON_Delete(q);
        if (!srv_valid_ok(&v)) {
            srv_valid_respond(&v, r);
            return;
        }
        order = strcmp(order_text, "newest") == 0 ? SRV_ORDER_NEWEST : SRV_ORDER_OLDEST;
    }
    if (srv_store_bundle_list(r->srv->store, r->owner, name, order, &docs, &err) != LF_OK) {
        srv_resp_err(r, &err);
        return;
    }
    out = cJSON_CreateObject();
    arr = cJSON_AddArrayToObject(out, "model_bundles");
    cJSON_ArrayForEach(doc, docs)
        cJSON_AddItemToArray(arr, bundle_view(doc, view));
    cJSON_Delete(docs);
    srv_resp_json(r, 200, out);
}

void
srv_h_bundle_list_v1(struct srv_req *r)
{
    list(r, VIEW_V1);
}

void
srv_h_bundle_list_v2(struct srv_req *r)
{
    list(r, VIEW_V2);
}

/* Answers one bundle found by latest name (by_name) or by id. */
static void
get_one(struct srv_req *r, enum view view, bool by_name)
{
    const char *key = by_name ? srv_req_query(r, "model_name") : r->params[0];
    struct lf_err err = { 0 };
    cJSON *doc = NULL;
    int rc;

    if (key == NULL) {
        struct srv_valid v;

        srv_valid_init(&v, "query");
        srv_valid_fail(&v, "model_name", "field required", "value_error.missing");
        srv_valid_respond(&v, r);
        return;
    }
    rc = by_name ? srv_store_bundle_latest(r->srv->store, r->owner, key, &doc, &err)
                 : srv_store_bundle_get(r->srv->store, r->owner, key, &doc, &err);
    if (rc == LF_ENOENT) {
        srv_resp_detail(r, 404, "Model Bundle %s  was not found.", key);
        return;
    }
    if (rc != LF_OK) {
        srv_resp_err(r, &err);
        return;
    }
    srv_resp_json(r, 200, bundle_view(doc, view));
    cJSON_Delete(doc);
}

void
srv_h_bundle_latest_v1(struct srv_req *r)
{
    get_one(r, VIEW_V1, true);
}

void
srv_h_bundle_latest_v2(struct srv_req *r)
{
    get_one(r, VIEW_V2, true);
}

void
srv_h_bundle_get_v1(struct srv_req *r)
{
    get_one(r, VIEW_V1, false);
}

void
srv_h_bundle_get_v2(struct srv_req *r)
{
    get_one(r, VIEW_V2, false);
}
