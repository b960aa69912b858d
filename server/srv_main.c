/* liftoff's entry point: "liftoff serve [options]" runs the server in the
 * foreground until SIGTERM or SIGINT. Signals are taken with sigwait in the
 * main thread (blocked everywhere else), so no code runs in a handler. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "bl.h"
#include "cfg.h"
#include "lf_log.h"
#include "rt_worker.h"
#include "srv.h"

#ifndef LIFTOFF_VERSION
#define LIFTOFF_VERSION "unknown"
#endif

#define EXIT_USAGE 2

static int
serve(int argc, char **argv)
{
    struct cfg cfg;
    struct lf_err err = { 0 };
    struct srv *srv = NULL;
    sigset_t set;
    int sig = 0;

    if (cfg_load(&cfg, argc, argv, &err) != LF_OK) {
        fprintf(stderr, "liftoff: %s\n", err.msg);
        return EXIT_USAGE;
    }
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    if (bl_global_init(&err) != LF_OK || srv_start(&cfg, &srv, &err) != LF_OK) {
        fprintf(stderr, "liftoff: %s\n", err.msg);
        bl_global_cleanup();
        return err.code == LF_ECONFIG ? EXIT_USAGE : 1;
    }
    sigdelset(&set, SIGPIPE);
    while (sig != SIGTERM && sig != SIGINT) {
        if (sigwait(&set, &sig) != 0)
            break;
    }
    lf_log(LF_LOG_INFO, "main", "signal=%s stopping", sig == SIGINT ? "SIGINT" : "SIGTERM");
    srv_stop(srv);
    bl_global_cleanup();
    lf_log(LF_LOG_INFO, "main", "stopped");
    return 0;
}

int
main(int argc, char **argv)
{
    if (argc >= 2 && (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0)) {
        printf("liftoff %s\n", LIFTOFF_VERSION);
        return 0;
    }
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
                      strcmp(argv[1], "help") == 0)) {
        cfg_usage(stdout);
        return 0;
    }
    if (argc >= 2 && strcmp(argv[1], "serve") == 0)
        return serve(argc - 2, argv + 2);
    /* Started by the server only: a process that embeds Python. */
    if (argc >= 2 && strcmp(argv[1], "worker") == 0)
        return rt_worker_main(0);
    if (argc >= 2 && strcmp(argv[1], "zygote") == 0)
        return rt_worker_main(1);
    fprintf(stderr, "liftoff: %s (try 'liftoff serve' or 'liftoff --help')\n",
            argc >= 2 ? "unknown command" : "no command given");
    return EXIT_USAGE;
}
