/* Settings of the server: defaults, a JSON config file, environment
 * variables and command-line flags, applied in that order (a later source
 * wins). Every setting has one row in the table in cfg.c that names its
 * flag, variable and config key, so the three sources cannot drift apart. */
#ifndef CFG_H
#define CFG_H

#include <limits.h>
#include <stdint.h>

#include "lf_err.h"
#include "lf_log.h"

#define CFG_HOST_BYTES 256
#define CFG_URL_BYTES 512

struct cfg {
    char config_file[PATH_MAX];  /* --config / LIFTOFF_CONFIG; "" = none */
    char host[CFG_HOST_BYTES];   /* address to listen on */
    int port;                    /* 0 picks a free port */
    char data_dir[PATH_MAX];     /* store, artifacts and caches live here */
    char api_keys_file[PATH_MAX]; /* "" = open mode */
    char public_url[CFG_URL_BYTES]; /* base of signed upload URLs; "" = from host and port */
    uint64_t max_body_bytes;     /* JSON API request bodies */
    uint64_t max_upload_bytes;   /* uploaded and downloaded artifacts */
    enum lf_log_level log_level;
    int http_threads;            /* libmicrohttpd worker threads */
    int download_timeout_s;      /* http(s) artifact downloads */
    int shutdown_timeout_s;      /* how long SIGTERM waits for in-flight requests */
    int upload_token_ttl_s;      /* how long a signed upload URL stays valid */
    int sync_timeout_s;          /* a sync request waits and runs at most this long */
    int queue_max;               /* requests waiting per endpoint before 429 */
    int scale_down_idle_s;       /* an idle worker above min_workers stops after this */
    int worker_start_timeout_s;  /* loading a bundle may take this long */
    int zygote;                  /* 1: fork workers from a zygote when the bundle allows */
    int task_expiry_s;           /* an async task not started by then ends FAILURE */
    int task_timeout_s;          /* an async task running longer ends FAILURE */
    int task_retries;            /* reruns of an async task whose worker died */
    int task_result_ttl_s;       /* ended async tasks are purged after this */
    uint64_t async_backlog_max_bytes; /* request bytes of unfinished async tasks before 429 */
    char callback_ca_file[PATH_MAX]; /* CA bundle for https callbacks; "" = system */
    int callback_timeout_s;      /* one callback attempt */
    int callback_threads;        /* callback deliveries in flight at once */
};

/* Fills c with the built-in defaults. */
void cfg_defaults(struct cfg *c);

/* Builds the settings from defaults, the config file (--config or
 * LIFTOFF_CONFIG), the environment (LIFTOFF_*) and the flags in argv[0..argc)
 * (the options after "serve"; "--name value" or "--name=value"), then
 * validates them. Errors: LF_ECONFIG, with a message that names the setting
 * as the user wrote it (flag, variable or config key) and the reason. */
int cfg_load(struct cfg *c, int argc, char **argv, struct lf_err *err);

/* Sets one setting by its config-file key from text; source names where the
 * value came from, for the error message. Errors: LF_ECONFIG. */
int cfg_set(struct cfg *c, const char *key, const char *value, const char *source,
            struct lf_err *err);

/* Checks the settings as a whole (called by cfg_load). Errors: LF_ECONFIG. */
int cfg_validate(const struct cfg *c, struct lf_err *err);

/* Parses a byte size: "1024", "16MiB", "16M", "20GiB", "512k" (k/M/G/T are
 * powers of 1024 with or without "i" and "B"). Returns 0, or -1. */
int cfg_parse_size(const char *text, uint64_t *out);

/* Writes the usage text for "liftoff serve" to f (a FILE *). */
void cfg_usage(void *f);

#endif
