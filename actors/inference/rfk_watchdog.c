/*  rfk_watchdog.c: ends a process whose thread is stuck in template code
    (see rfk_watchdog.h).

    The armed call is one atomic deadline (zclock_mono () ms, 0: none) that
    the loop writes and the thread reads; the thread sleeps on a condition
    variable (monotonic clock) that only destroy signals, so the loop never
    makes a system call for it.
*/
#include "rfk_watchdog.h"

#include <czmq.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>
#include <unistd.h>

#include "rfk_log.h"

struct _rfk_watchdog_t {
    pthread_t thread;            /* the watching thread */
    pthread_mutex_t lock;        /* guards stopping, for the condition */
    pthread_cond_t wake;         /* signalled by destroy only */
    bool stopping;               /* destroy asked the thread to end */
    int period_ms;               /* how often the thread looks */
    const char *module;          /* the log's module name */
    _Atomic int64_t deadline;    /* when the armed call is stuck (mono ms), 0: none */
    _Atomic int64_t limit_ms;    /* the armed call's limit, for the log line */
    _Atomic (const char *) what; /* the armed call, for the log line */
    _Atomic (const char *) knob; /* the setting that gave the limit */
};

/*  The armed call is past its limit: say so and end the process at once
    (nothing of the stuck thread can be unwound; _exit runs no handler the
    template may have registered). */
static void __attribute__ ((noreturn)) s_fire (rfk_watchdog_t *self)
{
    const char *what = atomic_load (&self->what);
    const char *knob = atomic_load (&self->knob);
    int64_t limit = atomic_load (&self->limit_ms);
    rfk_log_error (self->module,
                   "RFK-STUCK %s did not return within %lld ms (%s): ending the process",
                   what ? what : "a call", (long long)limit, knob ? knob : "its limit");
    _exit (1);
}

/*  The thread: every period, a call armed past its deadline ends the
    process. */
static void *
s_watch (void *arg)
{
    rfk_watchdog_t *self = (rfk_watchdog_t *)arg;
    pthread_mutex_lock (&self->lock);
    while (!self->stopping) {
        struct timespec until;
        clock_gettime (CLOCK_MONOTONIC, &until);
        until.tv_sec += self->period_ms / 1000;
        until.tv_nsec += (long)(self->period_ms % 1000) * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait (&self->wake, &self->lock, &until);
        int64_t deadline = atomic_load (&self->deadline);
        //  Still the same call when we look again: it did not just return.
        if (!self->stopping && deadline > 0 && zclock_mono () >= deadline &&
            atomic_load (&self->deadline) == deadline)
            s_fire (self);
    }
    pthread_mutex_unlock (&self->lock);
    return NULL;
}

rfk_watchdog_t *
rfk_watchdog_new (const char *module, int period_ms)
{
    rfk_watchdog_t *self = (rfk_watchdog_t *)calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->module = module ? module : "watchdog";
    self->period_ms = period_ms < 10 ? 10 : period_ms;
    atomic_init (&self->deadline, 0);
    atomic_init (&self->limit_ms, 0);
    atomic_init (&self->what, NULL);
    atomic_init (&self->knob, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init (&attr);
    pthread_condattr_setclock (&attr, CLOCK_MONOTONIC);
    bool ok = pthread_mutex_init (&self->lock, NULL) == 0;
    bool cond = ok && pthread_cond_init (&self->wake, &attr) == 0;
    pthread_condattr_destroy (&attr);
    if (cond && pthread_create (&self->thread, NULL, s_watch, self) == 0)
        return self;
    if (cond)
        pthread_cond_destroy (&self->wake);
    if (ok)
        pthread_mutex_destroy (&self->lock);
    free (self);
    return NULL;
}

void
rfk_watchdog_destroy (rfk_watchdog_t **self_p)
{
    rfk_watchdog_t *self = self_p ? *self_p : NULL;
    if (!self)
        return;
    pthread_mutex_lock (&self->lock);
    self->stopping = true;
    pthread_cond_signal (&self->wake);
    pthread_mutex_unlock (&self->lock);
    pthread_join (self->thread, NULL);
    pthread_cond_destroy (&self->wake);
    pthread_mutex_destroy (&self->lock);
    free (self);
    *self_p = NULL;
}

void
rfk_watchdog_arm (rfk_watchdog_t *self, int64_t limit_ms, const char *what, const char *knob)
{
    if (!self || limit_ms <= 0)
        return;
    atomic_store_explicit (&self->what, what, memory_order_relaxed);
    atomic_store_explicit (&self->knob, knob, memory_order_relaxed);
    atomic_store_explicit (&self->limit_ms, limit_ms, memory_order_relaxed);
    atomic_store_explicit (&self->deadline, zclock_mono () + limit_ms, memory_order_release);
}

void
rfk_watchdog_disarm (rfk_watchdog_t *self)
{
    if (self)
        atomic_store_explicit (&self->deadline, 0, memory_order_release);
}

int
rfk_watchdog_period_for (int64_t limit_ms)
{
    int64_t period = limit_ms / 10;
    return period < 50 ? 50 : period > 1000 ? 1000 : (int)period;
}
