/* Delivery of one callback (spec section 7): a single blocking POST of a
 * JSON body to a client's http(s) URL, with the client's chosen auth and
 * nothing else of ours (no API key, no cookies, no redirects). Retries,
 * backoff and the choice of URL and auth belong to the caller. */
#ifndef SRV_CALLBACK_POST_H
#define SRV_CALLBACK_POST_H

#include <cjson/cJSON.h>

#include "lf_err.h"

/* How a callback authenticates: none, HTTP Basic, or mutual TLS with a PEM
 * certificate and key given as text. The strings are borrowed (see
 * srv_cb_auth_from_json); a struct zeroed with {0} means "none". */
struct srv_cb_auth {
    enum { SRV_CB_AUTH_NONE, SRV_CB_AUTH_BASIC, SRV_CB_AUTH_MTLS } kind;
    const char *username, *password; /* BASIC: both non-NULL ("" allowed) */
    const char *cert_pem, *key_pem;  /* MTLS: both non-NULL, PEM text */
};

/* Parses a stored CallbackAuth object into *out:
 *   {"kind":"basic","username":U,"password":P}  -> SRV_CB_AUTH_BASIC
 *   {"kind":"mtls","cert":C,"key":K}             -> SRV_CB_AUTH_MTLS
 *   NULL or JSON null                            -> SRV_CB_AUTH_NONE
 * Other members are ignored. The strings in *out are borrowed from obj and
 * valid until obj is deleted. *out is zeroed first, also on error.
 * Errors: LF_EINVAL (not an object, unknown kind, a required member missing
 * or not a string); the message names the member. */
int srv_cb_auth_from_json(const cJSON *obj, struct srv_cb_auth *out, struct lf_err *err);

/* POSTs body (NUL-terminated JSON text, borrowed) to url with
 * "Content-Type: application/json" and the given auth (NULL = none):
 *   BASIC: an "Authorization: Basic base64(username:password)" header, sent
 *          with the first request;
 *   MTLS:  cert_pem and key_pem presented as the TLS client certificate
 *          (from memory: no files are written); url must be https.
 * url must be http:// or https://; redirects are not followed (a 3xx is
 * just a status). https servers are verified (peer and host name) against
 * ca_file when it is non-NULL and non-empty, otherwise against the system
 * store. The whole exchange is bounded by timeout_ms (> 0). The response
 * body is read and discarded. No cookies, .netrc or credentials of ours are
 * used; a user:password@ written in url itself is sent as Basic when auth is
 * none or mtls (BASIC auth replaces it). Proxies from the usual environment
 * variables are honoured, as in bl_fetch_url.
 *
 * *status gets the HTTP status of the answer, or 0 when the call fails.
 * Returns LF_OK whenever an answer arrived, whatever its status: deciding
 * that only 2xx is success is the caller's job. Errors:
 *   LF_EINVAL  url malformed or not http(s); auth incomplete; mtls over
 *              http; timeout_ms <= 0; the PEM certificate or key cannot be
 *              used (retrying would not help);
 *   LF_EIO     no answer: cannot connect, TLS or verification failure,
 *              timeout, connection closed; the message names the URL (with
 *              any user:password@ part left out) and curl's reason;
 *   LF_ENOMEM.
 * Blocks the calling thread. Thread-safe: each call has its own curl easy
 * handle and installs no signal handlers; curl_global_init must have been
 * called once at program start (bl_global_init does it). */
int srv_callback_post(const char *url, const char *body, const struct srv_cb_auth *auth,
                      const char *ca_file, long timeout_ms, long *status, struct lf_err *err);

#endif
