/* Unexpected exits: the text a lost request gets, and the crash accounting
 * of a pool (restart backoff, and the crash loop that marks it failed). */
#include "rt_srv.h"

#include <stdio.h>
#include <sys/wait.h>

#include "lf_util.h"

#define CRASH_WINDOW_MS 60000
#define CRASH_LOOP_COUNT 5
#define BACKOFF_FIRST_MS 100

void
rt_exit_text(const struct rt_proc *pr, char *out, size_t cap)
{
    if (!pr->exited)
        snprintf(out, cap, "worker exited");
    else if (WIFSIGNALED(pr->status))
        snprintf(out, cap, "worker exited: signal %d", WTERMSIG(pr->status));
    else
        snprintf(out, cap, "worker exited: status %d", WEXITSTATUS(pr->status));
}

void
rt_pool_count_crash(struct rt *rt, struct rt_pool *p, const char *what)
{
    int64_t now = lf_mono_ms();

    if (now - p->crash_window_ms > CRASH_WINDOW_MS) {
        p->crash_window_ms = now;
        p->crashes = 0;
    }
    p->crashes++;
    p->backoff_ms = p->backoff_ms ? p->backoff_ms * 2 : BACKOFF_FIRST_MS;
    if (p->backoff_ms > RT_BACKOFF_MAX_MS)
        p->backoff_ms = RT_BACKOFF_MAX_MS;
    p->next_start_ms = now + p->backoff_ms;
    rt_emit(rt, p, RT_PHASE_LOG, "%s; restarting in %lld ms", what, (long long)p->backoff_ms);
    if (p->crashes >= CRASH_LOOP_COUNT && !p->crash_loop) {
        p->crash_loop = true;
        rt_emit(rt, p, RT_PHASE_FAILED, "crash loop: %d unexpected exits within %d s",
                p->crashes, CRASH_WINDOW_MS / 1000);
    }
}
