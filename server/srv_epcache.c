/* What a prediction needs to know of its endpoint, kept in memory: the
 * owner and whether it serves sync requests. Both are immutable for an
 * endpoint's life, so an entry never goes stale; it is only dropped when
 * the endpoint is deleted. This keeps the store (a query and a JSON parse
 * under the store's mutex) off the prediction path. Readers share a
 * rwlock; entries are added on a miss and removed on delete. */
#include "srv_int.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "lf_util.h"

#define EPCACHE_MIN_SLOTS 64

struct entry {
    char *id;       /* owned; NULL = empty slot */
    char *owner;    /* owned */
    bool sync;
};

struct srv_epcache {
    pthread_rwlock_t lock;
    struct entry *slots;
    size_t cap;     /* a power of two */
    size_t used;
};

int
srv_epcache_new(struct srv_epcache **out, struct lf_err *err)
{
    struct srv_epcache *c = calloc(1, sizeof(*c));

    if (c == NULL || (c->slots = calloc(EPCACHE_MIN_SLOTS, sizeof(struct entry))) == NULL) {
        free(c);
        return lf_err_set(err, LF_ENOMEM, "out of memory");
    }
    c->cap = EPCACHE_MIN_SLOTS;
    pthread_rwlock_init(&c->lock, NULL);
    *out = c;
    return LF_OK;
}

void
srv_epcache_free(struct srv_epcache *c)
{
    if (c == NULL)
        return;
    for (size_t i = 0; i < c->cap; i++) {
        free(c->slots[i].id);
        free(c->slots[i].owner);
    }
    free(c->slots);
    pthread_rwlock_destroy(&c->lock);
    free(c);
}

/* The slot of id, or the empty slot where it would go. Lock held. */
static struct entry *
find(struct entry *slots, size_t cap, const char *id)
{
    size_t i = (size_t)lf_hash64(id, strlen(id)) & (cap - 1);

    while (slots[i].id != NULL && strcmp(slots[i].id, id) != 0)
        i = (i + 1) & (cap - 1);
    return &slots[i];
}

bool
srv_epcache_get(struct srv_epcache *c, const char *id, const char *owner, bool *sync)
{
    struct entry *e;
    bool hit;

    pthread_rwlock_rdlock(&c->lock);
    e = find(c->slots, c->cap, id);
    hit = e->id != NULL && strcmp(e->owner, owner) == 0;
    if (hit)
        *sync = e->sync;
    pthread_rwlock_unlock(&c->lock);
    return hit;
}

/* Doubles the table. Lock held for writing. Returns false on ENOMEM. */
static bool
grow(struct srv_epcache *c)
{
    size_t cap = c->cap * 2;
    struct entry *slots = calloc(cap, sizeof(*slots));

    if (slots == NULL)
        return false;
    for (size_t i = 0; i < c->cap; i++)
        if (c->slots[i].id != NULL)
            *find(slots, cap, c->slots[i].id) = c->slots[i];
    free(c->slots);
    c->slots = slots;
    c->cap = cap;
    return true;
}

void
srv_epcache_put(struct srv_epcache *c, const char *id, const char *owner, bool sync)
{
    struct entry *e;

    pthread_rwlock_wrlock(&c->lock);
    if ((c->used + 1) * 2 > c->cap && !grow(c))
        goto out; /* the cache is an optimization: skip it */
    e = find(c->slots, c->cap, id);
    if (e->id == NULL) {
        e->id = strdup(id);
        e->owner = strdup(owner);
        if (e->id == NULL || e->owner == NULL) {
            free(e->id);
            free(e->owner);
            e->id = e->owner = NULL;
            goto out;
        }
        c->used++;
    }
    e->sync = sync;
out:
    pthread_rwlock_unlock(&c->lock);
}

void
srv_epcache_remove(struct srv_epcache *c, const char *id)
{
    struct entry *e;
    size_t i;

    pthread_rwlock_wrlock(&c->lock);
    e = find(c->slots, c->cap, id);
    if (e->id == NULL)
        goto out;
    free(e->id);
    free(e->owner);
    e->id = e->owner = NULL;
    c->used--;
    /* Re-place the entries after it, so lookups never stop at the hole. */
    i = (size_t)(e - c->slots);
    for (i = (i + 1) & (c->cap - 1); c->slots[i].id != NULL; i = (i + 1) & (c->cap - 1)) {
        struct entry moved = c->slots[i];

        c->slots[i].id = c->slots[i].owner = NULL;
        *find(c->slots, c->cap, moved.id) = moved;
    }
out:
    pthread_rwlock_unlock(&c->lock);
}
