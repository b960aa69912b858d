/* Log lines on stderr: see lf_log.h. */
#include "lf_log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define LOG_LINE_BYTES 2048

enum lf_log_level lf_log_threshold = LF_LOG_INFO;

static const char *const level_names[] = { "ERROR", "WARN", "INFO", "DEBUG" };

void
lf_log_write(enum lf_log_level level, const char *module, const char *fmt, ...)
{
    char line[LOG_LINE_BYTES];
    struct timespec ts;
    struct tm tm;
    va_list ap;
    int n, m;

    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    n = snprintf(line, sizeof(line), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s %s ",
                 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                 tm.tm_sec, ts.tv_nsec / 1000000L, level_names[level], module);
    va_start(ap, fmt);
    m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
    va_end(ap);
    if (m < 0)
        m = 0;
    n += m;
    if (n > (int)sizeof(line) - 2)
        n = (int)sizeof(line) - 2;
    line[n++] = '\n';
    /* One write per line keeps lines from several threads whole. */
    if (write(STDERR_FILENO, line, (size_t)n) < 0)
        return;
}

int
lf_log_level_parse(const char *text, enum lf_log_level *out)
{
    static const char *const names[] = { "error", "warn", "info", "debug" };

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (strcasecmp(text, names[i]) == 0) {
            *out = (enum lf_log_level)i;
            return 0;
        }
    }
    if (strcasecmp(text, "warning") == 0) {
        *out = LF_LOG_WARN;
        return 0;
    }
    return -1;
}
