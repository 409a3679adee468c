/*  test_rfk_timer.c: poll deadlines and one-shot timers.

    Waits are polls whose timeout comes from the nearest deadline, as in an
    actor's loop; nothing sleeps.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "rfk_timer.h"

typedef struct {
    int order[8]; /* ids of timers in the order they ran */
    int count;    /* how many ran */
} s_log_t;

static void
s_note (rfk_timers_t *timers, int id, void *arg)
{
    (void)timers;
    s_log_t *log = (s_log_t *)arg;
    if (log->count < 8)
        log->order[log->count] = id;
    log->count++;
}

/*  Runs an actor-like loop with no sockets until the timers are spent or
    the limit passes. */
static void
s_loop (rfk_timers_t *timers, int64_t limit_ms)
{
    int64_t limit = zclock_mono () + limit_ms;
    while (rfk_timers_size (timers) > 0 && zclock_mono () < limit) {
        rfk_deadline_t deadline;
        rfk_deadline_reset (&deadline);
        rfk_deadline_add (&deadline, rfk_timers_deadline (timers));
        rfk_deadline_add (&deadline, limit);
        zmq_poll (NULL, 0, rfk_deadline_timeout (&deadline));
        rfk_timers_run (timers);
    }
}

/*  Usage: an actor adds timers, polls until the nearest one, runs what is
    due; timers run in deadline order, never early. */
static void
test_timers_run_in_deadline_order (void **state)
{
    (void)state;
    rfk_timers_t *timers = rfk_timers_new ();
    assert_non_null (timers);
    s_log_t log = {{0}, 0};
    int64_t start = zclock_mono ();
    int late = rfk_timers_add (timers, 60, s_note, &log);
    int64_t before = zclock_mono ();
    int early = rfk_timers_add (timers, 10, s_note, &log);
    int64_t after = zclock_mono ();
    int middle = rfk_timers_add (timers, 30, s_note, &log);
    assert_true (late > 0 && early > 0 && middle > 0);
    //  The nearest is the early one's (however long the machine took between
    //  the calls: bounds read around its own add, not a fixed slack).
    int64_t deadline = rfk_timers_deadline (timers);
    assert_true (deadline >= before + 10 && deadline <= after + 10);

    s_loop (timers, 2000);
    assert_int_equal (log.count, 3);
    assert_int_equal (log.order[0], early);
    assert_int_equal (log.order[1], middle);
    assert_int_equal (log.order[2], late);
    assert_true (zclock_mono () - start >= 60);
    assert_int_equal (rfk_timers_deadline (timers), -1);
    rfk_timers_destroy (&timers);
    rfk_timers_destroy (&timers);
    assert_null (timers);
}

static void
test_cancelled_timer_never_runs (void **state)
{
    (void)state;
    rfk_timers_t *timers = rfk_timers_new ();
    s_log_t log = {{0}, 0};
    int first = rfk_timers_add (timers, 5, s_note, &log);
    int second = rfk_timers_add (timers, 15, s_note, &log);
    assert_int_equal (rfk_timers_cancel (timers, first), 0);
    assert_int_equal (rfk_timers_cancel (timers, first), -1);
    s_loop (timers, 2000);
    assert_int_equal (log.count, 1);
    assert_int_equal (log.order[0], second);
    rfk_timers_destroy (&timers);
}

static void
test_same_deadline_runs_in_order_added (void **state)
{
    (void)state;
    rfk_timers_t *timers = rfk_timers_new ();
    s_log_t log = {{0}, 0};
    int ids[4];
    for (int i = 0; i < 4; i++)
        ids[i] = rfk_timers_add (timers, 0, s_note, &log);
    assert_int_equal (rfk_timers_run (timers), 4);
    for (int i = 0; i < 4; i++)
        assert_int_equal (log.order[i], ids[i]);
    rfk_timers_destroy (&timers);
}

/*  A callback that re-arms itself, as a periodic batch window would. */
static void
s_rearm (rfk_timers_t *timers, int id, void *arg)
{
    (void)id;
    int *left = (int *)arg;
    if (--*left > 0)
        rfk_timers_add (timers, 5, s_rearm, arg);
}

static void
test_callback_may_add_timers (void **state)
{
    (void)state;
    rfk_timers_t *timers = rfk_timers_new ();
    int left = 3;
    rfk_timers_add (timers, 5, s_rearm, &left);
    s_loop (timers, 2000);
    assert_int_equal (left, 0);
    assert_int_equal (rfk_timers_size (timers), 0);
    rfk_timers_destroy (&timers);
}

static void
test_deadline_timeout (void **state)
{
    (void)state;
    rfk_deadline_t deadline;
    rfk_deadline_reset (&deadline);
    assert_int_equal (rfk_deadline_timeout (&deadline), -1);
    rfk_deadline_add (&deadline, -1);
    assert_int_equal (rfk_deadline_timeout (&deadline), -1);
    int64_t now = zclock_mono ();
    rfk_deadline_add (&deadline, now + 10000);
    rfk_deadline_add (&deadline, now + 500);
    rfk_deadline_add (&deadline, now + 900);
    int timeout = rfk_deadline_timeout (&deadline);
    assert_true (timeout > 400 && timeout <= 500);
    rfk_deadline_add (&deadline, now - 100);
    assert_int_equal (rfk_deadline_timeout (&deadline), 0);
}

int
main (void)
{
    zsys_set_logstream (stderr); /* stdout is for TAP */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_timers_run_in_deadline_order),
        cmocka_unit_test (test_cancelled_timer_never_runs),
        cmocka_unit_test (test_same_deadline_runs_in_order_added),
        cmocka_unit_test (test_callback_may_add_timers),
        cmocka_unit_test (test_deadline_timeout),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
