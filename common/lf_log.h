/* Logging: one line per event on stderr, "TIME LEVEL MODULE message".
 * lf_log() checks the level before its arguments are evaluated, so a debug
 * line costs a comparison when debug is off. Thread-safe: one write(2) per
 * line. */
#ifndef LF_LOG_H
#define LF_LOG_H

enum lf_log_level {
    LF_LOG_ERR = 0,
    LF_LOG_WARN = 1,
    LF_LOG_INFO = 2,
    LF_LOG_DEBUG = 3,
};

/* The level in force; lines above it are dropped. Default LF_LOG_INFO. */
extern enum lf_log_level lf_log_threshold;

#define lf_log(level, module, ...)                                          \
    do {                                                                    \
        if ((level) <= lf_log_threshold)                                    \
            lf_log_write((level), (module), __VA_ARGS__);                   \
    } while (0)

/* Writes one line; use lf_log() instead, which checks the level first. */
void lf_log_write(enum lf_log_level level, const char *module, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Parses "error", "warn", "info" or "debug". Returns 0, or -1 if unknown. */
int lf_log_level_parse(const char *text, enum lf_log_level *out);

#endif
