/* Internals shared by the store's files (srv_store*.c): the connection and
 * the one statement runner every query goes through. */
#ifndef SRV_STORE_INT_H
#define SRV_STORE_INT_H

#include <pthread.h>

#include <sqlite3.h>

#include "lf_err.h"
#include "srv_store.h"

struct srv_store {
    sqlite3 *db;
    pthread_mutex_t lock; /* one connection: every public function holds it */
};

typedef int (*srv_row_fn)(sqlite3_stmt *s, void *ctx, struct lf_err *err);

/* Prepares sql, binds the arguments described by types ('s' text or NULL,
 * 'i' int64), steps it, and calls on_row (NULL allowed) for each row.
 * *changes (NULL allowed) gets the number of rows changed. Caller holds
 * st->lock. Errors: LF_EEXIST (a constraint), LF_EIO, or on_row's. */
int srv_store_run(struct srv_store *st, const char *sql, srv_row_fn on_row, void *ctx,
                  int *changes, struct lf_err *err, const char *types, ...);

/* Row callback: stores column 0 as an int64 into *(int64_t *)ctx. */
int srv_store_row_int(sqlite3_stmt *s, void *ctx, struct lf_err *err);

/* " ORDER BY ..." for order, by created_us (or name_column for ALPHA). */
const char *srv_store_order_sql(enum srv_order order, const char *name_column);

/* Makes room for element n of the array *arr of *cap elements of size
 * bytes, doubling it when full. Errors: LF_ENOMEM (the array is kept). */
int srv_store_reserve(void **arr, size_t *cap, size_t n, size_t size, struct lf_err *err);

/* Runs BEGIN IMMEDIATE / COMMIT / ROLLBACK. Caller holds st->lock. */
int srv_store_exec(struct srv_store *st, const char *sql, struct lf_err *err);

#endif
