/* Settings: one table row per setting; every source goes through cfg_set. */
#include "cfg.h"

#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "lf_file.h"
#include "lf_util.h"

#define CFG_FILE_MAX_BYTES (1024 * 1024)
#define MIB (1024ULL * 1024ULL)
#define GIB (1024ULL * MIB)
#define DEFAULT_PORT 5000
#define DEFAULT_MAX_BODY_BYTES (16 * MIB)
#define DEFAULT_MAX_UPLOAD_BYTES (20 * GIB)
#define DEFAULT_HTTP_THREADS 2
#define MAX_HTTP_THREADS 256
#define DEFAULT_DOWNLOAD_TIMEOUT_S 600
#define DEFAULT_SHUTDOWN_TIMEOUT_S 30
#define DEFAULT_UPLOAD_TOKEN_TTL_S 3600
#define MAX_TIMEOUT_S (7 * 24 * 3600)
#define DEFAULT_SYNC_TIMEOUT_S 600
#define DEFAULT_QUEUE_MAX 1000
#define MAX_QUEUE_MAX 1000000
#define DEFAULT_SCALE_DOWN_IDLE_S 60
#define DEFAULT_WORKER_START_TIMEOUT_S 600
#define DEFAULT_TASK_EXPIRY_S 86400
#define DEFAULT_TASK_TIMEOUT_S 3600
#define DEFAULT_TASK_RETRIES 1
#define MAX_TASK_RETRIES 100
#define DEFAULT_TASK_RESULT_TTL_S 86400
#define DEFAULT_CALLBACK_TIMEOUT_S 10
#define DEFAULT_CALLBACK_THREADS 4
#define MAX_CALLBACK_THREADS 64
#define DEFAULT_ASYNC_BACKLOG_MAX_BYTES (1 * GIB)

enum kind { K_STRING, K_PATH, K_INT, K_SIZE, K_LEVEL, K_URL, K_BOOL };

struct setting {
    const char *key;   /* config-file key */
    const char *flag;  /* command-line flag */
    const char *env;   /* environment variable */
    enum kind kind;
    size_t offset;     /* where in struct cfg */
    size_t size;       /* bytes of a string field */
    int64_t min, max;  /* bounds of an integer */
    const char *help;
};

#define STR(field) offsetof(struct cfg, field), sizeof(((struct cfg *)0)->field)
#define NUM(field) offsetof(struct cfg, field), 0

static const struct setting settings[] = {
    { "host", "--host", "LIFTOFF_HOST", K_STRING, STR(host), 0, 0,
      "address to listen on (default 127.0.0.1)" },
    { "port", "--port", "LIFTOFF_PORT", K_INT, NUM(port), 0, 65535,
      "TCP port; 0 picks a free one (default 5000)" },
    { "data_dir", "--data-dir", "LIFTOFF_DATA_DIR", K_PATH, STR(data_dir), 0, 0,
      "store, artifacts and caches (default ./liftoff-data)" },
    { "api_keys", "--api-keys", "LIFTOFF_API_KEYS", K_PATH, STR(api_keys_file), 0, 0,
      "file of allowed API keys, one a line (default: open mode)" },
    { "public_url", "--public-url", "LIFTOFF_PUBLIC_URL", K_URL, STR(public_url), 0, 0,
      "base URL put into signed upload URLs (default http://HOST:PORT)" },
    { "max_body_bytes", "--max-body-bytes", "LIFTOFF_MAX_BODY_BYTES", K_SIZE,
      NUM(max_body_bytes), 1, 0, "largest JSON request body (default 16MiB)" },
    { "max_upload_bytes", "--max-upload-bytes", "LIFTOFF_MAX_UPLOAD_BYTES", K_SIZE,
      NUM(max_upload_bytes), 1, 0, "largest uploaded or downloaded artifact (default 20GiB)" },
    { "log_level", "--log-level", "LIFTOFF_LOG_LEVEL", K_LEVEL, NUM(log_level), 0, 0,
      "error, warn, info or debug (default info)" },
    { "http_threads", "--http-threads", "LIFTOFF_HTTP_THREADS", K_INT, NUM(http_threads), 1,
      MAX_HTTP_THREADS, "HTTP worker threads (default 2)" },
    { "download_timeout_s", "--download-timeout-s", "LIFTOFF_DOWNLOAD_TIMEOUT_S", K_INT,
      NUM(download_timeout_s), 1, MAX_TIMEOUT_S, "limit on one http(s) download (default 600)" },
    { "shutdown_timeout_s", "--shutdown-timeout-s", "LIFTOFF_SHUTDOWN_TIMEOUT_S", K_INT,
      NUM(shutdown_timeout_s), 0, MAX_TIMEOUT_S,
      "how long SIGTERM waits for in-flight requests (default 30)" },
    { "upload_token_ttl_s", "--upload-token-ttl-s", "LIFTOFF_UPLOAD_TOKEN_TTL_S", K_INT,
      NUM(upload_token_ttl_s), 1, MAX_TIMEOUT_S,
      "how long a signed upload URL stays valid (default 3600)" },
    { "sync_timeout_s", "--sync-timeout-s", "LIFTOFF_SYNC_TIMEOUT_S", K_INT,
      NUM(sync_timeout_s), 1, MAX_TIMEOUT_S,
      "a sync prediction waits and runs at most this long, then 408 (default 600)" },
    { "queue_max", "--queue-max", "LIFTOFF_QUEUE_MAX", K_INT, NUM(queue_max), 1,
      MAX_QUEUE_MAX, "requests waiting per endpoint before 429 (default 1000)" },
    { "scale_down_idle_s", "--scale-down-idle-s", "LIFTOFF_SCALE_DOWN_IDLE_S", K_INT,
      NUM(scale_down_idle_s), 0, MAX_TIMEOUT_S,
      "an idle worker above the needed count stops after this (default 60)" },
    { "worker_start_timeout_s", "--worker-start-timeout-s", "LIFTOFF_WORKER_START_TIMEOUT_S",
      K_INT, NUM(worker_start_timeout_s), 1, MAX_TIMEOUT_S,
      "loading a bundle may take this long (default 600)" },
    { "zygote", "--zygote", "LIFTOFF_ZYGOTE", K_BOOL, NUM(zygote), 0, 0,
      "true: fork workers from a process that loaded the bundle once (default true)" },
    { "task_expiry_s", "--task-expiry-s", "LIFTOFF_TASK_EXPIRY_S", K_INT, NUM(task_expiry_s),
      1, MAX_TIMEOUT_S, "an async task not started within this ends FAILURE (default 86400)" },
    { "task_timeout_s", "--task-timeout-s", "LIFTOFF_TASK_TIMEOUT_S", K_INT,
      NUM(task_timeout_s), 1, MAX_TIMEOUT_S,
      "an async task running longer ends FAILURE (default 3600)" },
    { "task_retries", "--task-retries", "LIFTOFF_TASK_RETRIES", K_INT, NUM(task_retries), 0,
      MAX_TASK_RETRIES, "reruns of an async task whose worker died (default 1)" },
    { "task_result_ttl_s", "--task-result-ttl-s", "LIFTOFF_TASK_RESULT_TTL_S", K_INT,
      NUM(task_result_ttl_s), 1, MAX_TIMEOUT_S,
      "ended async tasks are kept this long, then purged (default 86400)" },
    { "async_backlog_max_bytes", "--async-backlog-max-bytes", "LIFTOFF_ASYNC_BACKLOG_MAX_BYTES",
      K_SIZE, NUM(async_backlog_max_bytes), 1, 0,
      "request bytes of unfinished async tasks before 429 (default 1GiB)" },
    { "callback_ca_file", "--callback-ca-file", "LIFTOFF_CALLBACK_CA_FILE", K_PATH,
      STR(callback_ca_file), 0, 0, "CA bundle trusted for https callbacks (default: system)" },
    { "callback_timeout_s", "--callback-timeout-s", "LIFTOFF_CALLBACK_TIMEOUT_S", K_INT,
      NUM(callback_timeout_s), 1, 3600, "limit on one callback attempt (default 10)" },
    { "callback_threads", "--callback-threads", "LIFTOFF_CALLBACK_THREADS", K_INT,
      NUM(callback_threads), 1, MAX_CALLBACK_THREADS,
      "callbacks sent at once; a slow receiver holds one (default 4)" },
};

#define N_SETTINGS (sizeof(settings) / sizeof(settings[0]))

void
cfg_defaults(struct cfg *c)
{
    memset(c, 0, sizeof(*c));
    snprintf(c->host, sizeof(c->host), "127.0.0.1");
    c->port = DEFAULT_PORT;
    snprintf(c->data_dir, sizeof(c->data_dir), "./liftoff-data");
    c->max_body_bytes = DEFAULT_MAX_BODY_BYTES;
    c->max_upload_bytes = DEFAULT_MAX_UPLOAD_BYTES;
    c->log_level = LF_LOG_INFO;
    c->http_threads = DEFAULT_HTTP_THREADS;
    c->download_timeout_s = DEFAULT_DOWNLOAD_TIMEOUT_S;
    c->shutdown_timeout_s = DEFAULT_SHUTDOWN_TIMEOUT_S;
    c->upload_token_ttl_s = DEFAULT_UPLOAD_TOKEN_TTL_S;
    c->sync_timeout_s = DEFAULT_SYNC_TIMEOUT_S;
    c->queue_max = DEFAULT_QUEUE_MAX;
    c->scale_down_idle_s = DEFAULT_SCALE_DOWN_IDLE_S;
    c->worker_start_timeout_s = DEFAULT_WORKER_START_TIMEOUT_S;
    c->zygote = 1;
    c->task_expiry_s = DEFAULT_TASK_EXPIRY_S;
    c->task_timeout_s = DEFAULT_TASK_TIMEOUT_S;
    c->task_retries = DEFAULT_TASK_RETRIES;
    c->task_result_ttl_s = DEFAULT_TASK_RESULT_TTL_S;
    c->callback_timeout_s = DEFAULT_CALLBACK_TIMEOUT_S;
    c->callback_threads = DEFAULT_CALLBACK_THREADS;
    c->async_backlog_max_bytes = DEFAULT_ASYNC_BACKLOG_MAX_BYTES;
}

int
cfg_parse_size(const char *text, uint64_t *out)
{
    static const struct { const char *suffix; uint64_t mult; } units[] = {
        { "", 1 }, { "b", 1 },
        { "k", 1024 }, { "kb", 1024 }, { "kib", 1024 }, { "ki", 1024 },
        { "m", MIB }, { "mb", MIB }, { "mib", MIB }, { "mi", MIB },
        { "g", GIB }, { "gb", GIB }, { "gib", GIB }, { "gi", GIB },
        { "t", 1024 * GIB }, { "tb", 1024 * GIB }, { "tib", 1024 * GIB }, { "ti", 1024 * GIB },
    };
    unsigned long long v;
    char *end;

    if (text == NULL || !isdigit((unsigned char)text[0]))
        return -1;
    errno = 0;
    v = strtoull(text, &end, 10);
    if (errno == ERANGE)
        return -1;
    while (*end == ' ')
        end++;
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (strcasecmp(end, units[i].suffix) == 0) {
            if (v > UINT64_MAX / units[i].mult)
                return -1;
            *out = v * units[i].mult;
            return 0;
        }
    }
    return -1;
}

static const struct setting *
find_by(size_t field_offset, const char *name)
{
    for (size_t i = 0; i < N_SETTINGS; i++) {
        const char *field = *(const char *const *)((const char *)&settings[i] + field_offset);

        if (strcmp(field, name) == 0)
            return &settings[i];
    }
    return NULL;
}

static int
set_one(struct cfg *c, const struct setting *s, const char *value, const char *as,
        struct lf_err *err)
{
    char *field = (char *)c + s->offset;
    int64_t i64;
    uint64_t u64;
    enum lf_log_level level;

    switch (s->kind) {
    case K_STRING:
    case K_PATH:
    case K_URL:
        if (strlen(value) >= s->size)
            return lf_err_set(err, LF_ECONFIG, "invalid %s: longer than %zu characters", as,
                              s->size - 1);
        if (s->kind == K_URL && value[0] != '\0' && strncmp(value, "http://", 7) != 0 &&
            strncmp(value, "https://", 8) != 0)
            return lf_err_set(err, LF_ECONFIG,
                              "invalid %s '%s': must start with http:// or https://", as, value);
        if (s->kind == K_STRING && value[0] == '\0')
            return lf_err_set(err, LF_ECONFIG, "invalid %s: must not be empty", as);
        snprintf(field, s->size, "%s", value);
        if (s->kind == K_URL) {
            size_t n = strlen(field);

            while (n > 0 && field[n - 1] == '/')
                field[--n] = '\0';
        }
        return LF_OK;
    case K_INT:
        if (lf_parse_i64(value, s->min, s->max, &i64) != 0)
            return lf_err_set(err, LF_ECONFIG,
                              "invalid %s '%s': must be an integer from %lld to %lld", as, value,
                              (long long)s->min, (long long)s->max);
        *(int *)field = (int)i64;
        return LF_OK;
    case K_SIZE:
        if (cfg_parse_size(value, &u64) != 0 || u64 < (uint64_t)s->min)
            return lf_err_set(err, LF_ECONFIG,
                              "invalid %s '%s': must be a positive size such as 1048576 or 16MiB",
                              as, value);
        *(uint64_t *)field = u64;
        return LF_OK;
    case K_BOOL:
        if (strcasecmp(value, "true") == 0 || strcmp(value, "1") == 0 ||
            strcasecmp(value, "yes") == 0 || strcasecmp(value, "on") == 0) {
            *(int *)field = 1;
        } else if (strcasecmp(value, "false") == 0 || strcmp(value, "0") == 0 ||
                   strcasecmp(value, "no") == 0 || strcasecmp(value, "off") == 0) {
            *(int *)field = 0;
        } else {
            return lf_err_set(err, LF_ECONFIG, "invalid %s '%s': must be true or false", as,
                              value);
        }
        return LF_OK;
    case K_LEVEL:
        if (lf_log_level_parse(value, &level) != 0)
            return lf_err_set(err, LF_ECONFIG,
                              "invalid %s '%s': must be error, warn, info or debug", as, value);
        *(enum lf_log_level *)field = level;
        return LF_OK;
    }
    return lf_err_set(err, LF_ECONFIG, "invalid %s", as);
}

int
cfg_set(struct cfg *c, const char *key, const char *value, const char *source,
        struct lf_err *err)
{
    const struct setting *s = find_by(offsetof(struct setting, key), key);
    char as[128];

    if (s == NULL)
        return lf_err_set(err, LF_ECONFIG, "unknown setting '%s' in %s", key, source);
    snprintf(as, sizeof(as), "%s (%s)", key, source);
    return set_one(c, s, value, as, err);
}

static int
load_file(struct cfg *c, const char *path, struct lf_err *err)
{
    char *text = NULL;
    cJSON *root = NULL, *item;
    char source[PATH_MAX + 32];
    int rc;

    snprintf(source, sizeof(source), "config file '%s'", path);
    rc = lf_file_read(path, CFG_FILE_MAX_BYTES, &text, NULL, err);
    if (rc != LF_OK) {
        char why[LF_ERR_MSG_BYTES];

        snprintf(why, sizeof(why), "%s", err->msg);
        rc = lf_err_set(err, LF_ECONFIG, "invalid --config '%s': %s", path, why);
        goto out;
    }
    root = cJSON_Parse(text);
    if (!cJSON_IsObject(root)) {
        rc = lf_err_set(err, LF_ECONFIG, "invalid --config '%s': not a JSON object", path);
        goto out;
    }
    cJSON_ArrayForEach(item, root) {
        char num[64];
        const char *value;

        if (cJSON_IsString(item)) {
            value = item->valuestring;
        } else if (cJSON_IsBool(item)) {
            value = cJSON_IsTrue(item) ? "true" : "false";
        } else if (cJSON_IsNumber(item) && item->valuedouble >= 0 &&
                   item->valuedouble <= 9.2e18 &&
                   item->valuedouble == (double)(long long)item->valuedouble) {
            snprintf(num, sizeof(num), "%lld", (long long)item->valuedouble);
            value = num;
        } else {
            rc = lf_err_set(err, LF_ECONFIG, "invalid %s in %s: must be a string, a boolean or a whole number",
                            item->string, source);
            goto out;
        }
        rc = cfg_set(c, item->string, value, source, err);
        if (rc != LF_OK)
            goto out;
    }
out:
    cJSON_Delete(root);
    free(text);
    return rc;
}

/* Walks the flags in argv ("--flag value" or "--flag=value"). With c NULL it
 * only records --config in *config_out and rejects unknown flags; with c set
 * it applies every flag but --config to c. */
static int
scan_flags(int argc, char **argv, struct cfg *c, const char **config_out, struct lf_err *err)
{
    for (int i = 0; i < argc; i++) {
        const char *arg = argv[i];
        const char *eq = strchr(arg, '=');
        char name[64];
        const char *value;
        const struct setting *s;
        size_t n = eq ? (size_t)(eq - arg) : strlen(arg);

        if (n >= sizeof(name) || strncmp(arg, "--", 2) != 0)
            return lf_err_set(err, LF_ECONFIG, "unknown argument '%s' (see liftoff --help)", arg);
        memcpy(name, arg, n);
        name[n] = '\0';
        if (eq != NULL) {
            value = eq + 1;
        } else if (i + 1 < argc) {
            value = argv[++i];
        } else {
            return lf_err_set(err, LF_ECONFIG, "invalid %s: needs a value", name);
        }
        if (strcmp(name, "--config") == 0) {
            if (config_out != NULL)
                *config_out = value;
            continue;
        }
        s = find_by(offsetof(struct setting, flag), name);
        if (s == NULL)
            return lf_err_set(err, LF_ECONFIG, "unknown option '%s' (see liftoff --help)", name);
        if (c != NULL) {
            int rc = set_one(c, s, value, name, err);

            if (rc != LF_OK)
                return rc;
        }
    }
    return LF_OK;
}

int
cfg_load(struct cfg *c, int argc, char **argv, struct lf_err *err)
{
    const char *config = getenv("LIFTOFF_CONFIG");
    int rc;

    cfg_defaults(c);
    /* First pass: only find --config and reject unknown flags. */
    rc = scan_flags(argc, argv, NULL, &config, err);
    if (rc != LF_OK)
        return rc;
    if (config != NULL && config[0] != '\0') {
        snprintf(c->config_file, sizeof(c->config_file), "%s", config);
        rc = load_file(c, config, err);
        if (rc != LF_OK)
            return rc;
    }
    for (size_t i = 0; i < N_SETTINGS; i++) {
        const char *value = getenv(settings[i].env);

        if (value == NULL)
            continue;
        rc = set_one(c, &settings[i], value, settings[i].env, err);
        if (rc != LF_OK)
            return rc;
    }
    rc = scan_flags(argc, argv, c, NULL, err);
    if (rc != LF_OK)
        return rc;
    return cfg_validate(c, err);
}

int
cfg_validate(const struct cfg *c, struct lf_err *err)
{
    if (c->data_dir[0] == '\0')
        return lf_err_set(err, LF_ECONFIG, "invalid data_dir: must not be empty");
    if (c->api_keys_file[0] != '\0' && access(c->api_keys_file, R_OK) != 0)
        return lf_err_set(err, LF_ECONFIG,
                          "invalid api_keys (--api-keys, LIFTOFF_API_KEYS) '%s': cannot read "
                          "the file", c->api_keys_file);
    return LF_OK;
}

void
cfg_usage(void *fp)
{
    FILE *f = fp;

    fprintf(f, "usage: liftoff serve [options]\n"
               "       liftoff --version\n\n"
               "options (flag / environment variable / config-file key):\n"
               "  --config FILE  LIFTOFF_CONFIG  JSON file of settings by key\n");
    for (size_t i = 0; i < N_SETTINGS; i++)
        fprintf(f, "  %s  %s  %s: %s\n", settings[i].flag, settings[i].env, settings[i].key,
                settings[i].help);
    fprintf(f, "\nprecedence: defaults < config file < environment < flags\n");
}
