/* The liftoff server: HTTP API, auth, store and the runtime behind them. */
#ifndef SRV_H
#define SRV_H

#include "cfg.h"
#include "lf_err.h"

struct srv;

/* Opens the data directory and the store, loads API keys, starts the
 * runtime (redeploying stored endpoints) and starts listening. Prints
 * "liftoff listening on http://HOST:PORT" on stderr once it listens.
 * cfg is copied. Errors: LF_ECONFIG (bad setting: exit status 2), LF_EIO. */
int srv_start(const struct cfg *cfg, struct srv **out, struct lf_err *err);

/* Graceful stop: accepts no new connections, waits up to the configured
 * shutdown timeout for in-flight requests, then stops the runtime, closes
 * the store and frees s. NULL is a no-op. */
void srv_stop(struct srv *s);

#endif
