/*  rfk_timer.h: deadlines and one-shot timers for an actor's poll loop.

    An actor never sleeps: the timeout of its poll is the time left until the
    nearest deadline among everything it waits for (heartbeats, request
    timeouts, batch windows, trial timeouts). rfk_deadline_t gathers those
    deadlines for one turn of the loop; rfk_timers_t is a set of one-shot timers
    whose nearest deadline goes into it and whose callbacks run once due.

    Times are zclock_mono () milliseconds; a deadline of -1 means "none".

        rfk_deadline_t deadline;
        rfk_deadline_reset (&deadline);
        rfk_deadline_add (&deadline, rfk_server_deadline (server));
        rfk_deadline_add (&deadline, rfk_timers_deadline (timers));
        void *which = zpoller_wait (poller, rfk_deadline_timeout (&deadline));
*/
#ifndef RFK_TIMER_H_INCLUDED
#define RFK_TIMER_H_INCLUDED

#include <czmq.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The nearest of a set of deadlines. */
typedef struct {
    int64_t nearest; /* the earliest deadline added, or -1 for none */
} rfk_deadline_t;

/* Forgets every deadline added. */
void
rfk_deadline_reset (rfk_deadline_t *self);
/* Adds a deadline (zclock_mono () ms); -1 is ignored. */
void
rfk_deadline_add (rfk_deadline_t *self, int64_t at);
/* Milliseconds from now until the nearest deadline, for zpoller_wait or
   zmq_poll: 0 when it has passed, -1 (wait forever) when there is none. */
int
rfk_deadline_timeout (const rfk_deadline_t *self);

typedef struct _rfk_timers_t rfk_timers_t;

/* Called once when a timer is due; the timer is gone by then. */
typedef void (rfk_timer_fn) (rfk_timers_t *timers, int id, void *arg);

rfk_timers_t *
rfk_timers_new (void);
void
rfk_timers_destroy (rfk_timers_t **self_p);
/* A one-shot timer due delay_ms from now; returns its id (> 0), or -1. */
int
rfk_timers_add (rfk_timers_t *self, int64_t delay_ms, rfk_timer_fn *fn, void *arg);
/* Cancels a timer that has not run yet; 0, or -1 if there is no such timer. */
int
rfk_timers_cancel (rfk_timers_t *self, int id);
/* The deadline of the nearest timer, or -1 when there is none. */
int64_t
rfk_timers_deadline (rfk_timers_t *self);
/* Runs every timer that is due; returns how many ran. A callback may add or
   cancel timers. */
int
rfk_timers_run (rfk_timers_t *self);
/* How many timers are waiting. */
size_t
rfk_timers_size (rfk_timers_t *self);

#ifdef __cplusplus
}
#endif

#endif
