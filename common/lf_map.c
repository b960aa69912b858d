/* String-keyed hash map: see lf_map.h. */
#include "lf_map.h"

#include <stdlib.h>
#include <string.h>

#include "lf_err.h"
#include "lf_util.h"

#define MAP_MIN_SLOTS 16

void
lf_map_init(struct lf_map *m)
{
    m->slots = NULL;
    m->cap = 0;
    m->used = 0;
}

void
lf_map_release(struct lf_map *m)
{
    for (size_t i = 0; i < m->cap; i++)
        free(m->slots[i].key);
    free(m->slots);
    lf_map_init(m);
}

/* The slot of key, or the empty slot where it would go; cap > 0. */
static struct lf_map_slot *
find(struct lf_map_slot *slots, size_t cap, const char *key)
{
    size_t i = (size_t)lf_hash64(key, strlen(key)) & (cap - 1);

    while (slots[i].key != NULL && strcmp(slots[i].key, key) != 0)
        i = (i + 1) & (cap - 1);
    return &slots[i];
}

void *
lf_map_get(const struct lf_map *m, const char *key)
{
    struct lf_map_slot *s;

    if (m->cap == 0)
        return NULL;
    s = find(m->slots, m->cap, key);
    return s->key != NULL ? s->value : NULL;
}

static int
grow(struct lf_map *m)
{
    size_t cap = m->cap ? m->cap * 2 : MAP_MIN_SLOTS;
    struct lf_map_slot *slots = calloc(cap, sizeof(*slots));

    if (slots == NULL)
        return LF_ENOMEM;
    for (size_t i = 0; i < m->cap; i++)
        if (m->slots[i].key != NULL)
            *find(slots, cap, m->slots[i].key) = m->slots[i];
    free(m->slots);
    m->slots = slots;
    m->cap = cap;
    return LF_OK;
}

int
lf_map_put(struct lf_map *m, const char *key, void *value, void **old)
{
    struct lf_map_slot *s;

    if (old != NULL)
        *old = NULL;
    if ((m->used + 1) * 2 > m->cap && grow(m) != LF_OK)
        return LF_ENOMEM;
    s = find(m->slots, m->cap, key);
    if (s->key == NULL) {
        s->key = strdup(key);
        if (s->key == NULL)
            return LF_ENOMEM;
        m->used++;
    } else if (old != NULL) {
        *old = s->value;
    }
    s->value = value;
    return LF_OK;
}

void *
lf_map_remove(struct lf_map *m, const char *key)
{
    struct lf_map_slot *s;
    void *value;
    size_t i;

    if (m->cap == 0)
        return NULL;
    s = find(m->slots, m->cap, key);
    if (s->key == NULL)
        return NULL;
    value = s->value;
    free(s->key);
    s->key = NULL;
    m->used--;
    /* Re-place the run after the hole, so no lookup stops at it. */
    for (i = ((size_t)(s - m->slots) + 1) & (m->cap - 1); m->slots[i].key != NULL;
         i = (i + 1) & (m->cap - 1)) {
        struct lf_map_slot moved = m->slots[i];

        m->slots[i].key = NULL;
        *find(m->slots, m->cap, moved.key) = moved;
    }
    return value;
}

void
lf_map_each(const struct lf_map *m, void (*fn)(const char *, void *, void *), void *arg)
{
    for (size_t i = 0; i < m->cap; i++)
        if (m->slots[i].key != NULL)
            fn(m->slots[i].key, m->slots[i].value, arg);
}
