/* The endpoints' API reference (spec 2.4): an OpenAPI 3.0.2 document built
 * from the caller's endpoints and the JSON schemas uploaded with their
 * bundles, and an HTML page that renders it with inline script only (no
 * external asset, so it works on a machine without internet access). */
#include "srv_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lf_buf.h"
#include "lf_file.h"

#define SCHEMA_FILE_MAX_BYTES (4 * 1024 * 1024)
#define HTML_MAX_BYTES (64 * 1024 * 1024)
#define REF_PREFIX "#/components/schemas/"

/* Rewrites every "$ref": "#/components/schemas/X" below node to point at
 * "<prefix>-X", the name the schema gets in the combined document. */
static void
prefix_refs(cJSON *node, const char *prefix)
{
    cJSON *child;

    cJSON_ArrayForEach(child, node) {
        if (cJSON_IsString(child) && child->string != NULL && strcmp(child->string, "$ref") == 0 &&
            strncmp(child->valuestring, REF_PREFIX, strlen(REF_PREFIX)) == 0) {
            char ref[1024];

            snprintf(ref, sizeof(ref), REF_PREFIX "%s-%s", prefix,
                     child->valuestring + strlen(REF_PREFIX));
            cJSON_SetValuestring(child, ref);
        } else if (cJSON_IsObject(child) || cJSON_IsArray(child)) {
            prefix_refs(child, prefix);
        }
    }
}

/* The uploaded schema object of a bundle, or NULL when it has none or it
 * cannot be read. */
static cJSON *
load_bundle_schema(struct srv_req *r, const char *bundle_id)
{
    struct lf_err err = { 0 };
    cJSON *bundle = NULL, *schema = NULL;
    const char *loc;
    char path[PATH_MAX], *text = NULL;

    if (srv_store_bundle_get(r->srv->store, r->owner, bundle_id, &bundle, &err) != LF_OK)
        return NULL;
    loc = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(bundle, "schema_location"));
    if (loc != NULL && bl_location_resolve(&r->srv->bl, loc, path, sizeof(path), &err) == LF_OK &&
        lf_file_read(path, SCHEMA_FILE_MAX_BYTES, &text, NULL, &err) == LF_OK)
        schema = cJSON_Parse(text);
    free(text);
    cJSON_Delete(bundle);
    if (!cJSON_IsObject(schema)) {
        cJSON_Delete(schema);
        return NULL;
    }
    return schema;
}

static cJSON *
ref(const char *name, const char *what)
{
    char buf[512];
    cJSON *obj = cJSON_CreateObject();

    snprintf(buf, sizeof(buf), REF_PREFIX "%s-%s", name, what);
    cJSON_AddStringToObject(obj, "$ref", buf);
    return obj;
}

static cJSON *
object_schema(const char *title)
{
    cJSON *obj = cJSON_CreateObject();

    cJSON_AddStringToObject(obj, "title", title);
    cJSON_AddStringToObject(obj, "type", "object");
    return obj;
}

static void
add_typed(cJSON *props, const char *key, const char *type)
{
    cJSON_AddStringToObject(cJSON_AddObjectToObject(props, key), "type", type);
}

/* Adds the schemas and the path of one endpoint to the document. */
static void
add_endpoint(struct srv_req *r, cJSON *paths, cJSON *schemas, const struct srv_ep_rec *rec)
{
    const cJSON *doc = rec->doc;
    const char *type = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(doc,
                                                                             "endpoint_type"));
    const char *bundle_id = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(doc,
                                                                                  "model_bundle_id"));
    bool sync = type != NULL && strcmp(type, "sync") == 0;
    const char *name = rec->name;
    cJSON *schema = bundle_id ? load_bundle_schema(r, bundle_id) : NULL, *item, *props, *s;
    cJSON *post, *media;
    char key[1024];

    if (schema == NULL) {
        schema = cJSON_CreateObject();
        cJSON_AddItemToObject(schema, "RequestSchema", object_schema("RequestSchema"));
        cJSON_AddItemToObject(schema, "ResponseSchema", cJSON_CreateObject());
    }
    prefix_refs(schema, name);
    while ((item = schema->child) != NULL) {
        cJSON_DetachItemViaPointer(schema, item);
        snprintf(key, sizeof(key), "%s-%s", name, item->string);
        cJSON_AddItemToObject(schemas, key, item);
    }
    cJSON_Delete(schema);

    s = object_schema("EndpointPredictRequest");
    props = cJSON_AddObjectToObject(s, "properties");
    add_typed(props, "url", "string");
    cJSON_AddItemToObject(props, "args", ref(name, "RequestSchema"));
    add_typed(props, "return_pickled", "boolean");
    add_typed(props, "callback_url", "string");
    snprintf(key, sizeof(key), "%s-EndpointPredictRequest", name);
    cJSON_AddItemToObject(schemas, key, s);

    s = object_schema(sync ? "SyncEndpointPredictResponse" : "GetAsyncTaskResponse");
    props = cJSON_AddObjectToObject(s, "properties");
    if (!sync)
        add_typed(props, "task_id", "string");
    add_typed(props, "status", "string");
    item = cJSON_AddObjectToObject(props, "result");
    cJSON_AddStringToObject(item, "type", "object");
    cJSON_AddItemToObject(cJSON_AddObjectToObject(item, "properties"), "result",
                          ref(name, "ResponseSchema"));
    add_typed(props, "traceback", "string");
    snprintf(key, sizeof(key), "%s-%s", name,
             sync ? "SyncEndpointPredictResponse" : "GetAsyncTaskResponse");
    cJSON_AddItemToObject(schemas, key, s);

    snprintf(key, sizeof(key), "/v1/%s-tasks?model_endpoint_id=%s", sync ? "sync" : "async",
             rec->id);
    post = cJSON_AddObjectToObject(cJSON_AddObjectToObject(paths, key), "post");
    cJSON_AddStringToObject(post, "summary", name);
    cJSON_AddStringToObject(post, "operationId", name);
    media = cJSON_AddObjectToObject(cJSON_AddObjectToObject(
        cJSON_AddObjectToObject(post, "requestBody"), "content"), "application/json");
    cJSON_AddItemToObject(media, "schema", ref(name, "EndpointPredictRequest"));
    cJSON_AddBoolToObject(cJSON_GetObjectItem(post, "requestBody"), "required", 1);
    item = cJSON_AddObjectToObject(cJSON_AddObjectToObject(post, "responses"), "200");
    cJSON_AddStringToObject(item, "description", "Successful Response");
    media = cJSON_AddObjectToObject(cJSON_AddObjectToObject(item, "content"), "application/json");
    snprintf(key, sizeof(key), "%s", sync ? "SyncEndpointPredictResponse"
                                          : "GetAsyncTaskResponse");
    cJSON_AddItemToObject(media, "schema", ref(name, key));
}

/* Builds the OpenAPI document of r's endpoints; answers and returns NULL on
 * a store error. */
static cJSON *
build_spec(struct srv_req *r)
{
    struct srv_ep_rec *recs = NULL;
    size_t n = 0;
    struct lf_err err = { 0 };
    cJSON *spec, *info, *paths, *schemas;

    if (srv_store_ep_list(r->srv->store, r->owner, NULL, SRV_ORDER_ALPHA, &recs, &n, &err) !=
        LF_OK) {
        srv_resp_err(r, &err);
        return NULL;
    }
    spec = cJSON_CreateObject();
    cJSON_AddStringToObject(spec, "openapi", "3.0.2");
    info = cJSON_AddObjectToObject(spec, "info");
    cJSON_AddStringToObject(info, "title", "Launch Endpoints API Reference");
    cJSON_AddStringToObject(info, "version", "1.0.0");
    paths = cJSON_AddObjectToObject(spec, "paths");
    schemas = cJSON_AddObjectToObject(cJSON_AddObjectToObject(spec, "components"), "schemas");
    for (size_t i = 0; i < n; i++)
        add_endpoint(r, paths, schemas, &recs[i]);
    srv_ep_recs_free(recs, n);
    return spec;
}

void
srv_h_schema_json(struct srv_req *r)
{
    cJSON *spec = build_spec(r);

    if (spec != NULL)
        srv_resp_json(r, 200, spec);
}

static const char html_head[] =
    "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
    "<title>Launch Endpoints API Reference</title><style>"
    "body{font-family:system-ui,sans-serif;margin:2em auto;max-width:60em;padding:0 1em}"
    "h2{border-bottom:1px solid #ccc}code,pre{background:#f4f4f4;padding:.2em .4em}"
    "pre{overflow:auto;padding:1em}.m{font-weight:bold;color:#fff;background:#2a7;"
    "padding:.1em .5em;border-radius:3px}</style></head><body>"
    "<h1>Launch Endpoints API Reference</h1>"
    "<p>Machine-readable: <a href=\"/v1/model-endpoints-schema.json\">"
    "/v1/model-endpoints-schema.json</a></p><div id=\"doc\"></div>"
    "<script id=\"spec\" type=\"application/json\">";

static const char html_tail[] =
    "</script><script>\n"
    "(function(){var spec=JSON.parse(document.getElementById('spec').textContent);\n"
    "var doc=document.getElementById('doc'),sch=(spec.components||{}).schemas||{};\n"
    "function el(t,txt){var e=document.createElement(t);if(txt!==undefined)"
    "e.textContent=txt;doc.appendChild(e);return e;}\n"
    "function deref(s){if(s&&s.$ref){return sch[s.$ref.split('/').pop()]||s;}return s;}\n"
    "var paths=Object.keys(spec.paths||{});\n"
    "if(paths.length===0){el('p','You have no endpoints yet.');}\n"
    "paths.forEach(function(p){var op=spec.paths[p].post;el('h2',op.summary);\n"
    "var h=el('p');var m=document.createElement('span');m.className='m';"
    "m.textContent='POST';h.appendChild(m);h.appendChild(document.createTextNode(' '+p));\n"
    "var req=deref(op.requestBody.content['application/json'].schema);\n"
    "el('h3','Request');el('pre',JSON.stringify(req,null,2));\n"
    "if(req&&req.properties&&req.properties.args){el('h4','args');"
    "el('pre',JSON.stringify(deref(req.properties.args),null,2));}\n"
    "var res=deref(op.responses['200'].content['application/json'].schema);\n"
    "el('h3','Response');el('pre',JSON.stringify(res,null,2));\n"
    "if(res&&res.properties&&res.properties.result&&res.properties.result.properties){"
    "el('h4','result (a JSON string of)');el('pre',JSON.stringify("
    "deref(res.properties.result.properties.result),null,2));}});})();\n"
    "</script></body></html>\n";

void
srv_h_schema_html(struct srv_req *r)
{
    cJSON *spec = build_spec(r);
    char *json;
    struct lf_buf b;
    size_t len;

    if (spec == NULL)
        return;
    json = cJSON_PrintUnformatted(spec);
    cJSON_Delete(spec);
    if (json == NULL) {
        srv_resp_detail(r, 500, "out of memory");
        return;
    }
    lf_buf_init(&b, HTML_MAX_BYTES);
    lf_buf_adds(&b, html_head);
    /* "<" only occurs inside JSON strings, where \u003c means the same and
     * cannot close the script element. */
    for (const char *p = json; *p != '\0'; p++) {
        if (*p == '<')
            lf_buf_adds(&b, "\\u003c");
        else
            lf_buf_add(&b, p, 1);
    }
    cJSON_free(json);
    if (lf_buf_adds(&b, html_tail) != LF_OK) {
        lf_buf_release(&b);
        srv_resp_detail(r, 500, "API page too large");
        return;
    }
    json = lf_buf_detach(&b, &len);
    srv_resp_raw(r, 200, "text/html; charset=utf-8", json, len);
    free(json);
}
