/* A hash map from strings to pointers (open addressing, linear probing,
 * backward-shift deletion). Not thread-safe: callers lock. Keys are copied;
 * values are the caller's. */
#ifndef LF_MAP_H
#define LF_MAP_H

#include <stddef.h>

struct lf_map_slot {
    char *key;   /* owned; NULL = empty */
    void *value;
};

struct lf_map {
    struct lf_map_slot *slots;
    size_t cap;  /* a power of two, or 0 before the first put */
    size_t used;
};

/* An empty map (no allocation until the first put). */
void lf_map_init(struct lf_map *m);

/* Frees the keys and the table; values are not touched. */
void lf_map_release(struct lf_map *m);

/* The value of key, or NULL. */
void *lf_map_get(const struct lf_map *m, const char *key);

/* Sets key to value (replacing an old value, which is returned through
 * *old when old is not NULL). Errors: LF_ENOMEM (the map is unchanged). */
int lf_map_put(struct lf_map *m, const char *key, void *value, void **old);

/* Removes key; returns its value, or NULL if it was absent. */
void *lf_map_remove(struct lf_map *m, const char *key);

/* Calls fn(key, value, arg) for every entry; fn must not change the map. */
void lf_map_each(const struct lf_map *m, void (*fn)(const char *, void *, void *), void *arg);

#endif
