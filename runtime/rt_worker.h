/* The worker side of the runtime: "liftoff worker" and "liftoff zygote"
 * run this in a child process started by the server. It embeds CPython,
 * loads the bundle, and answers prediction frames on its socket. */
#ifndef RT_WORKER_H
#define RT_WORKER_H

/* Environment variables through which the server hands a worker its job.
 * Both are removed from the environment before user code runs. */
#define RT_ENV_SPEC "LIFTOFF_WORKER_SPEC" /* JSON: see rt_spec in rt_pool.c */
#define RT_ENV_FD "LIFTOFF_WORKER_FD"     /* the socket to the server */

/* Runs a worker (zygote = 0) or a zygote (zygote = 1) until its socket
 * closes. Returns the process exit status: 0 after a clean stop, 3 when
 * the bundle cannot be loaded, 2 on a bad invocation. */
int rt_worker_main(int zygote);

#endif
