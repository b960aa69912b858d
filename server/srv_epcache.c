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

#include "lf_map.h"

struct entry {
    bool sync;
    char owner[]; /* NUL-terminated */
};

struct srv_epcache {
    pthread_rwlock_t lock;
    struct lf_map map; /* endpoint id -> struct entry * */
};

int
srv_epcache_new(struct srv_epcache **out, struct lf_err *err)
{
    struct srv_epcache *c = calloc(1, sizeof(*c));

    if (c == NULL)
        return lf_err_set(err, LF_ENOMEM, "out of memory");
    lf_map_init(&c->map);
    pthread_rwlock_init(&c->lock, NULL);
    *out = c;
    return LF_OK;
}

static void
free_entry(const char *key, void *value, void *arg)
{
    (void)key;
    (void)arg;
    free(value);
}

void
srv_epcache_free(struct srv_epcache *c)
{
    if (c == NULL)
        return;
    lf_map_each(&c->map, free_entry, NULL);
    lf_map_release(&c->map);
    pthread_rwlock_destroy(&c->lock);
    free(c);
}

bool
srv_epcache_get(struct srv_epcache *c, const char *id, const char *owner, bool *sync)
{
    const struct entry *e;
    bool hit;

    pthread_rwlock_rdlock(&c->lock);
    e = lf_map_get(&c->map, id);
    hit = e != NULL && strcmp(e->owner, owner) == 0;
    if (hit)
        *sync = e->sync;
    pthread_rwlock_unlock(&c->lock);
    return hit;
}

void
srv_epcache_put(struct srv_epcache *c, const char *id, const char *owner, bool sync)
{
    size_t n = strlen(owner) + 1;
    struct entry *e = malloc(sizeof(*e) + n);
    void *old = NULL;

    if (e == NULL)
        return; /* the cache is an optimization: skip it */
    e->sync = sync;
    memcpy(e->owner, owner, n);
    pthread_rwlock_wrlock(&c->lock);
    if (lf_map_put(&c->map, id, e, &old) != LF_OK)
        old = e;
    pthread_rwlock_unlock(&c->lock);
    free(old);
}

void
srv_epcache_remove(struct srv_epcache *c, const char *id)
{
    void *old;

    pthread_rwlock_wrlock(&c->lock);
    old = lf_map_remove(&c->map, id);
    pthread_rwlock_unlock(&c->lock);
    free(old);
}
