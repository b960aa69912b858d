/* One callback POST with libcurl (spec section 7). The request carries the
 * body, its Content-Type and the client's own auth, and nothing of ours:
 * the reference servers fell back to Basic with the creator's API key,
 * which leaked it to whatever URL a caller named. */
#include "srv_callback_post.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>

#include <curl/curl.h>

/* Parses url and checks that it is http(s). *is_https tells which; shown
 * gets a form of the URL fit for messages, without any user:password@. */
static int
check_url(const char *url, CURLU *u, int *is_https, char *shown, size_t cap,
          struct lf_err *err)
{
    CURLU *clean = NULL;
    char *scheme = NULL, *text = NULL;
    int rc = LF_OK;

    /* An unparsable URL is named only when it cannot hold a password. */
    snprintf(shown, cap, "%s", strchr(url, '@') == NULL ? url : "(url with credentials)");
    if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK) {
        rc = lf_err_set(err, LF_EINVAL, "invalid callback url '%s'", shown);
        goto out;
    }
    clean = curl_url_dup(u);
    if (clean == NULL) {
        rc = lf_err_set(err, LF_ENOMEM, "out of memory");
        goto out;
    }
    if (curl_url_set(clean, CURLUPART_USER, NULL, 0) == CURLUE_OK &&
        curl_url_set(clean, CURLUPART_PASSWORD, NULL, 0) == CURLUE_OK &&
        curl_url_get(clean, CURLUPART_URL, &text, 0) == CURLUE_OK)
        snprintf(shown, cap, "%s", text);
    /* curl hands the scheme back in lower case. */
    *is_https = strcmp(scheme, "https") == 0;
    if (!*is_https && strcmp(scheme, "http") != 0)
        rc = lf_err_set(err, LF_EINVAL, "invalid callback url '%s': not http or https", shown);
out:
    curl_free(text);
    curl_free(scheme);
    curl_url_cleanup(clean);
    return rc;
}

static int
check_auth(const struct srv_cb_auth *auth, int is_https, const char *shown,
           struct lf_err *err)
{
    switch (auth->kind) {
    case SRV_CB_AUTH_NONE:
        return LF_OK;
    case SRV_CB_AUTH_BASIC:
        if (auth->username == NULL || auth->password == NULL)
            return lf_err_set(err, LF_EINVAL, "basic callback auth needs a username and a password");
        return LF_OK;
    case SRV_CB_AUTH_MTLS:
        if (auth->cert_pem == NULL || auth->key_pem == NULL)
            return lf_err_set(err, LF_EINVAL, "mtls callback auth needs a cert and a key");
        /* Over plain http the certificate would silently not be sent. */
        if (!is_https)
            return lf_err_set(err, LF_EINVAL, "mtls callback auth needs an https url, not '%s'",
                              shown);
        return LF_OK;
    }
    return lf_err_set(err, LF_EINVAL, "unknown callback auth kind %d", (int)auth->kind);
}

/* The answer's body is not ours to keep; without a write function curl
 * would copy it to stdout. */
static size_t
discard(char *p, size_t size, size_t nmemb, void *user)
{
    (void)p;
    (void)user;
    return size * nmemb;
}

static void
set_auth(CURL *curl, const struct srv_cb_auth *auth)
{
    /* The blobs are copied by curl, so they need not outlive setopt. */
    struct curl_blob cert = { 0 }, key = { 0 };

    if (auth->kind == SRV_CB_AUTH_BASIC) {
        /* USERNAME and PASSWORD rather than USERPWD: a ':' in the user name
         * must not split it. Basic only, so it goes with the first request. */
        curl_easy_setopt(curl, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        curl_easy_setopt(curl, CURLOPT_USERNAME, auth->username);
        curl_easy_setopt(curl, CURLOPT_PASSWORD, auth->password);
    } else if (auth->kind == SRV_CB_AUTH_MTLS) {
        cert = (struct curl_blob){ (void *)auth->cert_pem, strlen(auth->cert_pem),
                                   CURL_BLOB_COPY };
        key = (struct curl_blob){ (void *)auth->key_pem, strlen(auth->key_pem),
                                  CURL_BLOB_COPY };
        curl_easy_setopt(curl, CURLOPT_SSLCERT_BLOB, &cert);
        curl_easy_setopt(curl, CURLOPT_SSLCERTTYPE, "PEM");
        curl_easy_setopt(curl, CURLOPT_SSLKEY_BLOB, &key);
        curl_easy_setopt(curl, CURLOPT_SSLKEYTYPE, "PEM");
    }
}

int
srv_callback_post(const char *url, const char *body, const struct srv_cb_auth *auth,
                  const char *ca_file, long timeout_ms, long *status, struct lf_err *err)
{
    static const struct srv_cb_auth no_auth = { 0 };
    char shown[LF_ERR_MSG_BYTES], why[CURL_ERROR_SIZE] = "";
    struct curl_slist *headers = NULL, *h;
    CURLU *u = NULL;
    CURL *curl = NULL;
    CURLcode cc;
    int is_https = 0, rc;

    assert(url != NULL && body != NULL && status != NULL);
    *status = 0;
    if (auth == NULL)
        auth = &no_auth;
    u = curl_url();
    if (u == NULL)
        return lf_err_set(err, LF_ENOMEM, "out of memory");
    rc = check_url(url, u, &is_https, shown, sizeof(shown), err);
    if (rc != LF_OK)
        goto out;
    rc = check_auth(auth, is_https, shown, err);
    if (rc != LF_OK)
        goto out;
    if (timeout_ms <= 0) {
        rc = lf_err_set(err, LF_EINVAL, "callback timeout must be positive, not %ld ms",
                        timeout_ms);
        goto out;
    }
    /* "Expect:" stops curl from waiting for a 100 Continue on bodies over
     * 1 KiB, which many small receivers never send. */
    headers = curl_slist_append(NULL, "Content-Type: application/json");
    h = headers != NULL ? curl_slist_append(headers, "Expect:") : NULL;
    curl = h != NULL ? curl_easy_init() : NULL;
    if (h == NULL || curl == NULL) {
        rc = lf_err_set(err, LF_ENOMEM, "out of memory");
        goto out;
    }

    curl_easy_setopt(curl, CURLOPT_CURLU, u);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, why);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 2L);
    if (ca_file != NULL && ca_file[0] != '\0') {
        /* Only ca_file: Debian's libcurl would otherwise also search the
         * built-in CA directory (/etc/ssl/certs) next to it. */
        curl_easy_setopt(curl, CURLOPT_CAINFO, ca_file);
        curl_easy_setopt(curl, CURLOPT_CAPATH, NULL);
    }
    set_auth(curl, auth);

    cc = curl_easy_perform(curl);
    if (cc == CURLE_OK) {
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, status);
        goto out;
    }
    /* A certificate or key that OpenSSL will not load fails every try. */
    rc = lf_err_set(err, cc == CURLE_SSL_CERTPROBLEM ? LF_EINVAL : LF_EIO,
                    "cannot post callback to '%s': %s", shown,
                    why[0] != '\0' ? why : curl_easy_strerror(cc));
out:
    curl_easy_cleanup(curl);
    curl_slist_free_all(headers);
    curl_url_cleanup(u);
    return rc;
}

int
srv_cb_auth_from_json(const cJSON *obj, struct srv_cb_auth *out, struct lf_err *err)
{
    static const struct {
        const char *name, *first, *second;
        int kind;
    } kinds[] = {
        { "basic", "username", "password", SRV_CB_AUTH_BASIC },
        { "mtls", "cert", "key", SRV_CB_AUTH_MTLS },
    };
    const cJSON *kind, *a, *b;

    memset(out, 0, sizeof(*out));
    if (obj == NULL || cJSON_IsNull(obj))
        return LF_OK;
    if (!cJSON_IsObject(obj))
        return lf_err_set(err, LF_EINVAL, "callback_auth must be an object");
    kind = cJSON_GetObjectItemCaseSensitive(obj, "kind");
    if (!cJSON_IsString(kind))
        return lf_err_set(err, LF_EINVAL, "callback_auth.kind must be a string");
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        if (strcmp(kind->valuestring, kinds[i].name) != 0)
            continue;
        a = cJSON_GetObjectItemCaseSensitive(obj, kinds[i].first);
        b = cJSON_GetObjectItemCaseSensitive(obj, kinds[i].second);
        if (!cJSON_IsString(a) || !cJSON_IsString(b))
            return lf_err_set(err, LF_EINVAL, "callback_auth.%s must be a string",
                              cJSON_IsString(a) ? kinds[i].second : kinds[i].first);
        out->kind = kinds[i].kind;
        if (out->kind == SRV_CB_AUTH_BASIC) {
            out->username = a->valuestring;
            out->password = b->valuestring;
        } else {
            out->cert_pem = a->valuestring;
            out->key_pem = b->valuestring;
        }
        return LF_OK;
    }
    return lf_err_set(err, LF_EINVAL, "callback_auth.kind must be 'basic' or 'mtls', not '%s'",
                      kind->valuestring);
}
