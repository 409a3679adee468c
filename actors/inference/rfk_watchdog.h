/*  rfk_watchdog.h: ends a process whose thread is stuck in template code.

    The inference worker's loop calls the template (its constructors, create
    and load_params while loading, predict for every batch, destroy at the
    end). Code that never returns blocks that loop for good, and with it
    everything the loop does: answering admin, noticing that admin is gone
    (service.orphan_timeout_s), Stop. A watchdog is a thread of its own that
    the blocked loop cannot hold up: the loop arms it before a template call
    and disarms it after; when a call is still armed past its limit the
    watchdog logs one line

        RFK-STUCK the template's predict did not return within 60 s
        (inference.predict_timeout_s): ending the process

    and ends the process with _exit (1), taking the template's threads and
    children with it. Nothing else can be done safely from outside the
    stuck thread.

    Arming costs the loop one clock read (vDSO, no system call) and three
    atomic stores; the thread wakes every period_ms to look, whatever the
    loop does, so nothing on the query path ever waits on it.

        rfk_watchdog_t *dog = rfk_watchdog_new ("inference", 1000);
        rfk_watchdog_arm (dog, 60000, "the template's predict", "inference.predict_timeout_s");
        api->predict (...);
        rfk_watchdog_disarm (dog);
        rfk_watchdog_destroy (&dog);
*/
#ifndef RFK_WATCHDOG_H_INCLUDED
#define RFK_WATCHDOG_H_INCLUDED

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct _rfk_watchdog_t rfk_watchdog_t;

/* A watchdog whose thread looks every period_ms (at least 10) and logs
   under module (a static string). NULL when the thread cannot start. */
rfk_watchdog_t *
rfk_watchdog_new (const char *module, int period_ms);

/* Stops the thread. Safe twice; nulls the pointer. */
void
rfk_watchdog_destroy (rfk_watchdog_t **self_p);

/* Until rfk_watchdog_disarm, the process ends if limit_ms pass: what names
   the call and knob the setting that gave the limit, both static strings
   for the log line. limit_ms <= 0 or self NULL: nothing is watched. */
void
rfk_watchdog_arm (rfk_watchdog_t *self, int64_t limit_ms, const char *what, const char *knob);

/* The call returned. Self may be NULL. */
void
rfk_watchdog_disarm (rfk_watchdog_t *self);

/* The period a watchdog for calls of at most limit_ms should look at:
   a tenth of it, between 50 ms and one second. */
int
rfk_watchdog_period_for (int64_t limit_ms);

#ifdef __cplusplus
}
#endif

#endif
