/*  rfk_timer.c: the nearest-deadline helper and a set of one-shot timers.

    Timers are kept in a list sorted by deadline, so the nearest is the head
    and running the due ones stops at the first that is not due.
*/
#include "rfk_timer.h"

void
rfk_deadline_reset (rfk_deadline_t *self)
{
    assert (self);
    self->nearest = -1;
}

void
rfk_deadline_add (rfk_deadline_t *self, int64_t at)
{
    assert (self);
    if (at < 0)
        return;
    if (self->nearest < 0 || at < self->nearest)
        self->nearest = at;
}

int
rfk_deadline_timeout (const rfk_deadline_t *self)
{
    assert (self);
    if (self->nearest < 0)
        return -1;
    int64_t left = self->nearest - zclock_mono ();
    if (left <= 0)
        return 0;
    return left > INT32_MAX ? INT32_MAX : (int)left;
}

typedef struct {
    int id;           /* what rfk_timers_add returned */
    int64_t at;       /* when it is due, zclock_mono () ms */
    rfk_timer_fn *fn; /* what to call */
    void *arg;        /* the caller's argument, not owned */
} s_timer_t;

struct _rfk_timers_t {
    zlistx_t *timers; /* s_timer_t, owned, sorted by deadline */
    int next_id;      /* the id the next timer gets */
};

static void
s_timer_free (void **item_p)
{
    if (*item_p) {
        free (*item_p);
        *item_p = NULL;
    }
}

/*  Orders timers by deadline, then by id, so that timers due at the same
    time run in the order they were added. */
static int
s_timer_compare (const void *item1, const void *item2)
{
    const s_timer_t *timer1 = (const s_timer_t *)item1;
    const s_timer_t *timer2 = (const s_timer_t *)item2;
    if (timer1->at != timer2->at)
        return timer1->at < timer2->at ? -1 : 1;
    return timer1->id < timer2->id ? -1 : (timer1->id > timer2->id);
}

rfk_timers_t *
rfk_timers_new (void)
{
    rfk_timers_t *self = (rfk_timers_t *)zmalloc (sizeof (rfk_timers_t));
    if (!self)
        return NULL;
    self->timers = zlistx_new ();
    if (!self->timers) {
        free (self);
        return NULL;
    }
    zlistx_set_destructor (self->timers, s_timer_free);
    zlistx_set_comparator (self->timers, s_timer_compare);
    self->next_id = 1;
    return self;
}

void
rfk_timers_destroy (rfk_timers_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        rfk_timers_t *self = *self_p;
        zlistx_destroy (&self->timers);
        free (self);
        *self_p = NULL;
    }
}

int
rfk_timers_add (rfk_timers_t *self, int64_t delay_ms, rfk_timer_fn *fn, void *arg)
{
    assert (self);
    assert (fn);
    s_timer_t *timer = (s_timer_t *)zmalloc (sizeof (s_timer_t));
    if (!timer)
        return -1;
    timer->id = self->next_id++;
    if (self->next_id <= 0)
        self->next_id = 1;
    timer->at = zclock_mono () + (delay_ms > 0 ? delay_ms : 0);
    timer->fn = fn;
    timer->arg = arg;
    /*  Searching from the tail: new timers are usually due last. */
    if (!zlistx_insert (self->timers, timer, false)) {
        free (timer);
        return -1;
    }
    return timer->id;
}

int
rfk_timers_cancel (rfk_timers_t *self, int id)
{
    assert (self);
    s_timer_t *timer = (s_timer_t *)zlistx_first (self->timers);
    while (timer) {
        if (timer->id == id) {
            zlistx_delete (self->timers, zlistx_cursor (self->timers));
            return 0;
        }
        timer = (s_timer_t *)zlistx_next (self->timers);
    }
    return -1;
}

int64_t
rfk_timers_deadline (rfk_timers_t *self)
{
    assert (self);
    s_timer_t *timer = (s_timer_t *)zlistx_first (self->timers);
    return timer ? timer->at : -1;
}

int
rfk_timers_run (rfk_timers_t *self)
{
    assert (self);
    int ran = 0;
    int64_t now = zclock_mono ();
    s_timer_t *timer;
    while ((timer = (s_timer_t *)zlistx_first (self->timers)) && timer->at <= now) {
        s_timer_t due = *timer;
        /*  Remove before calling: the callback may add or cancel timers. */
        zlistx_delete (self->timers, zlistx_cursor (self->timers));
        due.fn (self, due.id, due.arg);
        ran++;
    }
    return ran;
}

size_t
rfk_timers_size (rfk_timers_t *self)
{
    assert (self);
    return zlistx_size (self->timers);
}
