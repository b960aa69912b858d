/* JSON helpers shared by the unit tests of server/. */
#ifndef UNIT_JSON_H
#define UNIT_JSON_H

#include <check.h>
#include <cjson/cJSON.h>

/* Parses test JSON, failing the test if it is malformed. Caller deletes. */
static inline cJSON *
doc_of(const char *json)
{
    cJSON *d = cJSON_Parse(json);

    ck_assert_msg(d != NULL, "bad test JSON %s", json);
    return d;
}

/* The string field key of obj (borrowed), or "". */
static inline const char *
str_of(const cJSON *obj, const char *key)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);

    return cJSON_IsString(item) ? item->valuestring : "";
}

#endif
