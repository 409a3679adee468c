/*  test_rfk_heartbeat.c: peer liveness tables and ping schedules.

    Waits are polls bounded by the table's own deadlines; nothing sleeps.
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "rfk_heartbeat.h"
#include "rfk_timer.h"

typedef struct {
    char names[4][16]; /* peers expired, in order */
    int count;         /* how many expired */
} s_expired_t;

static void
s_expired (rfk_heartbeat_t *heartbeat, const char *peer, void *item, void *arg)
{
    (void)heartbeat;
    (void)item;
    s_expired_t *expired = (s_expired_t *)arg;
    if (expired->count < 4)
        snprintf (expired->names[expired->count], 16, "%s", peer);
    expired->count++;
}

/*  Waits for the table's next expiry deadline, refreshing `keep` every
    interval on the way, as a peer that keeps heartbeating would. */
static void
s_wait_expiry (rfk_heartbeat_t *heartbeat, const char *keep, s_expired_t *expired, int want,
               int64_t limit_ms)
{
    int64_t limit = zclock_mono () + limit_ms;
    while (expired->count < want && zclock_mono () < limit) {
        rfk_deadline_t deadline;
        rfk_deadline_reset (&deadline);
        rfk_deadline_add (&deadline, rfk_heartbeat_deadline (heartbeat));
        rfk_deadline_add (&deadline, rfk_heartbeat_ping_deadline (heartbeat));
        rfk_deadline_add (&deadline, limit);
        zmq_poll (NULL, 0, rfk_deadline_timeout (&deadline));
        if (rfk_heartbeat_ping_due (heartbeat) && keep)
            rfk_heartbeat_seen (heartbeat, keep);
        rfk_heartbeat_expire (heartbeat, s_expired, expired);
    }
}

/*  Usage: note each message from a peer; the peer that stops talking is
    expired after the timeout, the one that keeps talking stays. */
static void
test_silent_peer_expires (void **state)
{
    (void)state;
    rfk_heartbeat_t *heartbeat = rfk_heartbeat_new (20, 100);
    assert_non_null (heartbeat);
    int64_t start = zclock_mono ();
    assert_int_equal (rfk_heartbeat_seen (heartbeat, "talker"), 1);
    assert_int_equal (rfk_heartbeat_seen (heartbeat, "quiet"), 1);
    assert_int_equal (rfk_heartbeat_seen (heartbeat, "talker"), 0);
    assert_int_equal (rfk_heartbeat_size (heartbeat), 2);

    s_expired_t expired = {{{0}}, 0};
    s_wait_expiry (heartbeat, "talker", &expired, 1, 2000);
    int64_t took = zclock_mono () - start;
    assert_int_equal (expired.count, 1);
    assert_string_equal (expired.names[0], "quiet");
    assert_true (took >= 100);
    assert_true (took < 1000);
    assert_false (rfk_heartbeat_known (heartbeat, "quiet"));
    assert_true (rfk_heartbeat_known (heartbeat, "talker"));
    assert_true (rfk_heartbeat_silence (heartbeat, "talker") < 100);
    assert_int_equal (rfk_heartbeat_silence (heartbeat, "quiet"), -1);
    rfk_heartbeat_destroy (&heartbeat);
    rfk_heartbeat_destroy (&heartbeat);
}

static int s_freed = 0;

static void
s_free_item (void **item_p)
{
    free (*item_p);
    *item_p = NULL;
    s_freed++;
}

static void
test_items_are_freed_on_expiry_and_forget (void **state)
{
    (void)state;
    s_freed = 0;
    rfk_heartbeat_t *heartbeat = rfk_heartbeat_new (10, 30);
    rfk_heartbeat_set_destructor (heartbeat, s_free_item);
    rfk_heartbeat_seen (heartbeat, "a");
    rfk_heartbeat_seen (heartbeat, "b");
    rfk_heartbeat_seen (heartbeat, "c");
    assert_int_equal (rfk_heartbeat_set_item (heartbeat, "a", strdup ("work of a")), 0);
    assert_int_equal (rfk_heartbeat_set_item (heartbeat, "b", strdup ("work of b")), 0);
    assert_int_equal (rfk_heartbeat_set_item (heartbeat, "c", strdup ("work of c")), 0);
    assert_int_equal (rfk_heartbeat_set_item (heartbeat, "nobody", NULL), -1);
    assert_string_equal (rfk_heartbeat_item (heartbeat, "b"), "work of b");

    assert_int_equal (rfk_heartbeat_forget (heartbeat, "b"), 0);
    assert_int_equal (rfk_heartbeat_forget (heartbeat, "b"), -1);
    assert_int_equal (s_freed, 1);

    s_expired_t expired = {{{0}}, 0};
    s_wait_expiry (heartbeat, NULL, &expired, 2, 2000);
    assert_int_equal (expired.count, 2);
    assert_string_equal (expired.names[0], "a");
    assert_string_equal (expired.names[1], "c");
    assert_int_equal (s_freed, 3);
    assert_int_equal (rfk_heartbeat_size (heartbeat), 0);
    assert_int_equal (rfk_heartbeat_deadline (heartbeat), -1);

    rfk_heartbeat_seen (heartbeat, "d");
    rfk_heartbeat_set_item (heartbeat, "d", strdup ("work of d"));
    rfk_heartbeat_destroy (&heartbeat);
    assert_int_equal (s_freed, 4);
}

static void
test_pings_are_due_every_interval (void **state)
{
    (void)state;
    rfk_heartbeat_t *heartbeat = rfk_heartbeat_new (25, 1000);
    int64_t start = zclock_mono ();
    assert_false (rfk_heartbeat_ping_due (heartbeat));
    int pings = 0;
    while (pings < 3 && zclock_mono () - start < 2000) {
        rfk_deadline_t deadline;
        rfk_deadline_reset (&deadline);
        rfk_deadline_add (&deadline, rfk_heartbeat_ping_deadline (heartbeat));
        zmq_poll (NULL, 0, rfk_deadline_timeout (&deadline));
        if (rfk_heartbeat_ping_due (heartbeat))
            pings++;
    }
    assert_int_equal (pings, 3);
    assert_true (zclock_mono () - start >= 75);
    rfk_heartbeat_destroy (&heartbeat);
}

static void
test_nonsense_numbers_are_refused (void **state)
{
    (void)state;
    assert_null (rfk_heartbeat_new (0, 100));
    assert_null (rfk_heartbeat_new (100, -1));
}

int
main (void)
{
    zsys_set_logstream (stderr); /* stdout is for TAP */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_silent_peer_expires),
        cmocka_unit_test (test_items_are_freed_on_expiry_and_forget),
        cmocka_unit_test (test_pings_are_due_every_interval),
        cmocka_unit_test (test_nonsense_numbers_are_refused),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
