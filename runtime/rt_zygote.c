/* The zygote: a process that has loaded the bundle once and forks workers
 * from it, so a new worker starts in about a millisecond and shares the
 * zygote's memory (gc.freeze keeps the collector from touching, and so
 * copying, the shared objects).
 *
 * Each fork is a double fork: the zygote forks a short-lived child that
 * forks the worker and exits at once. The orphaned worker is then adopted
 * by the server, which is a child subreaper, so the server is the parent of
 * every worker: it alone reaps them and sees how each one ended. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bl_py.h"
#include "rt_int.h"
#include "rt_proto.h"

#define REPARENT_WAIT_US 50
#define REPARENT_MAX_WAITS 40000 /* 2 s */

static void
reply(int ctl, const char *json)
{
    struct rt_frame_hdr h = { (uint32_t)strlen(json), RT_F_FORKED, 0, 0, { 0 } };

    if (rt_frame_write(ctl, &h, json, NULL) != LF_OK)
        _exit(0); /* the server is gone */
}

/* In the worker, after the double fork: wait to be adopted by the server,
 * then die with it. */
static void
adopt(pid_t middle, pid_t server)
{
    struct timespec ts = { 0, REPARENT_WAIT_US * 1000L };

    for (int i = 0; getppid() == middle; i++) {
        if (i == REPARENT_MAX_WAITS)
            _exit(1);
        nanosleep(&ts, NULL);
    }
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != server)
        _exit(1);
}

void
rt_zygote_serve(int ctl)
{
    struct lf_err err = { 0 };
    pid_t server = getppid();

    if (bl_freeze(&err) != LF_OK) {
        const char *text = err.trace ? err.trace : err.msg;
        struct rt_frame_hdr h = { (uint32_t)strlen(text), RT_F_LOAD_FAILED, 0, 0, { 0 } };

        rt_frame_write(ctl, &h, text, NULL);
        _exit(3);
    }
    rt_worker_announce();
    for (;;) {
        int wfd = -1, status = 0;
        pid_t middle;

        if (rt_fd_recv(ctl, &wfd, NULL) != LF_OK)
            _exit(0);
        PyOS_BeforeFork();
        middle = fork();
        if (middle == 0) {
            pid_t me = getpid(), worker = fork();

            if (worker == 0) {
                adopt(me, server);
                PyOS_AfterFork_Child();
                close(ctl);
                rt_worker_serve(wfd);
            }
            _exit(worker < 0 ? 1 : 0);
        }
        PyOS_AfterFork_Parent();
        close(wfd);
        if (middle > 0)
            waitpid(middle, &status, 0);
        if (middle > 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0)
            reply(ctl, "{\"ok\":true}");
        else
            reply(ctl, "{\"ok\":false}");
    }
}
