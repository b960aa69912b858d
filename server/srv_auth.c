/* Authentication (spec section 1): HTTP Basic with the API key as the user
 * name (the password is ignored), or a Bearer token used the same way. In
 * open mode any non-empty key is its own owner; with a key file only the
 * keys listed there are let in. */
#include "srv_int.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lf_file.h"
#include "lf_util.h"

#define KEYS_FILE_MAX_BYTES (4 * 1024 * 1024)

struct srv_auth {
    char **keys;   /* NULL in open mode */
    size_t n_keys;
};

static void
free_keys(struct srv_auth *a)
{
    for (size_t i = 0; i < a->n_keys; i++)
        free(a->keys[i]);
    free(a->keys);
}

int
srv_auth_new(const char *keys_file, struct srv_auth **out, struct lf_err *err)
{
    struct srv_auth *a = calloc(1, sizeof(*a));
    char *text = NULL, *save = NULL;
    int rc;

    if (a == NULL)
        return lf_err_set(err, LF_ENOMEM, "out of memory");
    if (keys_file[0] == '\0') {
        *out = a;
        return LF_OK;
    }
    rc = lf_file_read(keys_file, KEYS_FILE_MAX_BYTES, &text, NULL, err);
    if (rc != LF_OK) {
        char why[LF_ERR_MSG_BYTES];

        snprintf(why, sizeof(why), "%s", err->msg);
        lf_err_set(err, LF_ECONFIG, "invalid api_keys '%s': %s", keys_file, why);
        free(a);
        return LF_ECONFIG;
    }
    a->keys = calloc(strlen(text) / 2 + 1, sizeof(char *));
    for (char *line = strtok_r(text, "\n", &save); a->keys && line;
         line = strtok_r(NULL, "\n", &save)) {
        char *end;

        while (isspace((unsigned char)*line))
            line++;
        end = line + strlen(line);
        while (end > line && isspace((unsigned char)end[-1]))
            *--end = '\0';
        if (*line == '\0' || *line == '#')
            continue;
        if (strlen(line) >= SRV_OWNER_BYTES || strchr(line, ':') != NULL) {
            rc = lf_err_set(err, LF_ECONFIG,
                            "invalid api_keys '%s': a key is longer than %d characters or "
                            "has a ':'", keys_file, SRV_OWNER_BYTES - 1);
            break;
        }
        a->keys[a->n_keys] = strdup(line);
        if (a->keys[a->n_keys] == NULL)
            break;
        a->n_keys++;
    }
    free(text);
    if (rc == LF_OK && (a->keys == NULL || a->n_keys == 0))
        rc = lf_err_set(err, LF_ECONFIG, "invalid api_keys '%s': no keys in the file", keys_file);
    if (rc != LF_OK) {
        free_keys(a);
        free(a);
        return rc;
    }
    *out = a;
    return LF_OK;
}

void
srv_auth_free(struct srv_auth *a)
{
    if (a == NULL)
        return;
    free_keys(a);
    free(a);
}

static bool
deny(struct srv_req *r, const char *detail)
{
    srv_resp_detail(r, 401, "%s", detail);
    r->resp.www_authenticate = "Basic";
    return false;
}

/* Keys are printable ASCII, as the reference (which decodes credentials
 * as ASCII) requires; other bytes could not be echoed back as JSON text. */
static bool
key_printable(const char *key)
{
    for (; *key != '\0'; key++)
        if ((unsigned char)*key < 0x20 || (unsigned char)*key >= 0x7f)
            return false;
    return true;
}

static bool
key_allowed(const struct srv_auth *a, const char *key)
{
    if (a->keys == NULL)
        return true;
    for (size_t i = 0; i < a->n_keys; i++) {
        if (strcmp(a->keys[i], key) == 0)
            return true;
    }
    return false;
}

bool
srv_auth_check(struct srv_auth *a, struct srv_req *r)
{
    const char *h = srv_req_header(r, "Authorization");
    char *decoded = NULL, *colon;
    size_t len = 0;
    bool ok;

    if (h == NULL)
        return deny(r, "No authentication was passed in");
    while (*h == ' ')
        h++;
    if (strncasecmp(h, "Bearer ", 7) == 0) {
        h += 7;
        while (*h == ' ')
            h++;
        if (!key_printable(h))
            return deny(r, "Invalid authentication credentials");
        if (*h == '\0' || strlen(h) >= SRV_OWNER_BYTES || !key_allowed(a, h))
            return deny(r, "Could not authenticate user");
        snprintf(r->owner, sizeof(r->owner), "%s", h);
        lf_fingerprint(r->owner, r->owner_fp);
        return true;
    }
    if (strncasecmp(h, "Basic ", 6) != 0)
        return deny(r, "No authentication was passed in");
    h += 6;
    while (*h == ' ')
        h++;
    if (lf_base64_decode(h, strlen(h), &decoded, &len) != 0)
        return deny(r, "Invalid authentication credentials");
    colon = memchr(decoded, ':', len);
    if (colon == NULL || strlen(decoded) != len) {
        free(decoded);
        return deny(r, "Invalid authentication credentials");
    }
    *colon = '\0';
    if (!key_printable(decoded)) {
        free(decoded);
        return deny(r, "Invalid authentication credentials");
    }
    ok = decoded[0] != '\0' && strlen(decoded) < SRV_OWNER_BYTES && key_allowed(a, decoded);
    if (ok) {
        snprintf(r->owner, sizeof(r->owner), "%s", decoded);
        lf_fingerprint(r->owner, r->owner_fp);
    }
    free(decoded);
    return ok ? true : deny(r, "Could not authenticate user");
}
